package daemon

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
)

func startWith(t *testing.T, mod func(o *Options)) (error, string) {
	t.Helper()
	buf := &daemontest.LogBuffer{}
	lg, _ := notify.NewLogger(notify.LogConfig{Level: "debug"}, buf)
	o := Options{
		ConfigFile: "p.yaml",
		Load: func(string) (*Loaded, []notify.Message, error) {
			return &Loaded{Settings: testSettings()}, nil, nil
		},
		NewEngine: func(string) (Engine, error) {
			return engine.New(memory.New(memory.Options{}), engine.Config{Report: func(m notify.Message) { lg.Emit(m) }}), nil
		},
		Network:   &daemontest.Net{},
		Log:       lg,
		NoControl: true,
	}
	mod(&o)
	d := New(o)
	err := d.Start()
	if err == nil {
		d.Stop()
	}
	return err, buf.String()
}

func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// TestStartFailures: each start-up failure logs its catalog message and
// asks for exit status 1; nothing after it runs.
func TestStartFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err, log := startWith(t, func(o *Options) { o.SelfTest = func() error { return errors.New("KAT mismatch") } })
		if exitCode(err) != 1 || !strings.Contains(log, "Could not start the cryptography system") || strings.Contains(log, "Initializing engine") {
			t.Errorf("self-test failure: %v\n%s", err, log)
		}

		err, log = startWith(t, func(o *Options) {
			o.NewEngine = func(string) (Engine, error) { return nil, errors.New("no netlink") }
		})
		if exitCode(err) != 1 || !strings.Contains(log, "IPSEC: Initializing engine") ||
			!strings.Contains(log, "Can not open connection with the packet processing engine.Check") {
			t.Errorf("engine failure: %v\n%s", err, log)
		}

		err, log = startWith(t, func(o *Options) {
			o.Load = func(string) (*Loaded, []notify.Message, error) {
				return nil, []notify.Message{notify.SPDLocalAddressDecode("x")}, nil
			}
		})
		if exitCode(err) != 1 || !strings.Contains(log, "SPD: Could not decode local-address of connection `x'") ||
			!strings.Contains(log, "SPD: Policy not instantiated due to errors.") || strings.Contains(log, "Initializing engine") {
			t.Errorf("refused policy: %v\n%s", err, log)
		}
		if n := strings.Count(log, "Policy not instantiated"); n != 1 {
			t.Errorf("message 21 logged %d times", n)
		}

		err, log = startWith(t, func(o *Options) {
			o.Network = failingNet{}
		})
		if exitCode(err) != 1 || !strings.Contains(log, "IPSEC: Detaching from the TCP/IP stack") {
			t.Errorf("bind failure must detach: %v\n%s", err, log)
		}

		err, log = startWith(t, func(*Options) {})
		if err != nil || !strings.Contains(log, "IPSEC: Attaching to the TCP/IP stack") || !strings.Contains(log, "IPSEC: Detaching from the TCP/IP stack") {
			t.Errorf("clean start and stop: %v\n%s", err, log)
		}
	})
}

type failingNet struct{}

func (failingNet) ListenUDP(netip.AddrPort) (PacketConn, error) {
	return nil, errors.New("address in use")
}

// TestInitiateStart: connections marked `initiate: start` are initiated at
// start-up through the registered initiator.
func TestInitiateStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eh := &echoHandler{}
		h := newHarnessConns(t, []control.Conn{{Name: "c1", Initiate: "start"}, {Name: "c2", Initiate: "never"}}, func(d *Daemon) { d.RegisterInitiator(eh) })
		got := recvAll(h.peer)
		if len(got) != 1 {
			t.Fatalf("%d first messages, want 1 (c1 only)", len(got))
		}
		if hd, err := isakmp.ParseHeader(got[0]); err != nil || hd.Exchange != isakmp.ExchangeMain {
			t.Errorf("first message %v %v", hd, err)
		}
		h.onLoop(func() {
			sas := h.d.listSAs()
			if len(sas) != 1 || sas[0].Conn != "c1" || sas[0].Role != "initiator" || len(sas[0].Exchanges) != 1 || !sas[0].Exchanges[0].AwaitingReply {
				t.Errorf("list-sas %+v", sas)
			}
		})
	})
}
