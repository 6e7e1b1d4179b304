//go:build pprof

package main

// Built with -tags pprof, iked serves Go's profiles (net/http/pprof) on
// the address in IKED_PPROF (e.g. 127.0.0.1:6060), for profiling the
// daemon under load (docs/performance.md). Ordinary builds have no such
// listener.

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("IKED_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
