package engine_test

import (
	"testing"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
)

// BenchmarkEngineRoundTrip measures Submit to Event through the worker on
// the memory backend: the engine's own overhead per request.
func BenchmarkEngineRoundTrip(b *testing.B) {
	e, _, _ := open(b, memory.Options{})
	r := &engine.RemovePolicies{Token: 1} // no work in the backend
	for b.Loop() {
		if e.Submit(r) != nil {
			b.Fatal("dropped")
		}
		<-e.Events()
	}
}

// BenchmarkEngineAllocInstallDelete measures a whole SA life on the memory
// backend: SPI, install of a two-SA bundle, delete.
func BenchmarkEngineAllocInstallDelete(b *testing.B) {
	e, _, _ := open(b, memory.Options{})
	for b.Loop() {
		e.Submit(&engine.AllocSPI{Token: 1, Protocol: engine.ProtoESP, Src: gwB, Dst: gwA})
		ev := <-e.Events()
		bd := espBundle(1, ev.SPI, ev.SPI)
		e.Submit(&engine.Install{Token: 2, Bundle: bd})
		if ev := <-e.Events(); ev.Kind != engine.EventInstalled {
			b.Fatal(ev)
		}
		e.Submit(&engine.Delete{Token: 3, SAs: bd.Refs()})
		<-e.Events()
	}
}
