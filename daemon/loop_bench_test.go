package daemon

import (
	"io"
	"net/netip"
	"runtime"
	"testing"

	"github.com/iked/iked/control"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

// benchJunk is datagrams a scan or a flood sends that the daemon drops at
// its cheap checks (RFC 2408, 3.1 header fields, then the SA lookup),
// before any handler, any state or any cryptography.
func benchJunk() []struct {
	name string
	data []byte
	want Drop
} {
	good := message(cookie(7), cookie(9), isakmp.ExchangeMain, 0, []byte("opaque body"))
	badVersion := append([]byte(nil), good...)
	badVersion[17] = 0x20 // IKEv2
	badLength := append(append([]byte(nil), good...), 0)
	return []struct {
		name string
		data []byte
		want Drop
	}{
		{"short", good[:20], DropShort},
		{"bad-version", badVersion, DropVersion},
		{"bad-length", badLength, DropLength},
		{"zero-cookie", message([8]byte{}, [8]byte{}, isakmp.ExchangeMain, 0, []byte("x")), DropZeroCookie},
		{"no-sa", good, DropNoSA},
	}
}

// BenchmarkInspect is the cheap checks alone (inspect, on the reader's
// goroutine): what one junk datagram costs before it reaches the loop.
func BenchmarkInspect(b *testing.B) {
	for _, j := range benchJunk() {
		b.Run(j.name, func(b *testing.B) {
			d := New(Options{})
			b.ReportAllocs()
			for b.Loop() {
				d.inspect(Datagram{Data: j.data, Remote: netip.AddrPortFrom(peerAddr, 500)}, false)
			}
		})
	}
}

// BenchmarkLoopJunk sends junk through a running daemon on the in-memory
// network (daemontest.Net: reader goroutine, cheap checks, event loop, drop
// counter) with the log at info, as a default daemon runs, and reports
// datagrams/s. At most window datagrams are in flight so that the network's
// 1024-datagram queue never drops one: every datagram sent is counted as
// the drop it should be, or the benchmark fails. It runs in real time,
// not in a synctest bubble, so the figure includes goroutine hand-offs.
func BenchmarkLoopJunk(b *testing.B) {
	const window = 512
	for _, j := range benchJunk() {
		b.Run(j.name, func(b *testing.B) {
			s := testSettings()
			s.RateBurst, s.HalfOpenMax = 1<<20, 1<<20
			lg, err := notify.NewLogger(notify.LogConfig{Level: "info"}, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			h := startHarness(b, Options{
				ConfigFile: "bench.yaml",
				Load: func(string) (*Loaded, []notify.Message, error) {
					return &Loaded{File: "bench.yaml", Settings: s, Conns: []control.Conn{{Name: "c1"}}}, nil, nil
				},
				Log:     lg,
				Workers: 2,
			}, func(d *Daemon) { d.Register(isakmp.ExchangeMain, &echoHandler{}) })
			d, peer := h.d, h.peer
			to := netip.AddrPortFrom(ourAddr, 500)
			c := &d.Counters
			wait := func(n uint64) {
				for c.Dropped(j.want) < n {
					if c.DroppedTotal() > c.Dropped(j.want) {
						b.Fatalf("dropped for another reason: want %s only", j.want)
					}
					runtime.Gosched()
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			var sent uint64
			for b.Loop() {
				if sent >= window {
					wait(sent - window + 1)
				}
				if err := peer.WriteDatagram(Datagram{Data: j.data, Remote: to}); err != nil {
					b.Fatal(err)
				}
				sent++
			}
			wait(sent)
			b.StopTimer()
			if c.Datagrams.Load() != sent || c.Dropped(j.want) != sent {
				b.Fatalf("sent %d, read %d, dropped as %s %d", sent, c.Datagrams.Load(), j.want, c.Dropped(j.want))
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "datagrams/s")
		})
	}
}
