#!/usr/bin/env bash
# scripts/run.sh: what `make run` does after building bin/bizevents. It
# builds the Contoso example's plugin and thank-you receiver from source,
# starts the receiver in the background, serves examples/contoso on the
# embedded SQLite default (bizevents.db here) and prints how to send the
# first event. Ctrl-C stops both.
#
# Environment: BIZEVENTS_ADDR (default 127.0.0.1:8080), CONTOSO_THANKS_ADDR
# (default 127.0.0.1:8089), BIZEVENTS_DB (default bizevents.db),
# CONTOSO_ERP_AMQP_URL (the ERP's RabbitMQ; unset: the input is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=bin/bizevents
ADDR=${BIZEVENTS_ADDR:-127.0.0.1:8080}
THANKS_ADDR=${CONTOSO_THANKS_ADDR:-127.0.0.1:8089}
DB=${BIZEVENTS_DB:-bizevents.db}
EXAMPLE=examples/contoso
# The demo account the printed curl line buys for (the README's id).
ACCOUNT=7a1e2f4c-2b1d-4c55-9a0e-3f1f0c9d2b11

"$BIN" plugin build "$EXAMPLE/plugins/validate_purchase" -o "$EXAMPLE/modules/contoso_pos_validation.wasm" >&2
go build -o bin/contoso-thankyou "./$EXAMPLE/thankyou"

pids=()
cleanup() {
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM # Ctrl-C is how make run ends

bin/contoso-thankyou -addr "$THANKS_ADDR" &
pids+=($!)

export CONTOSO_THANKS_URL="http://$THANKS_ADDR/thanks"
"$BIN" serve --db "$DB" --addr "$ADDR" --solution "$EXAMPLE" &
serve=$!
pids+=("$serve")

# Wait until serve answers (or stops).
for _ in $(seq 300); do
	curl -fs "http://$ADDR/healthz" >/dev/null 2>&1 && break
	kill -0 "$serve" 2>/dev/null || { wait "$serve"; exit $?; }
	sleep 0.1
done
KEY=$(cat "$DB.apikey" 2>/dev/null || echo "${BIZEVENTS_API_KEY:-}")
API="http://$ADDR/api/data/v9.2"
auth=(-H "Authorization: Bearer $KEY")

# The demo customer, made once.
if [ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$API/accounts($ACCOUNT)")" = 404 ]; then
	curl -fs -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -X POST "$API/accounts" \
		-d '{"accountid":"'$ACCOUNT'","name":"Fourth Coffee","accountnumber":"FC-001"}'
fi

cat >&2 <<MSG

bizevents is serving examples/contoso on http://$ADDR ($DB); the thank-you receiver
prints each thank-you below. Send the first purchase of Fourth Coffee (account $ACCOUNT):

  curl -si -X POST $API/contoso_CustomerPurchase -H 'Authorization: Bearer $KEY' -H 'Content-Type: application/json' -d '{"CustomerId":"$ACCOUNT","Amount":19.90,"Currency":"EUR","PurchasedOn":"2026-11-25T10:00:00Z","StoreId":"oslo-1"}'

Then: bin/bizevents flows runs contoso_purchase_totals, bin/bizevents log read; examples/README.md
walks you through the rest. Ctrl-C stops.

MSG
wait "$serve"
