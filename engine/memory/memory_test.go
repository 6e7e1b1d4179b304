package memory

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/engine"
)

var (
	a = netip.MustParseAddr("2001:db8::1")
	b = netip.MustParseAddr("2001:db8::2")
)

func opened(t *testing.T, o Options) *Backend {
	t.Helper()
	m := New(o)
	if err := m.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestAllocSPIUniqueInRange(t *testing.T) {
	m := opened(t, Options{})
	seen := map[uint32]bool{}
	r := &engine.AllocSPI{Protocol: engine.ProtoESP, Src: b, Dst: a, Min: 0x1000, Max: 0x10ff}
	for range 256 {
		spi, err := m.AllocSPI(r)
		if err != nil {
			t.Fatal(err)
		}
		if spi < 0x1000 || spi > 0x10ff || seen[spi] {
			t.Fatalf("spi 0x%x out of range or repeated", spi)
		}
		seen[spi] = true
	}
	// The range is now exhausted.
	if _, err := m.AllocSPI(r); !errors.Is(err, ErrNoSPI) {
		t.Fatalf("exhausted range: %v", err)
	}
	// Another destination has its own SPI space.
	r.Dst = b
	if _, err := m.AllocSPI(r); err != nil {
		t.Fatal(err)
	}
	// Default range: at least 256; IPComp: 16 bits.
	for range 100 {
		spi, _ := m.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: b, Dst: a})
		cpi, _ := m.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoIPComp, Src: b, Dst: a})
		if spi < 256 || cpi < 256 || cpi > 0xffff {
			t.Fatalf("spi 0x%x cpi 0x%x", spi, cpi)
		}
	}
	if _, err := m.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoIPComp, Src: b, Dst: a, Min: 0x100, Max: 0x10000}); err == nil {
		t.Fatal("CPI range above 16 bits accepted")
	}
	if _, err := m.AllocSPI(&engine.AllocSPI{Protocol: engine.ProtoESP, Src: b, Dst: a, Min: 10, Max: 255}); err == nil {
		t.Fatal("reserved SPI range accepted")
	}
}

func TestAllocSPIPinnedRandom(t *testing.T) {
	m := opened(t, Options{Rand: bytes.NewReader([]byte{0, 0, 0, 5, 0, 0, 0, 5})})
	r := &engine.AllocSPI{Protocol: engine.ProtoAH, Src: b, Dst: a, Min: 256, Max: 1000}
	if spi, _ := m.AllocSPI(r); spi != 261 {
		t.Fatalf("first spi %d", spi)
	}
	// The same draw again probes to the next free SPI.
	if spi, _ := m.AllocSPI(r); spi != 262 {
		t.Fatalf("second spi %d", spi)
	}
}

func bundle() *engine.Bundle {
	sa := func(spi uint32) engine.SA {
		return engine.SA{Protocol: engine.ProtoESP, SPI: spi,
			Encryption: &engine.Cipher{Name: "rfc4106(gcm(aes))", Key: make(engine.Key, 20), ICVBits: 128}}
	}
	return &engine.Bundle{ID: 1, ReqID: 3, Mode: engine.ModeTransport, Local: a, Remote: b,
		Encap:    &engine.Encap{LocalPort: 4500, RemotePort: 4501},
		Lifetime: engine.Lifetime{SoftSeconds: 90, HardSeconds: 100, SoftKBytes: 1, HardKBytes: 2},
		Inbound:  []engine.SA{sa(0x1111)}, Outbound: []engine.SA{sa(0x2222)}}
}

func TestLifetimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := opened(t, Options{})
		bd := bundle()
		if err := bd.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := m.Install(bd); err != nil {
			t.Fatal(err)
		}
		if r, _ := m.Lookup(bd.Refs()[0]); r.Encap == nil || r.Encap.RemotePort != 4501 {
			t.Fatalf("encap %+v", r.Encap)
		}
		time.Sleep(89 * time.Second)
		synctest.Wait()
		if len(m.notes) != 0 {
			t.Fatal("expired early")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		for range 2 {
			ev := <-m.notes
			if ev.Kind != engine.EventExpireSoft || ev.Expire.Hard || ev.Expire.ReqID != 3 {
				t.Fatalf("soft: %v", ev)
			}
		}
		if len(m.SAs()) != 2 {
			t.Fatal("soft expire deleted an SA")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for range 2 {
			if ev := <-m.notes; ev.Kind != engine.EventExpireHard || !ev.Expire.Hard {
				t.Fatalf("hard: %v", ev)
			}
		}
		if len(m.SAs()) != 0 {
			t.Fatal("hard expire left the SAs")
		}
	})
}

func TestVolumeLifetime(t *testing.T) {
	m := opened(t, Options{})
	bd := bundle()
	bd.Lifetime.SoftSeconds, bd.Lifetime.HardSeconds = 0, 0
	if err := m.Install(bd); err != nil {
		t.Fatal(err)
	}
	out := bd.Refs()[1]
	m.Account(out, 1000)
	if len(m.notes) != 0 {
		t.Fatal("expired below the soft volume")
	}
	m.Account(out, 100)
	if n, ok := m.Bytes(out); !ok || n != 1100 {
		t.Fatalf("Bytes: %d, %v; want 1100", n, ok)
	}
	if n, ok := m.Bytes(bd.Refs()[0]); !ok || n != 0 {
		t.Fatalf("Bytes of the inbound SA: %d, %v; want 0", n, ok)
	}
	if ev := <-m.notes; ev.Kind != engine.EventExpireSoft || ev.SPI != 0x2222 {
		t.Fatalf("soft: %v", ev)
	}
	m.Account(out, 1000) // 2100 bytes > 2 KiB
	if ev := <-m.notes; ev.Kind != engine.EventExpireHard {
		t.Fatalf("hard: %v", ev)
	}
	if _, ok := m.Lookup(out); ok {
		t.Fatal("hard volume expire left the SA")
	}
	if _, ok := m.Bytes(out); ok {
		t.Fatal("Bytes of an SA gone")
	}
	if err := m.Account(out, 1); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestDeleteReportsMissing(t *testing.T) {
	m := opened(t, Options{})
	bd := bundle()
	m.Install(bd)
	refs := append(bd.Refs(), engine.SARef{Protocol: engine.ProtoESP, SPI: 0x9999, Dst: a})
	if err := m.Delete(refs); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete: %v", err)
	}
	if len(m.SAs()) != 0 {
		t.Fatal("existing SAs not deleted alongside the missing one")
	}
}

// TestLifetimesInterleaved: the lifetimes of several bundles, installed
// at different times and with different durations, fire each at its own
// time and in time order (one timer serves them all, expiry.go), and a
// deleted bundle's lifetimes never fire.
func TestLifetimesInterleaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := opened(t, Options{})
		long, short, gone := bundle(), bundle(), bundle()
		short.Inbound[0].SPI, short.Outbound[0].SPI = 0x3333, 0x4444
		short.Lifetime.SoftSeconds, short.Lifetime.HardSeconds = 30, 40
		gone.Inbound[0].SPI, gone.Outbound[0].SPI = 0x5555, 0x6666
		gone.Lifetime.SoftSeconds, gone.Lifetime.HardSeconds = 20, 25
		for _, bd := range []*engine.Bundle{long, gone} {
			if err := m.Install(bd); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Second)
		if err := m.Install(short); err != nil { // soft at 35 s, hard at 45 s
			t.Fatal(err)
		}
		if err := m.Delete(gone.Refs()); err != nil {
			t.Fatal(err)
		}
		type fired struct {
			at   time.Duration
			spi  uint32
			hard bool
		}
		var got []fired
		start := time.Now().Add(-5 * time.Second)
		for range 8 {
			ev := <-m.notes
			got = append(got, fired{time.Since(start).Round(time.Second), ev.SPI, ev.Expire.Hard})
		}
		want := []fired{{35 * time.Second, 0x3333, false}, {35 * time.Second, 0x4444, false},
			{45 * time.Second, 0x3333, true}, {45 * time.Second, 0x4444, true},
			{90 * time.Second, 0x1111, false}, {90 * time.Second, 0x2222, false},
			{100 * time.Second, 0x1111, true}, {100 * time.Second, 0x2222, true}}
		for i := 0; i < len(got); i += 2 {
			// The two SAs of a bundle fall due at once, in either order.
			if got[i].spi > got[i+1].spi {
				got[i], got[i+1] = got[i+1], got[i]
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("lifetimes fired\n%v\nwant\n%v", got, want)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(m.notes) != 0 || len(m.SAs()) != 0 {
			t.Fatalf("%d more events, %d SAs left", len(m.notes), len(m.SAs()))
		}
	})
}

// TestPolicyStackEqualCopies: equal policies installed one after the
// other (the clients of one connection behind one address) stack as
// the kernel's would: each removal takes one copy off, the one below is
// in force until the last goes, and one removal too many is refused.
func TestPolicyStackEqualCopies(t *testing.T) {
	m := opened(t, Options{})
	sel := engine.Selector{Local: netip.MustParsePrefix("192.0.2.2/32"), Remote: netip.MustParsePrefix("192.0.2.100/32")}
	pa := engine.Policy{Dir: engine.DirIn, Selector: sel, Mode: engine.ModeTransport, Protocols: []engine.Protocol{engine.ProtoESP}, ReqID: 1}
	pb := pa
	pb.ReqID = 2
	for _, p := range []engine.Policy{pa, pa, pb, pa} {
		if err := m.InstallPolicies([]engine.Policy{p}); err != nil {
			t.Fatal(err)
		}
	}
	inForce := func() uint32 {
		ps := m.Policies()
		if len(ps) != 1 {
			t.Fatalf("%d policies in force, want 1", len(ps))
		}
		return ps[0].ReqID
	}
	for i, step := range []struct {
		remove engine.Policy
		want   uint32 // in force afterwards; 0: none
	}{{pa, 2}, {pb, 1}, {pa, 1}, {pa, 0}} {
		if err := m.RemovePolicies([]engine.Policy{step.remove}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if step.want == 0 {
			if n := len(m.Policies()); n != 0 {
				t.Fatalf("step %d: %d policies left", i, n)
			}
			continue
		}
		if got := inForce(); got != step.want {
			t.Fatalf("step %d: reqid %d in force, want %d", i, got, step.want)
		}
	}
	if err := m.RemovePolicies([]engine.Policy{pa}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing a policy no longer there: %v", err)
	}
}

// TestInstallKeepsItsOwnCopy: the caller may wipe its keys or reuse its
// SAs once the bundle is installed, as with the kernel's copy; the
// records keep what was installed, and the two keys of an SA, kept in
// one allocation, cannot grow into each other.
func TestInstallKeepsItsOwnCopy(t *testing.T) {
	m := opened(t, Options{})
	bd := bundle()
	enc, integ := []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8, 9}
	bd.Inbound[0] = engine.SA{Protocol: engine.ProtoESP, SPI: 0x1111,
		Encryption: &engine.Cipher{Name: "cbc(aes)", Key: slices.Clone(enc)},
		Integrity:  &engine.Integrity{Name: "hmac(sha256)", Key: slices.Clone(integ), TruncBits: 128}}
	if err := m.Install(bd); err != nil {
		t.Fatal(err)
	}
	in := bd.Inbound[0]
	clear(in.Encryption.Key)
	clear(in.Integrity.Key)
	in.Encryption.Name, in.Integrity.Name = "x", "y"
	clear(bd.Outbound[0].Encryption.Key)
	bd.Inbound[0] = engine.SA{}
	r, ok := m.Lookup(engine.SARef{Protocol: engine.ProtoESP, SPI: 0x1111, Src: b, Dst: a})
	if !ok || r.SA.Encryption == nil || r.SA.Integrity == nil {
		t.Fatalf("record %+v, %v", r, ok)
	}
	if !bytes.Equal(r.SA.Encryption.Key, enc) || !bytes.Equal(r.SA.Integrity.Key, integ) ||
		r.SA.Encryption.Name != "cbc(aes)" || r.SA.Integrity.Name != "hmac(sha256)" {
		t.Fatalf("record changed with the caller's bundle: %x %x %+v", []byte(r.SA.Encryption.Key), []byte(r.SA.Integrity.Key), r.SA)
	}
	out, _ := m.Lookup(engine.SARef{Protocol: engine.ProtoESP, SPI: 0x2222, Src: a, Dst: b})
	if !bytes.Equal(out.SA.Encryption.Key, make([]byte, 20)) || len(out.SA.Encryption.Key) != 20 {
		t.Fatalf("outbound key %x", []byte(out.SA.Encryption.Key))
	}
	m.mu.Lock()
	e := m.sas[saKey{engine.ProtoESP, 0x1111, a}]
	if cap(e.enc.Key) != len(enc) || cap(e.integ.Key) != len(integ) {
		t.Errorf("kept keys not capped: cap %d and %d", cap(e.enc.Key), cap(e.integ.Key))
	}
	m.mu.Unlock()
}

// BenchmarkInstall is the memory engine's share of an SA bundle: install
// (one ESP SA each way, keys copied) and delete again.
func BenchmarkInstall(b *testing.B) {
	m := New(Options{})
	if err := m.Open(); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	bd := bundle()
	bd.Lifetime = engine.Lifetime{}
	for _, sa := range []*engine.SA{&bd.Inbound[0], &bd.Outbound[0]} {
		sa.Encryption = &engine.Cipher{Name: "cbc(aes)", Key: make(engine.Key, 16)}
		sa.Integrity = &engine.Integrity{Name: "hmac(sha256)", Key: make(engine.Key, 32), TruncBits: 128}
	}
	refs := bd.Refs()
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Install(bd); err != nil {
			b.Fatal(err)
		}
		if err := m.Delete(refs); err != nil {
			b.Fatal(err)
		}
	}
}
