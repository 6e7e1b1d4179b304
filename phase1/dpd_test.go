package phase1

import (
	"bytes"
	"crypto/rand"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/isakmp"
)

var policyDPD = DPDConfig{Delay: 30 * time.Second, Timeout: 150 * time.Second}

// runDPD drives d in virtual time for total, the way the daemon's loop
// would: sleep until Next, Tick, and hand each R-U-THERE to answer, which
// returns after how long the ACK arrives (negative: never). It returns the
// probes sent (time since start, sequence number) and when the peer was
// declared dead (0: not).
func runDPD(t *testing.T, d *DPD, total time.Duration, answer func(at time.Duration, seq uint32) time.Duration) (probes []time.Duration, seqs []uint32, dead time.Duration) {
	t.Helper()
	start := time.Now()
	type ack struct {
		at  time.Time
		seq uint32
	}
	var acks []ack
	for time.Since(start) < total {
		next := d.Next()
		if next.IsZero() {
			return probes, seqs, dead
		}
		for len(acks) > 0 && acks[0].at.Before(next) {
			time.Sleep(time.Until(acks[0].at))
			d.Ack(time.Now(), acks[0].seq)
			acks = acks[1:]
			next = d.Next()
		}
		time.Sleep(time.Until(next))
		switch a, seq := d.Tick(time.Now()); a {
		case DPDSend:
			at := time.Since(start)
			probes, seqs = append(probes, at), append(seqs, seq)
			if lat := answer(at, seq); lat >= 0 {
				acks = append(acks, ack{time.Now().Add(lat), seq})
			}
		case DPDDeclareDead:
			return probes, seqs, time.Since(start)
		}
	}
	return probes, seqs, dead
}

// TestDPDPeerDies: a silent peer gets R-U-THERE every delay with growing
// sequence numbers and is declared dead exactly delay+timeout after it was
// last heard (30 s + 150 s with the policy's example values).
func TestDPDPeerDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, err := NewDPD(policyDPD, time.Now(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		probes, seqs, dead := runDPD(t, d, time.Hour, func(time.Duration, uint32) time.Duration { return -1 })
		if dead != 180*time.Second {
			t.Errorf("declared dead after %v, want 3m0s", dead)
		}
		want := []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, 120 * time.Second, 150 * time.Second}
		if len(probes) != len(want) {
			t.Fatalf("probes at %v, want %v", probes, want)
		}
		for i := range want {
			if probes[i] != want[i] || (i > 0 && seqs[i] != seqs[i-1]+1) {
				t.Errorf("probe %d at %v seq %d (previous %v)", i, probes[i], seqs[i], seqs)
			}
		}
		if d.State() != DPDDead || !d.Next().IsZero() {
			t.Errorf("state %v next %v", d.State(), d.Next())
		}
		d.Alive(time.Now())
		if d.State() != DPDDead {
			t.Error("a dead peer came back to life")
		}
	})
}

// TestDPDPeerAnswers: an answering peer (ACK after 200 ms) is never
// declared dead in an hour, and is probed once per delay of silence.
func TestDPDPeerAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := NewDPD(policyDPD, time.Now(), rand.Reader)
		probes, _, dead := runDPD(t, d, time.Hour, func(time.Duration, uint32) time.Duration { return 200 * time.Millisecond })
		if dead != 0 {
			t.Fatalf("declared dead at %v", dead)
		}
		// Each ACK at probe+0.2 s restarts the delay: 3600/30.2 probes.
		if n := len(probes); n < 115 || n > 120 {
			t.Errorf("%d probes in an hour", n)
		}
	})
}

// TestDPDLateAnswerAndTraffic: the peer answers only the third probe; it is
// then alive again. Traffic from the peer (Alive) postpones probes.
func TestDPDLateAnswerAndTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _ := NewDPD(policyDPD, time.Now(), rand.Reader)
		n := 0
		probes, _, dead := runDPD(t, d, 10*time.Minute, func(at time.Duration, seq uint32) time.Duration {
			n++
			if n == 3 {
				return time.Second
			}
			if n > 3 {
				return 0
			}
			return -1
		})
		if dead != 0 || len(probes) < 10 {
			t.Errorf("dead at %v after probes %v", dead, probes)
		}

		d2, _ := NewDPD(policyDPD, time.Now(), rand.Reader)
		for range 20 {
			time.Sleep(25 * time.Second)
			d2.Alive(time.Now())
			if a, _ := d2.Tick(time.Now()); a != DPDNone {
				t.Fatalf("probe despite traffic every 25 s: %v", a)
			}
		}
		time.Sleep(30 * time.Second)
		if a, _ := d2.Tick(time.Now()); a != DPDSend {
			t.Fatalf("no probe after 30 s of silence: %v", a)
		}
	})
}

// TestDPDAckRules: an ACK must echo a number sent in the current run of
// probes; others change nothing. A replayed R-U-THERE is reported.
func TestDPDAckRules(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	d, _ := NewDPD(policyDPD, now, bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}))
	if d.Ack(now, d.Seq()) {
		t.Error("ACK accepted while idle")
	}
	a, s1 := d.Tick(now.Add(30 * time.Second))
	if a != DPDSend || s1 != 0x7fffffff {
		t.Fatalf("first probe %v %#x (random start 0x7fffffff expected from 0xff bytes)", a, s1)
	}
	_, s2 := d.Tick(now.Add(60 * time.Second))
	if s2 != 0x80000000 {
		t.Fatalf("second probe %#x", s2)
	}
	for _, bad := range []uint32{s1 - 1, s2 + 1, 0} {
		if d.Ack(now.Add(61*time.Second), bad) {
			t.Errorf("ACK %#x accepted (sent %#x, %#x)", bad, s1, s2)
		}
	}
	if !d.Ack(now.Add(61*time.Second), s1) || d.State() != DPDIdle {
		t.Errorf("ACK of the first probe refused, state %v", d.State())
	}
	if d.RUThere(now, 10) || !d.RUThere(now, 10) || !d.RUThere(now, 9) || d.RUThere(now, 11) {
		t.Error("R-U-THERE replay rule")
	}
	if _, err := NewDPD(DPDConfig{Delay: 0, Timeout: time.Second}, now, rand.Reader); err == nil {
		t.Error("zero delay accepted")
	}
}

// TestDPDNotifyWire: our R-U-THERE has strongSwan's shape (run g): protocol
// ISAKMP, the 16 cookie bytes as SPI, the number in 4 bytes.
func TestDPDNotifyWire(t *testing.T) {
	k, files := strongSwanInfoKeys(t)
	var theirs *isakmp.Notification
	for _, f := range files {
		inf, err := OpenInformational(readCapture(t, f), &k)
		if err == nil && len(inf.Notifies) == 1 && inf.Notifies[0].NotifyType == isakmp.DPDRUThere {
			theirs = inf.Notifies[0]
			break
		}
	}
	if theirs == nil {
		t.Fatal("no R-U-THERE in run g")
	}
	seq := uint32(theirs.Data[0])<<24 | uint32(theirs.Data[1])<<16 | uint32(theirs.Data[2])<<8 | uint32(theirs.Data[3])
	ours := k.DPDNotify(false, seq)
	a, _ := isakmp.EncodeChain([]isakmp.Payload{ours})
	b, _ := isakmp.EncodeChain([]isakmp.Payload{&isakmp.Notification{DOI: theirs.DOI, Protocol: theirs.Protocol,
		SPI: theirs.SPI, NotifyType: theirs.NotifyType, Data: theirs.Data}})
	if !bytes.Equal(a, b) {
		t.Errorf("our R-U-THERE %x, strongSwan's %x", a, b)
	}
}

// TestDPDEnabled: both ends must announce DPD.
func TestDPDEnabled(t *testing.T) {
	s := &SA{PeerDPD: true}
	if !DPDEnabled(s, policyDPD) || DPDEnabled(&SA{}, policyDPD) || DPDEnabled(s, DPDConfig{}) {
		t.Error("DPDEnabled")
	}
}
