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

.PHONY: all build test vet unit check-examples man check-man fuzz fuzz-long bench bench-burst bench-responder bench-scale demo ci-fresh clean deb deb-test deb-systemd-test kernel-test interop-docker bench-initiator

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/iked ./cmd/iked
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ikectl ./cmd/ikectl
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ikeload ./cmd/ikeload

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

unit:
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

# make test: vet, every test, the examples and man pages, then each fuzz
# target briefly on its corpus.
test: vet unit check-examples check-man fuzz

# check-examples: every policy in examples/ passes `iked -check`. git keeps no
# file modes but the executable bit, and iked refuses key and PSK files, and
# policy files holding a psk, that others can read, so they are made
# owner-only first, as a user would.
check-examples: build
	chmod 600 examples/certs/*.key examples/secrets/* examples/*.yaml
	@set -e; for f in examples/*.yaml; do echo "iked -check -config $$f"; ./$(BIN)/iked -check -config $$f; done

# man: the man pages iked(8), ikectl(8) and iked.yaml(5) from docs/man/*.md
# into $(MANDIR), with go-md2man (pinned in go.mod as a tool);
# scripts/man.sh fails when groff or man warns about one (Debian packages
# groff-base and man-db). check-man is the same, for make test.
MANDIR     ?= $(BIN)/man
man:
	GO=$(GO) ./scripts/man.sh $(MANDIR)

check-man: man

# fuzz runs every native fuzz target of the module for FUZZTIME each; the
# targets are discovered, not listed, so a new one is fuzzed at once.
fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME)

# fuzz-long: each target for 60 s (the issue's acceptance run).
fuzz-long:
	$(MAKE) fuzz FUZZTIME=60s

# bench: scripts/bench.sh, the phase 1, Quick Mode, daemon and engine
# benchmarks -count 5 -benchmem and a summary (benchstat if installed);
# IKED_BENCH=1 adds charon-vs-iked against charon-vs-charon (root, strongSwan).
bench:
	GO=$(GO) ./scripts/bench.sh

# bench-burst: scripts/bench-burst.sh, strongSwan starting N=1000 ISAKMP
# SAs at once from one address against iked (defaults, then limits
# lifted) and against strongSwan as responder; the time to all
# established. Root and strongSwan; N, DEADLINE, RESPONDERS vary it.
bench-burst:
	GO=$(GO) ./scripts/bench-burst.sh

# bench-responder: strongSwan and iked as responders to the same ikeload
# run (scripts/bench-responder.sh; root, strongSwan): SA pairs/s, the
# responder's CPU per pair and RSS, side by side (docs/performance.md).
# N, C, SOURCES, RUNS, BENCH_GROUPS and RESPONDERS tune it.
bench-responder:
	BIN=$(BIN) GO=$(GO) ./scripts/bench-responder.sh

# bench-scale: iked holding N=20000 SA pairs from ikeload (RSS, ikectl
# list-sas and status times, the Deletes at the end), and legitimate
# handshake latency with and without 4,096 half-open SAs
# (scripts/bench-scale.sh; root). N=100000 for the issue's scale.
bench-scale:
	BIN=$(BIN) GO=$(GO) ./scripts/bench-scale.sh

# bench-initiator: iked (`initiate: start`) and strongSwan (swanctl,
# start_action = start) each initiating N=10000 connections at once to the
# same responder (strongSwan by default); the time to all IPsec SAs up and
# the initiator's CPU (scripts/bench-initiator.sh; root, strongSwan with
# kernel-libipsec). N, GROUP, INITIATORS, RESPONDER vary it.
bench-initiator:
	BIN=$(BIN) GO=$(GO) ./scripts/bench-initiator.sh

# demo: iked and strongSwan negotiating IKEv1 in two network namespaces
# (scripts/demo.sh): installs what it runs if missing (strongSwan, iproute2,
# ike-scan, and ca-certificates for Go's module downloads), builds iked and
# ikectl, strongSwan initiates, then iked (ikectl initiate), both sides
# print their SAs, all cleaned up.
demo:
	BIN=$(BIN) BUILD=1 GO=$(GO) LDFLAGS='$(LDFLAGS)' DEMO_PREFIX=$(DEMO_NS) ./scripts/demo.sh

# ci-fresh: .ci/run in a bare Debian 12 root (debootstrap minbase, cached),
# then `make demo` in another; root. Run it before calling work done.
ci-fresh:
	./scripts/ci-fresh.sh

# deb: bin/iked_VERSION_amd64.deb (scripts/deb.sh, dpkg-deb): both binaries,
# the systemd unit dist/iked.service, the man pages, /etc/iked/iked.yaml as
# a conffile, the system user iked. deb-test installs it with dpkg in a bare
# Debian 12 root and removes it again (scripts/deb-test.sh; root, chroot,
# the cached minbase tarball or debootstrap; lintian when installed).
deb:
	GO=$(GO) ./scripts/deb.sh $(BIN)

deb-test:
	deb=$$(GO=$(GO) ./scripts/deb.sh $(BIN)) && ./scripts/deb-test.sh "$$deb"

# deb-systemd-test: the package under systemd 252 booted in systemd-nspawn
# (scripts/deb-systemd-test.sh): notify, user and capabilities, watchdog,
# reload, journal fields, stop. Root, systemd-container, Debian's mirror.
deb-systemd-test:
	deb=$$(GO=$(GO) ./scripts/deb.sh $(BIN)) && ./scripts/deb-systemd-test.sh "$$deb"

# kernel-test: iked's SAs carrying traffic in a real Linux kernel with ESP,
# AH and IPComp: scripts/kernel-test.sh boots Debian's kernel in qemu (root,
# the Debian packages in scripts/kernel-test.deps), runs the xfrm engine's
# tests and the interop package's TestKernel scenarios inside it and prints
# one line per scenario; logs and captures in $(BIN)/kernel-test/logs.
kernel-test:
	GO=$(GO) KT_OUT=$(CURDIR)/$(BIN)/kernel-test ./scripts/kernel-test.sh

# interop-docker: iked against strongSwan and libreswan in Docker containers
# (scripts/interop-docker.sh, interop/README.md): the images built from
# Debian's packages with no registry (debootstrap minbase, docker import;
# iked FROM scratch), every compose setup of interop/docker/cases in both
# roles, SAs and keys checked on both sides, a table; nothing left in
# Docker but the cached images. Root, a Docker engine with compose.
# IKED_DOCKER_CASES=rw-vpnc,rw-charon runs only the cases matching.
interop-docker:
	GO=$(GO) IKED_DOCKER_OUT=$(CURDIR)/$(BIN)/interop-docker IKED_DOCKER_CASES="$(IKED_DOCKER_CASES)" ./scripts/interop-docker.sh

clean:
	rm -rf $(BIN)
