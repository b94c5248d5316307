# CC-TSA: one Makefile for the whole Go workspace (go test ./... does not
# span workspace modules).
#
#   make dev     build cc-tsa and start a local TSA on http://127.0.0.1:8318/
#   make test    vet and test every module, end-to-end tests included
#   make fuzz    run every fuzz target for FUZZTIME each

MODULES  := cvm dkg timesync wrapper infra cmd test
GO       ?= go
FUZZTIME ?= 30s
BIN      := bin/cc-tsa

.PHONY: all build dev test vet fmt-check fuzz clean

all: build

build:
	cd cmd && $(GO) build -trimpath -o ../$(BIN) ./cc-tsa

dev: build
	./$(BIN) dev

fmt-check:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Modules without packages yet (infra) are skipped: go vet refuses them.
vet:
	@set -e; for m in $(MODULES); do \
	  if [ -z "$$(cd $$m && $(GO) list ./... 2>/dev/null)" ]; then echo "== $$m: no packages"; continue; fi; \
	  echo "== go vet ($$m)"; (cd $$m && $(GO) vet ./... && $(GO) vet -tags ccfault ./...); done

test: fmt-check vet
	@set -e; for m in $(MODULES); do \
	  if [ -z "$$(cd $$m && $(GO) list ./... 2>/dev/null)" ]; then continue; fi; \
	  echo "== go test ($$m)"; (cd $$m && $(GO) test -count=1 -tags ccfault $(TESTFLAGS) ./...); done

fuzz:
	@scripts/fuzz-all $(FUZZTIME)

clean:
	rm -rf bin .cc-tsa-dev
