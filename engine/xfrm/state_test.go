//go:build linux

package xfrm

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iked/iked/engine"
)

var (
	gw1 = netip.MustParseAddr("192.0.2.1")
	gw2 = netip.MustParseAddr("192.0.2.2")
)

func TestAllocSPIRange(t *testing.T) {
	ns, h := testNS(t)
	b := openIn(t, h)
	seen := map[uint32]bool{}
	for _, tc := range []struct {
		p        engine.Protocol
		min, max uint32
	}{
		{engine.ProtoESP, 0x1000, 0x10ff},
		{engine.ProtoESP, 0x1000, 0x10ff},
		{engine.ProtoAH, 0, 0},
		{engine.ProtoIPComp, 0x200, 0x2ff},
	} {
		spi, err := b.AllocSPI(&engine.AllocSPI{Protocol: tc.p, Src: gw2, Dst: gw1, Min: tc.min, Max: tc.max, ReqID: 3})
		if err != nil {
			t.Fatalf("%s: %v", tc.p, err)
		}
		lo, hi := max(tc.min, 256), tc.max
		if hi == 0 {
			hi = 0xffffffff
		}
		if spi < lo || spi > hi || seen[spi] {
			t.Fatalf("%s: SPI 0x%x outside 0x%x-0x%x or repeated", tc.p, spi, lo, hi)
		}
		seen[spi] = true
		// The kernel holds the larval SA with exactly that SPI.
		out := run(t, "ip", "-n", ns, "xfrm", "state")
		proto := map[engine.Protocol]string{engine.ProtoESP: "esp", engine.ProtoAH: "ah", engine.ProtoIPComp: "comp"}[tc.p]
		if want := fmt.Sprintf("proto %s spi 0x%08x reqid 1761607683", proto, spi); !strings.Contains(out, want) {
			t.Fatalf("ip xfrm state lacks %q:\n%s", want, out)
		}
	}
	// A one-SPI range, taken, cannot be allocated again.
	spi, err := b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: gw2, Dst: gw1, Min: 0x5000, Max: 0x5000})
	if err != nil || spi != 0x5000 {
		t.Fatalf("one-SPI range: 0x%x %v", spi, err)
	}
	if _, err := b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoIPComp, Src: gw2, Dst: gw1, Min: 0x100, Max: 0x10000}); err == nil {
		t.Fatal("CPI range above 16 bits accepted")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "ip", "-n", ns, "xfrm", "state"); out != "" {
		t.Fatalf("flush left states:\n%s", out)
	}
	// The SPI taken again: the kernel refuses (ENOENT, "No SPI available in
	// the requested range"), and keeps an SPI-less larval SA of its own,
	// with our reqid; the flush removes it too (dropAcquire in spi.go).
	if _, err := b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: gw2, Dst: gw1, Min: 0x5000, Max: 0x5000}); err != nil {
		t.Fatal(err)
	}
	_, err = b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: gw2, Dst: gw1, Min: 0x5000, Max: 0x5000})
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("taken SPI allocated twice: %v", err)
	}
	t.Log(err)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	out := run(t, "ip", "-n", ns, "xfrm", "state")
	if out != "" {
		t.Fatalf("after a failed ALLOCSPI and a flush:\n%s", out)
	}
}

func espSA(spi uint32, seed byte) engine.SA {
	return engine.SA{Protocol: engine.ProtoESP, SPI: spi,
		Encryption: &engine.Cipher{Name: "cbc(aes)", Key: engine.Key(bytes.Repeat([]byte{seed}, 16))},
		Integrity:  &engine.Integrity{Name: "hmac(sha256)", Key: engine.Key(bytes.Repeat([]byte{seed + 1}, 32)), TruncBits: 128}}
}

// TestInstallESP installs a bundle whose inbound SPI came from ALLOCSPI,
// next to the connection's policies. On this project's kernels (no
// CONFIG_INET_ESP) it must fail with EPROTONOSUPPORT and leave no state,
// not even the SPI reservation, while the policies stay as they were; on a
// kernel with ESP the SAs must be there and go away with Delete.
func TestInstallESP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v6=%v", v6), func(t *testing.T) {
			ns, h := testNS(t)
			b := openIn(t, h)
			l, r := gw1, gw2
			sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
			if v6 {
				l, r = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
				sel = engine.Selector{Local: netip.MustParsePrefix("2001:db8:1::/48"), Remote: netip.MustParsePrefix("2001:db8:2::/48")}
			}
			ps := engine.PoliciesFor(sel, engine.ModeTunnel, l, r, []engine.Protocol{engine.ProtoESP}, 9)
			if err := b.InstallPolicies(ps); err != nil {
				t.Fatal(err)
			}
			policiesBefore := run(t, "ip", "-n", ns, "xfrm", "policy")

			spi, err := b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: r, Dst: l, ReqID: 9})
			if err != nil {
				t.Fatal(err)
			}
			// list-sas's byte counters, asked per SA (Bytes) and taken in
			// one dump (ByteCounts): the larval SA has one, an SPI the
			// kernel does not have none.
			larval := engine.SARef{Protocol: engine.ProtoESP, SPI: spi, Src: r, Dst: l}
			unknown := engine.SARef{Protocol: engine.ProtoESP, SPI: spi ^ 1, Src: r, Dst: l}
			counts, err := b.ByteCounts()
			if err != nil {
				t.Fatal(err)
			}
			for name, count := range map[string]func(engine.SARef) (uint64, bool){"Bytes": b.Bytes, "ByteCounts": counts} {
				if n, ok := count(larval); !ok || n != 0 {
					t.Fatalf("%s of the larval SA: %d, %v", name, n, ok)
				}
				if _, ok := count(unknown); ok {
					t.Fatalf("%s of an SA the kernel does not have", name)
				}
			}
			bd := &engine.Bundle{ID: 12, ReqID: 9, Mode: engine.ModeTunnel, Local: l, Remote: r,
				Lifetime: engine.Lifetime{SoftSeconds: 3000, HardSeconds: 3600, SoftKBytes: 900, HardKBytes: 1000},
				Encap:    &engine.Encap{LocalPort: 4500, RemotePort: 4500}, ReplayWindow: 32,
				Inbound: []engine.SA{espSA(spi, 0xa0)}, Outbound: []engine.SA{espSA(0xc0de0001, 0xb0)}}
			if err := bd.Validate(); err != nil {
				t.Fatal(err)
			}
			err = b.Install(bd)
			states := run(t, "ip", "-n", ns, "xfrm", "state")
			if err != nil {
				refusedOK(t, err)
				t.Log(err)
				want := "Protocol not supported: the kernel has no ESP support (CONFIG_INET_ESP)"
				if v6 {
					want = "Protocol not supported: the kernel has no ESP support (CONFIG_INET6_ESP)"
				}
				if !errors.Is(err, unix.EPROTONOSUPPORT) || !strings.HasSuffix(err.Error(), want) {
					t.Fatalf("install error %q, want EPROTONOSUPPORT ending %q", err, want)
				}
				if states != "" {
					t.Fatalf("failed install left states:\n%s", states)
				}
			} else {
				// A kernel with ESP: both SAs are in.
				for _, w := range []string{fmt.Sprintf("spi 0x%08x reqid 1761607689 mode tunnel", spi), "spi 0xc0de0001 reqid 1761607689 mode tunnel", "encap type espinudp sport 4500 dport 4500"} {
					if !strings.Contains(states, w) {
						t.Errorf("ip xfrm state lacks %q:\n%s", w, states)
					}
				}
				counts, err := b.ByteCounts()
				if err != nil {
					t.Fatal(err)
				}
				for _, ref := range bd.Refs() {
					if n, ok := b.Bytes(ref); !ok || n != 0 {
						t.Errorf("Bytes of %v: %d, %v", ref, n, ok)
					}
					if n, ok := counts(ref); !ok || n != 0 {
						t.Errorf("ByteCounts of %v: %d, %v", ref, n, ok)
					}
				}
				if err := b.Delete(bd.Refs()); err != nil {
					t.Fatal(err)
				}
				if out := run(t, "ip", "-n", ns, "xfrm", "state"); out != "" {
					t.Fatalf("delete left states:\n%s", out)
				}
			}
			if len(b.sas) != 0 || len(b.larval) != 0 {
				t.Fatalf("backend still tracks %d SAs, %d SPIs", len(b.sas), len(b.larval))
			}
			if after := run(t, "ip", "-n", ns, "xfrm", "policy"); after != policiesBefore {
				t.Fatalf("policies changed:\n%s\nwas\n%s", after, policiesBefore)
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if out := run(t, "ip", "-n", ns, "xfrm", "policy") + run(t, "ip", "-n", ns, "xfrm", "state"); out != "" {
				t.Fatalf("flush left:\n%s", out)
			}
			// Closed, the backend answers no byte counter (its socket is gone).
			spi, err = b.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: r, Dst: l, ReqID: 9})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			if _, ok := b.Bytes(engine.SARef{Protocol: engine.ProtoESP, SPI: spi, Src: r, Dst: l}); ok {
				t.Fatal("Bytes after Close")
			}
			if _, err := b.ByteCounts(); err == nil {
				t.Fatal("ByteCounts after Close")
			}
		})
	}
}

// TestInstallChainFailsCleanly: an IPComp+ESP+AH transport bundle with a
// manual (not allocated) SPI; whichever protocol the kernel refuses first,
// nothing of the bundle remains.
func TestInstallChainFailsCleanly(t *testing.T) {
	ns, h := testNS(t)
	b := openIn(t, h)
	ah := func(spi uint32) engine.SA {
		return engine.SA{Protocol: engine.ProtoAH, SPI: spi, Integrity: &engine.Integrity{Name: "hmac(sha1)", Key: make(engine.Key, 20), TruncBits: 96}}
	}
	comp := func(cpi uint32) engine.SA {
		return engine.SA{Protocol: engine.ProtoIPComp, SPI: cpi, Compression: &engine.Compression{Name: "deflate"}}
	}
	bd := &engine.Bundle{ID: 3, ReqID: 4, Mode: engine.ModeTransport, Local: gw1, Remote: gw2,
		Selector: engine.Selector{Local: netip.MustParsePrefix("192.0.2.1/32"), Remote: netip.MustParsePrefix("192.0.2.2/32")},
		Inbound:  []engine.SA{comp(0x4001), espSA(0x1001, 1), ah(0x2001)},
		Outbound: []engine.SA{comp(0x4002), espSA(0x1002, 2), ah(0x2002)}}
	if err := bd.Validate(); err != nil {
		t.Fatal(err)
	}
	err := b.Install(bd)
	if err == nil {
		// A kernel with all three protocols: six SAs, the AH ones with
		// their ICV aligned to 32 bits (RFC 4302, 2.6).
		states := run(t, "ip", "-n", ns, "xfrm", "state")
		if strings.Count(states, "proto ") != 6 || strings.Count(states, "proto ah") != 2 || strings.Count(states, "align4") != 2 {
			t.Errorf("installed:\n%s", states)
		}
		if err := b.Delete(bd.Refs()); err != nil {
			t.Fatal(err)
		}
	} else {
		refusedOK(t, err)
		t.Log(err)
		if !errors.Is(err, unix.EPROTONOSUPPORT) {
			t.Fatalf("install: %v", err)
		}
	}
	if out := run(t, "ip", "-n", ns, "xfrm", "state"); out != "" {
		t.Fatalf("states left:\n%s", out)
	}
}
