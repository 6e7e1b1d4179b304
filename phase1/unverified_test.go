package phase1_test

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/stack/stacktest"
)

// attacker is a host on the path that sees the cookies and sends from its
// own address (RFC 5737 documentation range).
var attacker = netip.MustParseAddrPort("203.0.113.66:4500")

// garbage returns an encrypted-looking phase 1 message with the cookies
// and exchange of hdr whose body is random: nobody without the keys can
// tell it from a real one until it fails to decrypt.
func garbage(t *testing.T, hdr isakmp.Header) []byte {
	t.Helper()
	b := make([]byte, isakmp.HeaderLen+64)
	copy(b, hdr.InitiatorCookie[:])
	copy(b[8:], hdr.ResponderCookie[:])
	b[16], b[17], b[18], b[19] = byte(isakmp.PayloadID), 0x10, byte(hdr.Exchange), byte(isakmp.FlagEncryption)
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	if _, err := rand.Read(b[isakmp.HeaderLen:]); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnverifiedMessageDoesNotMoveSA: while A's last phase 1 message
// (MM5, AM3) and B's MM6 are delayed, a host elsewhere sends each side a
// message with the SA's cookies, to its NAT-T port or to port 500, which
// does not decrypt. Both peers announced NAT-T, so a genuine message on
// the NAT-T port would move the SA (PeerMoved); these must not: nothing
// goes to the attacker, no SA fails, and both establish with each other's
// real address.
func TestUnverifiedMessageDoesNotMoveSA(t *testing.T) {
	for _, tc := range []struct {
		mode string
		port uint16
	}{{"main", phase1.NATTPort}, {"aggressive", phase1.NATTPort}, {"main", 500}, {"aggressive", 500}} {
		mode, attacker := tc.mode, netip.AddrPortFrom(attacker.Addr(), tc.port)
		t.Run(fmt.Sprintf("%s/port-%d", mode, tc.port), func(t *testing.T) {
			pa, pb := lifePolicies(mode, "", "", false)
			stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
				// Hold back every encrypted phase 1 message a second, so
				// that the forged ones come first.
				nw.SetDelay(func(s daemontest.Sent) time.Duration {
					if s.From.Addr() != attacker.Addr() && s.From.Port() == 500 && len(s.Data) > isakmp.HeaderLen && s.Data[19]&byte(isakmp.FlagEncryption) != 0 &&
						isakmp.ExchangeType(s.Data[18]) != isakmp.ExchangeInformational {
						return time.Second
					}
					return 0
				})
				if _, err := nw.ListenUDP(attacker); err != nil {
					t.Fatal(err)
				}
				b := start(t, nw, pb, nodeOpts{natt: true})
				a := start(t, nw, pa, nodeOpts{natt: true, initiate: true})
				// B's first answer (MM2, AM2) names both cookies.
				hdr := waitHeader(nw, addrB.Addr(), 100, func(h isakmp.Header) bool { return h.ResponderCookie != [8]byte{} })
				if hdr.ResponderCookie == ([8]byte{}) {
					t.Fatal("B did not answer")
				}
				if mode == "main" {
					// Wait for MM4: B now expects MM5, A MM6 soon.
					for i := 0; i < 100 && nw.Count(func(s daemontest.Sent) bool { return s.From.Addr() == addrB.Addr() }) < 2; i++ {
						time.Sleep(10 * time.Millisecond)
					}
				}
				forged := garbage(t, hdr)
				if tc.port == phase1.NATTPort {
					// After the non-ESP marker (RFC 3948, 2.2).
					forged = append(make([]byte, 4), forged...)
				}
				for _, to := range []netip.Addr{addrB.Addr(), addrA.Addr()} {
					if err := nw.Inject(attacker, netip.AddrPortFrom(to, tc.port), forged); err != nil {
						t.Fatal(err)
					}
				}
				waitEstablished(t, a, b, 1)
				time.Sleep(2 * time.Second)
				if n := nw.Count(func(s daemontest.Sent) bool { return s.To.Addr() == attacker.Addr() }); n != 0 {
					t.Errorf("%d datagrams went to the host that sent the forged messages", n)
				}
				for _, n := range []struct {
					name string
					n    *node
					peer netip.AddrPort
				}{{"A", a, addrB}, {"B", b, addrA}} {
					c := n.n.rec.established()[0]
					n.n.rec.mu.Lock()
					remote := n.n.rec.remote[c]
					n.n.rec.mu.Unlock()
					if remote != n.peer {
						t.Errorf("%s's SA runs with %v, want %v", n.name, remote, n.peer)
					}
					if _, _, gone := n.n.rec.reason(c); gone {
						t.Errorf("%s's SA is gone", n.name)
					}
				}
			})
		})
	}
}

// TestForgedFirstAnswerKeepsCookie: before the responder's MM2 arrives,
// a forged "MM2" from the responder's address with another responder
// cookie and no SA payload reaches the initiator. The initiator drops it
// and keeps waiting with no responder cookie: the real MM2 (its cookie)
// is then accepted and phase 1 completes.
func TestForgedFirstAnswerKeepsCookie(t *testing.T) {
	pa, pb := lifePolicies("main", "", "", false)
	stacktest.Test(t, func(t *testing.T, nw *stacktest.Net) {
		first := true
		nw.SetDelay(func(s daemontest.Sent) time.Duration {
			if s.From.Addr() == addrB.Addr() && first {
				first = false
				return 500 * time.Millisecond
			}
			return 0
		})
		b := start(t, nw, pb, nodeOpts{})
		a := start(t, nw, pa, nodeOpts{initiate: true})
		mm1 := waitHeader(nw, addrA.Addr(), 20, func(h isakmp.Header) bool { return h.InitiatorCookie != [8]byte{} })
		forged := &isakmp.Message{Header: isakmp.Header{InitiatorCookie: mm1.InitiatorCookie,
			ResponderCookie: [8]byte{0xba, 0xd0, 0xc0, 0x0c, 1, 2, 3, 4}, Exchange: isakmp.ExchangeMain},
			Payloads: []isakmp.Payload{&isakmp.Nonce{Data: make([]byte, 16)}}}
		data, err := forged.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := nw.Inject(addrB, addrA, data); err != nil {
			t.Fatal(err)
		}
		waitEstablished(t, a, b, 1)
		if got, want := a.rec.established()[0], b.rec.established()[0]; got != want {
			t.Errorf("A's SA has cookies %v, B's %v", got, want)
		}
	})
}

// waitHeader looks every 10 ms of virtual time, up to tries times, at the
// header of the last datagram that from sent on nw, until done accepts it, and
// returns it, accepted or not.
func waitHeader(nw *stacktest.Net, from netip.Addr, tries int, done func(isakmp.Header) bool) isakmp.Header {
	var h isakmp.Header
	for i := 0; i < tries && !done(h); i++ {
		time.Sleep(10 * time.Millisecond)
		for _, s := range nw.Sent() {
			if s.From.Addr() == from {
				h, _ = isakmp.ParseHeader(s.Data)
			}
		}
	}
	return h
}
