// Package testbroker gives tests the RabbitMQ and NATS JetStream of this
// machine: it finds each server once, and hands each test queue and stream
// names of its own, deleted when the test ends.
//
// The servers are BIZEVENTS_TEST_AMQP (default amqp://guest:guest@127.0.0.1:5672/)
// and BIZEVENTS_TEST_NATS (default nats://127.0.0.1:4222, with JetStream).
// When one cannot be reached the test is skipped, except with CI=true,
// where it fails: in CI an integration test never skips.
package testbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Default server URLs when the environment names none.
const (
	DefaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultNATSURL = "nats://127.0.0.1:4222"
)

// namePrefix marks the queues and streams tests make, so that a sweep can
// find leftovers of crashed runs.
const namePrefix = "bizevents_t_"

// staleAfter is how old a test stream must be before a sweep deletes it.
const staleAfter = time.Hour

type found struct {
	once sync.Once
	url  string
	err  error
}

var amqpServer, natsServer found

// AMQPURL returns the URL of the test RabbitMQ. It skips t when the
// server is unreachable, or fails it when CI=true.
func AMQPURL(t testing.TB) string {
	t.Helper()
	amqpServer.once.Do(func() {
		amqpServer.url = env("BIZEVENTS_TEST_AMQP", DefaultAMQPURL)
		amqpServer.err = pingAMQP(amqpServer.url)
	})
	return need(t, "RabbitMQ", "BIZEVENTS_TEST_AMQP", &amqpServer)
}

// NATSURL returns the URL of the test NATS server, with JetStream, after
// deleting the test streams that crashed runs left. It skips t when the
// server is unreachable, or fails it when CI=true.
func NATSURL(t testing.TB) string {
	t.Helper()
	natsServer.once.Do(func() {
		natsServer.url = env("BIZEVENTS_TEST_NATS", DefaultNATSURL)
		natsServer.err = prepareNATS(natsServer.url)
	})
	return need(t, "NATS JetStream", "BIZEVENTS_TEST_NATS", &natsServer)
}

func need(t testing.TB, what, variable string, f *found) string {
	t.Helper()
	if f.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", what, f.err)
		}
		t.Skipf("%s not available (set %s): %v", what, variable, f.err)
	}
	return f.url
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Name returns a new name for t's queue or stream: the test's name, a
// random suffix and the time, usable as a queue, stream and subject token
// (letters, digits, _ and -).
func Name(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%d_%s_%s", namePrefix, time.Now().Unix(), hex.EncodeToString(b[:]), cleanName(t.Name()))
}

// Queue returns a new queue name for t (not declared: the code under test
// may declare it) and deletes the queue, with its messages, when t ends.
func Queue(t testing.TB) string {
	t.Helper()
	url := AMQPURL(t)
	name := Name(t)
	t.Cleanup(func() {
		conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(10 * time.Second)})
		if err != nil {
			t.Errorf("delete queue %s: %v", name, err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Errorf("delete queue %s: %v", name, err)
			return
		}
		defer ch.Close()
		if _, err := ch.QueueDelete(name, false, false, false); err != nil && !isAMQPNotFound(err) {
			t.Errorf("delete queue %s: %v", name, err)
		}
	})
	return name
}

// Stream returns a new stream name for t (not created: the code under
// test may create it) and deletes the stream when t ends.
func Stream(t testing.TB) string {
	t.Helper()
	url := NATSURL(t)
	name := Name(t)
	t.Cleanup(func() {
		nc, err := nats.Connect(url, nats.Timeout(10*time.Second))
		if err != nil {
			t.Errorf("delete stream %s: %v", name, err)
			return
		}
		defer nc.Close()
		js, err := nc.JetStream()
		if err != nil {
			t.Errorf("delete stream %s: %v", name, err)
			return
		}
		if err := js.DeleteStream(name); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	return name
}

func isAMQPNotFound(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.NotFound
}

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

func cleanName(s string) string {
	s = strings.Trim(nonWord.ReplaceAllString(s, "_"), "_")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return s
}

func pingAMQP(url string) error {
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return conn.Close()
}

// prepareNATS checks that the server answers with JetStream and deletes
// stale test streams.
func prepareNATS(url string) error {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(nats.Context(ctx)); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	for name := range js.StreamNames(nats.Context(ctx)) {
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok {
			continue
		}
		stamp, _, _ := strings.Cut(rest, "_")
		created, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil || time.Since(time.Unix(created, 0)) < staleAfter {
			continue
		}
		if err := js.DeleteStream(name, nats.Context(ctx)); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
			return fmt.Errorf("delete stale stream %s: %w", name, err)
		}
	}
	return nil
}
