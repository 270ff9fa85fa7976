// Command thankyou is the Contoso example's "thank you" service: a small
// HTTP receiver standing in for the system that thanks a customer (an
// email or an SMS in real life). The contoso_purchase_totals flow POSTs
// it a JSON body per recorded purchase; it prints one line per thank-you
// and answers 200.
//
//	go run ./examples/contoso/thankyou                # listens on 127.0.0.1:8089
//	go run ./examples/contoso/thankyou -addr :9000
//
// `make run` starts it in the background and points the flow at it with
// CONTOSO_THANKS_URL=http://127.0.0.1:8089/thanks.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// DefaultAddr is where the receiver listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8089"

// thanks is the body the flow sends; see examples/contoso/flows.yaml.
type thanks struct {
	Customer   string          `json:"customer"`
	AccountID  string          `json:"accountId"`
	Amount     json.Number     `json:"amount"`
	Currency   string          `json:"currency"`
	StoreID    string          `json:"storeId"`
	TotalSpent json.Number     `json:"totalSpent"`
	Purchase   json.RawMessage `json:"purchase,omitempty"`
}

// handler prints each thank-you to out, one line each.
func handler(out io.Writer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /thanks", func(w http.ResponseWriter, r *http.Request) {
		var t thanks
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.UseNumber()
		if err := dec.Decode(&t); err != nil {
			http.Error(w, "want a JSON object: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(out, "thank you, %s, for your purchase of %s %s in %s (total spent %s; run %s)\n",
			t.Customer, t.Amount, t.Currency, t.StoreID, t.TotalSpent, r.Header.Get("Idempotency-Key"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"thanked":true}`+"\n")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

func main() {
	addr := flag.String("addr", DefaultAddr, "`host:port` to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		log.Fatalf("thankyou: %v", err)
	}
	srv := &http.Server{Handler: handler(os.Stdout), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "thankyou: listening on http://%s/thanks\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("thankyou: %v", err)
	}
}
