package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/notify"
)

func open(t testing.TB, opts memory.Options) (*engine.Engine, *memory.Backend, *engine.Recorder) {
	t.Helper()
	var rec engine.Recorder
	mb := memory.New(opts)
	e := engine.New(mb, engine.Config{QueueSize: 16, Report: rec.Report})
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, mb, &rec
}

func next(t *testing.T, e *engine.Engine) engine.Event {
	t.Helper()
	select {
	case ev := <-e.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return engine.Event{}
}

func TestEngineInstallFlow(t *testing.T) {
	e, mb, rec := open(t, memory.Options{})

	// The responder allocates its inbound SPI first.
	e.Submit(&engine.AllocSPI{Token: 1, Protocol: engine.ProtoESP, Src: gwB, Dst: gwA})
	ev := next(t, e)
	if ev.Kind != engine.EventSPIAllocated || ev.Token != 1 || ev.SPI < 256 {
		t.Fatalf("alloc: %v", ev)
	}
	if mb.Reserved() != 1 {
		t.Fatalf("reserved %d", mb.Reserved())
	}
	b := espBundle(41, ev.SPI, 0x0000c0de)
	e.Submit(&engine.Install{Token: 2, Bundle: b})
	if ev := next(t, e); ev.Kind != engine.EventInstalled || ev.BundleID != 41 || ev.Token != 2 {
		t.Fatalf("install: %v", ev)
	}
	if mb.Reserved() != 0 {
		t.Fatal("SPI reservation not consumed by the install")
	}
	sas := mb.SAs()
	if len(sas) != 2 || !sas[0].Inbound || sas[0].Ref.Src != gwB || sas[0].Ref.Dst != gwA || sas[1].Ref.Dst != gwB {
		t.Fatalf("records: %+v", sas)
	}
	if !sas[0].SA.Encryption.Key.Equal(hexKey(16, 0xa0)) || !sas[1].SA.Integrity.Key.Equal(hexKey(32, 0xb1)) {
		t.Fatal("recorded keys differ from the installed ones")
	}
	if sas[0].Mode != engine.ModeTunnel {
		t.Fatalf("mode %v", sas[0].Mode)
	}
	// The same bundle again conflicts and leaves the first in place.
	e.Submit(&engine.Install{Token: 3, Bundle: b})
	if ev := next(t, e); ev.Kind != engine.EventInstallFailed || !errors.Is(ev.Err, memory.ErrExists) {
		t.Fatalf("reinstall: %v", ev)
	}
	if len(mb.SAs()) != 2 {
		t.Fatal("failed reinstall changed the SAs")
	}
	e.Submit(&engine.Delete{Token: 4, SAs: b.Refs()})
	if ev := next(t, e); ev.Kind != engine.EventDeleted {
		t.Fatalf("delete: %v", ev)
	}
	if len(mb.SAs()) != 0 {
		t.Fatal("SAs left after delete")
	}
	if n := rec.Nums(); len(n) != 0 {
		t.Fatalf("unexpected messages %v", n)
	}
}

func TestEngineBundleWithoutDirection(t *testing.T) {
	e, mb, rec := open(t, memory.Options{})
	b := espBundle(65, 0x1000, 0x2000)
	b.Inbound = nil
	e.Submit(&engine.Install{Token: 1, Bundle: b})
	ev := next(t, e)
	var m notify.Message
	if ev.Kind != engine.EventInstallFailed || !errors.As(ev.Err, &m) || m.Num != 65 {
		t.Fatalf("no inbound: %v", ev)
	}
	if m.Text != "The bundle 65 to be installed does not contain any inbound SA's. Not installing it." {
		t.Fatalf("text %q", m.Text)
	}
	b = espBundle(66, 0x1000, 0x2000)
	b.Outbound = nil
	e.Submit(&engine.Install{Token: 2, Bundle: b})
	ev = next(t, e)
	if ev.Kind != engine.EventInstallFailed || ev.Err.Error() != "The bundle 66 to be installed does not contain any outbound SA's. Not installing it." {
		t.Fatalf("no outbound: %v", ev)
	}
	if got := rec.Nums(); fmt.Sprint(got) != "[65 66]" {
		t.Fatalf("messages %v", got)
	}
	if len(mb.SAs()) != 0 {
		t.Fatal("something was installed")
	}
}

func TestEngineAtomicInstall(t *testing.T) {
	// A kernel without ESP: the AH SAs of an AH+ESP bundle go in first in
	// a real kernel; here the backend must leave nothing, not even the SPIs.
	e, mb, _ := open(t, memory.Options{Unsupported: []engine.Protocol{engine.ProtoESP}})
	var spis []uint32
	for i, p := range []engine.Protocol{engine.ProtoAH, engine.ProtoESP} {
		e.Submit(&engine.AllocSPI{Token: uint64(i + 1), Protocol: p, Src: gwB, Dst: gwA})
		spis = append(spis, next(t, e).SPI)
	}
	b := espBundle(9, spis[1], 0x3000)
	ah := func(spi uint32) engine.SA {
		return engine.SA{Protocol: engine.ProtoAH, SPI: spi, Integrity: &engine.Integrity{Name: "hmac(sha1)", Key: hexKey(20, 1), TruncBits: 96}}
	}
	b.Inbound = append([]engine.SA{ah(spis[0])}, b.Inbound...)
	b.Outbound = append([]engine.SA{ah(0x3001)}, b.Outbound...)
	e.Submit(&engine.Install{Token: 3, Bundle: b})
	ev := next(t, e)
	if ev.Kind != engine.EventInstallFailed || !errors.Is(ev.Err, memory.ErrUnsupported) {
		t.Fatalf("install: %v", ev)
	}
	if len(mb.SAs()) != 0 || mb.Reserved() != 0 {
		t.Fatalf("left behind: %d SAs, %d reservations", len(mb.SAs()), mb.Reserved())
	}
}

func TestEnginePoliciesAttachDetachAcquire(t *testing.T) {
	e, mb, rec := open(t, memory.Options{})
	sel := engine.Selector{Local: netip.MustParsePrefix("198.51.100.0/24"), Remote: netip.MustParsePrefix("203.0.113.0/24")}
	ps := engine.PoliciesFor(sel, engine.ModeTunnel, gwA, gwB, []engine.Protocol{engine.ProtoESP}, 7)
	if len(ps) != 3 {
		t.Fatalf("tunnel policies: %d", len(ps))
	}
	e.Submit(&engine.Attach{Token: 1, Policies: ps})
	if ev := next(t, e); ev.Kind != engine.EventAttached {
		t.Fatalf("attach: %v", ev)
	}
	if n := rec.Nums(); fmt.Sprint(n) != "[2]" {
		t.Fatalf("messages %v", n)
	}
	// The same key twice in one install is refused and adds nothing; a
	// second install of the same policies stacks on the first (a reload
	// puts its policies in before it takes the old ones out), and
	// removing one of them leaves the other in force.
	e.Submit(&engine.InstallPolicies{Token: 2, Policies: append(slices.Clone(ps), ps[0])})
	if ev := next(t, e); ev.Kind != engine.EventPoliciesFailed {
		t.Fatalf("duplicate policies: %v", ev)
	}
	e.Submit(&engine.InstallPolicies{Token: 2, Policies: ps})
	if ev := next(t, e); ev.Kind != engine.EventPoliciesInstalled {
		t.Fatalf("stacked policies: %v", ev)
	}
	e.Submit(&engine.RemovePolicies{Token: 2, Policies: ps})
	if ev := next(t, e); ev.Kind != engine.EventPoliciesRemoved || ev.Err != nil {
		t.Fatalf("remove stacked policies: %v", ev)
	}
	if len(mb.Policies()) != 3 {
		t.Fatalf("policies: %d", len(mb.Policies()))
	}

	pkt := engine.Selector{Local: netip.MustParsePrefix("198.51.100.7/32"), Remote: netip.MustParsePrefix("203.0.113.9/32"), Protocol: 17, LocalPort: 40000, RemotePort: 53}
	if !mb.Packet(pkt) {
		t.Fatal("no acquire for a packet that hits the policy")
	}
	ev := next(t, e)
	if ev.Kind != engine.EventAcquire || ev.Acquire.Local != gwA || ev.Acquire.Remote != gwB || ev.Acquire.ReqID != 7 || ev.Acquire.Selector != pkt {
		t.Fatalf("acquire: %v %+v", ev, ev.Acquire)
	}
	if mb.Packet(engine.Selector{Local: netip.MustParsePrefix("192.0.2.77/32"), Remote: netip.MustParsePrefix("203.0.113.9/32")}) {
		t.Fatal("acquire for a packet outside the selector")
	}
	e.Submit(&engine.Install{Token: 3, Bundle: espBundle(1, 0x1000, 0x2000)})
	next(t, e)
	if mb.Packet(pkt) {
		t.Fatal("acquire although the SA is installed")
	}

	e.Submit(&engine.Detach{Token: 4})
	if ev := next(t, e); ev.Kind != engine.EventDetached || ev.Err != nil {
		t.Fatalf("detach: %v", ev)
	}
	if n := rec.Nums(); fmt.Sprint(n) != "[2 3]" {
		t.Fatalf("messages %v", n)
	}
	if len(mb.Policies()) != 0 || len(mb.SAs()) != 0 {
		t.Fatal("detach left state")
	}
}

func TestEngineOpenFailure(t *testing.T) {
	mb := memory.New(memory.Options{})
	mb.Close() // a closed backend cannot open
	e := engine.New(mb, engine.Config{})
	err := e.Open()
	var m notify.Message
	if !errors.As(err, &m) || m.Num != 4 || !errors.Is(err, memory.ErrClosed) {
		t.Fatalf("open: %v", err)
	}
	e.Close()
}

func TestEngineSubmitNeverBlocks(t *testing.T) {
	var rec engine.Recorder
	mb := memory.New(memory.Options{})
	// Not opened: no worker drains the queue.
	e := engine.New(mb, engine.Config{QueueSize: 2, Report: rec.Report})
	defer e.Close()
	for i := range 5 {
		e.Submit(&engine.AllocSPI{Token: uint64(i), Protocol: engine.ProtoESP, Src: gwB, Dst: gwA})
	}
	if st := e.Stats(); st.DroppedOrdinary != 3 || st.Len != 2 {
		t.Fatalf("stats %+v", st)
	}
	if n := rec.Nums(); fmt.Sprint(n) != "[68 68 68]" {
		t.Fatalf("messages %v", n)
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	b := espBundle(1, 0x1000, 0x2000)
	secret := strings.Repeat("a0", 16)
	js, _ := json.Marshal(b)
	for _, s := range []string{fmt.Sprintf("%v", b), fmt.Sprintf("%+v", *b), fmt.Sprintf("%#v", b.Inbound[0].Encryption), fmt.Sprintf("%+v", *b.Inbound[0].Integrity),
		fmt.Sprintf("%x", b.Inbound[0].Encryption.Key), fmt.Sprint(b.Inbound[0].Encryption.Key), string(js)} {
		if strings.Contains(strings.ToLower(s), secret) || strings.Contains(s, "\xa0\xa0") || strings.Contains(s, "oKCgoKCg") {
			t.Errorf("key leaked: %s", s)
		}
	}
	if got := fmt.Sprintf("%x", b.Inbound[0].Encryption.Key); got != "[16 bytes]" {
		t.Errorf("key prints %q", got)
	}
}
