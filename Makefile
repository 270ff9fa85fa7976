# bizevents: the two commands a fresh machine needs are `make run` and `make test`.
GO        ?= go
BIN       := bin/bizevents
PKGS      := ./...
BENCHTIME ?= 2s

.PHONY: all build run test check services toolchain bench clean

all: build

build:
	$(GO) build -ldflags "-X main.sourceDir=$(CURDIR)" -o $(BIN) ./cmd/bizevents

## run: serve the Contoso example on the embedded SQLite default (bizevents.db
## here): builds its plugin and thank-you receiver from source, starts the
## receiver in the background, prints how to send the first event.
run: build
	scripts/run.sh

## services: start what the tests need (PostgreSQL) when it is not running.
services:
	scripts/services.sh postgres rabbitmq nats

## toolchain: install clang, wasm-ld and wasi-libc (C plugins) when missing.
toolchain:
	scripts/toolchain.sh

## check: formatting and vet, no services needed.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## test: start services, check, run every test with the race detector, and
## every benchmark once so none rots.
test: services toolchain check
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(GO) test -run '^$$' -bench . -benchtime=1x -timeout 20m $(PKGS)

## bench: the benchmarks at full size, with each eventlog/baseline ratio.
bench: services
	BIZEVENTS_BENCH_FULL=1 $(GO) test -p 1 -count=1 -run '^$$' -bench . -benchtime=$(BENCHTIME) -timeout 60m ./... \
		| awk -f scripts/benchratio.awk

clean:
	rm -rf bin
