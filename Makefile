# iked: build, test, demo. Every target works on a fresh Debian 12 machine
# with Go at /usr/local/go and the packages .ci/run installs; the tests that
# need root or strongSwan skip without them.

SHELL      := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO         ?= go
VERSION    ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -X main.version=$(VERSION)
BIN        := bin
# The whole suite on 2 cores takes a few minutes; the timeout is a guard.
TEST_TIMEOUT ?= 15m
FUZZTIME   ?= 5s
# Namespace of `make demo`: the h7 prefix keeps it apart from test namespaces.
DEMO_NS    ?= h7-demo

.PHONY: all build test vet unit fuzz fuzz-long bench demo clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/iked ./cmd/iked
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ikectl ./cmd/ikectl

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

unit:
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

# make test: vet, every test, then each fuzz target briefly on its corpus.
test: vet unit fuzz

# fuzz runs every native fuzz target of the module for FUZZTIME each; the
# targets are discovered, not listed, so a new one is fuzzed at once.
fuzz:
	@set -euo pipefail; \
	list=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ {n[++c] = $$1; next} /^ok/ {for (i = 1; i <= c; i++) print $$2, n[i]; c = 0}'); \
	out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	while read -r pkg name; do \
		[ -n "$$name" ] || continue; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg" > $$out 2>&1 || { cat $$out; exit 1; }; \
	done <<< "$$list"

# fuzz-long: each target for 60 s (the issue's acceptance run).
fuzz-long:
	$(MAKE) fuzz FUZZTIME=60s

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# demo: start iked on examples/iked.yaml in a network namespace of its own
# and show that it listens; the daemon is stopped (SIGTERM) at the end and
# its log printed.
demo: build
	@set -euo pipefail; \
	if [ "$$(id -u)" != 0 ]; then echo "make demo needs root (network namespaces, port 500)"; exit 1; fi; \
	ns=$(DEMO_NS); dir=$$(mktemp -d /tmp/iked-demo.XXXXXX); sock=$$dir/iked.sock; conf=$$dir/iked.yaml; pid=; \
	cleanup() { [ -n "$$pid" ] && kill -TERM $$pid 2>/dev/null && wait $$pid || true; ip netns del $$ns 2>/dev/null || true; \
		echo "--- daemon log ---"; cat $$dir/log 2>/dev/null || true; rm -rf $$dir; }; \
	trap cleanup EXIT; \
	cp -r examples/. $$dir/; \
	sed -i "/^ *control-socket:/d; s|^daemon:.*|daemon:\n  control-socket: $$sock|" $$conf; \
	./$(BIN)/iked -check -config $$conf; \
	ip netns del $$ns 2>/dev/null || true; ip netns add $$ns; ip -n $$ns link set lo up; \
	ip netns exec $$ns ./$(BIN)/iked -config $$conf > $$dir/log 2>&1 & pid=$$!; \
	for i in $$(seq 50); do [ -S $$sock ] && break; sleep 0.1; done; \
	echo "--- iked in namespace $$ns: ss -ulpn ---"; ip netns exec $$ns ss -ulpn; \
	echo "--- ikectl status ---"; ./$(BIN)/ikectl -socket $$sock status; \
	echo "--- ikectl list-conns ---"; ./$(BIN)/ikectl -socket $$sock list-conns

clean:
	rm -rf $(BIN)
