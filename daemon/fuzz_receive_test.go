package daemon_test

import (
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/daemon/daemontest"
	"github.com/iked/iked/daemon/udp"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/stack/stacktest"
)

// The stateful fuzz target: sequences of datagrams from several sources
// go through one daemon's receive path (sockets, loop, SA tables, phase 1,
// Quick Mode, informational) with the production wiring, on daemontest's
// network in virtual time. After each datagram the tables must hold
// (daemon.TableView: the half-open count is the table's, every index
// points where it should), no SA may have changed its cookies or addresses
// unless a message was accepted, and nothing may panic.
//
// The daemon's random source is fixed, so that its cookies, nonces and DH
// keys are the same in every run: the seeds, recorded from real exchanges
// with a second daemon, then replay to the end (phase 1 and Quick Mode
// established), and the fuzzer mutates messages that decrypt.

// fuzzHost is the daemon under test; fuzzPeer the peer of its connection.
var (
	fuzzHost = netip.MustParseAddr("192.0.2.2")
	fuzzPeer = netip.MustParseAddr("192.0.2.1")
	fuzzNAT  = netip.MustParseAddr("198.51.100.1")
)

// fuzzSources are where datagrams come from: the peer on both IKE ports
// and another port, a NAT in front of the peer (daemontest.Net.NAT's
// port shift), and a stranger.
var fuzzSources = []netip.AddrPort{
	netip.AddrPortFrom(fuzzPeer, 500),
	netip.AddrPortFrom(fuzzPeer, 4500),
	netip.AddrPortFrom(fuzzNAT, 500+daemontest.NATPortShift),
	netip.AddrPortFrom(fuzzNAT, 4500+daemontest.NATPortShift),
	netip.AddrPortFrom(netip.MustParseAddr("203.0.113.5"), 500),
	netip.AddrPortFrom(fuzzPeer, 1500),
}

// fuzzRand is a fixed random source, safe for the loop and the worker
// pool at once.
type fuzzRand struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newFuzzRand() *fuzzRand {
	return &fuzzRand{r: rand.NewChaCha8([32]byte{'i', 'k', 'e', 'd', ' ', 'f', 'u', 'z', 'z'})}
}

func (f *fuzzRand) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.r.Read(p)
}

// fuzzPolicy is a policy of the fuzz daemons: one pre-shared key
// connection from local to remote, NAT-T on.
func fuzzPolicy(local, remote netip.Addr) func(string) string {
	p := stacktest.Policy{Local: local.String(), Remote: remote.String(), PSK: "fuzz key", LogLevel: "error"}
	return func(sock string) string {
		return strings.Replace(p.YAML(sock), "  natt-port: 0\n", "  natt-port: 4500\n", 1)
	}
}

// A fuzz input: one flag byte (bit 0: the daemon initiates its connection
// first), then records of one byte (source: fuzzSources[b%6]; bit 4: to
// the NAT-T port) and a two-byte length, then the datagram.
const (
	flagInitiate = 1
	toNATT       = 0x10
	maxRecords   = 24
)

type fuzzRecord struct {
	src  netip.AddrPort
	natt bool
	data []byte
}

func parseFuzz(in []byte) (flags byte, recs []fuzzRecord) {
	if len(in) == 0 {
		return 0, nil
	}
	flags, in = in[0], in[1:]
	for len(in) >= 3 && len(recs) < maxRecords {
		h, n := in[0], int(binary.BigEndian.Uint16(in[1:3]))
		in = in[3:]
		n = min(n, len(in))
		recs = append(recs, fuzzRecord{src: fuzzSources[int(h)%len(fuzzSources)], natt: h&toNATT != 0, data: in[:n]})
		in = in[n:]
	}
	return flags, recs
}

func encodeFuzz(flags byte, recs []fuzzRecord) []byte {
	out := []byte{flags}
	for _, r := range recs {
		h := byte(0)
		for i, s := range fuzzSources {
			if s == r.src {
				h = byte(i)
			}
		}
		if r.natt {
			h |= toNATT
		}
		out = append(out, h)
		out = binary.BigEndian.AppendUint16(out, uint16(len(r.data)))
		out = append(out, r.data...)
	}
	return out
}

// recordExchange runs the daemon under test (fixed random source) and a
// real peer until both have their IPsec SAs, the daemon initiating or the
// peer, in real time, and returns what reached the daemon as a fuzz input.
func recordExchange(tb testing.TB, daemonInitiates bool) []byte {
	tb.Helper()
	nw := &daemontest.Net{}
	host := stacktest.StartYAML(tb, fuzzPolicy(fuzzHost, fuzzPeer), stacktest.Options{Net: nw, Rand: newFuzzRand()})
	peer := stacktest.StartYAML(tb, fuzzPolicy(fuzzPeer, fuzzHost), stacktest.Options{Net: nw})
	defer host.Daemon.Stop()
	defer peer.Daemon.Stop()
	flags := byte(0)
	if daemonInitiates {
		flags = flagInitiate
		host.Ctl(tb, control.CmdInitiate, "link")
	} else {
		peer.Ctl(tb, control.CmdInitiate, "link")
	}
	stacktest.Wait(tb, 10*time.Second, "the recorded exchange", func() bool {
		return len(peer.Engine.SAs()) == 2 && len(host.Engine.SAs()) == 2
	}, host, peer)
	var recs []fuzzRecord
	for _, s := range nw.Sent() {
		if s.Lost || s.To.Addr() != fuzzHost {
			continue
		}
		recs = append(recs, fuzzRecord{src: s.From, natt: s.To.Port() == 4500, data: s.Data})
	}
	return encodeFuzz(flags, recs)
}

// runFuzz feeds one input to a fresh daemon in a synctest bubble and
// checks the invariants after each datagram; it returns the daemon's
// established ISAKMP SAs at the end.
func runFuzz(t *testing.T, in []byte) (established int) {
	flags, recs := parseFuzz(in)
	synctest.Test(t, func(t *testing.T) {
		nw := &daemontest.Net{}
		socks := map[netip.AddrPort]udp.PacketConn{}
		for _, s := range fuzzSources {
			c, err := nw.ListenUDP(s)
			if err != nil {
				t.Fatal(err)
			}
			socks[s] = c
		}
		n := stacktest.StartYAML(t, fuzzPolicy(fuzzHost, fuzzPeer), stacktest.Options{Net: nw, Rand: newFuzzRand()})
		d := n.Daemon
		if flags&flagInitiate != 0 {
			n.Ctl(t, control.CmdInitiate, "link")
		}
		synctest.Wait()
		prev, err := d.TableView()
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			accepted := d.Counters.Accepted.Load()
			to := netip.AddrPortFrom(fuzzHost, 500)
			if r.natt {
				to = netip.AddrPortFrom(fuzzHost, 4500)
			}
			if err := socks[r.src].WriteDatagram(udp.Datagram{Data: r.data, Remote: to}); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			for _, c := range socks {
				daemontest.Drain(c)
			}
			cur, err := d.TableView()
			if err != nil {
				t.Fatalf("after datagram %d from %v: %v", i, r.src, err)
			}
			if d.Counters.Accepted.Load() == accepted {
				for sa, was := range prev {
					if now, ok := cur[sa]; ok && (now.Cookies != was.Cookies || now.Local != was.Local || now.Remote != was.Remote) {
						t.Fatalf("datagram %d from %v accepted nowhere, yet an SA changed: %+v -> %+v", i, r.src, was, now)
					}
				}
			}
			prev = cur
		}
		if n := d.Counters.Dropped(daemon.DropPanic); n != 0 {
			t.Fatalf("%d panics recovered", n)
		}
		for _, v := range prev {
			if v.Established {
				established++
			}
		}
	})
	return established
}

// fuzzSeeds are the recorded exchanges: the peer initiating, and the
// daemon initiating. (The daemon's connection names the peer's own
// address, so a peer behind a NAT has no connection: the fuzzer moves
// the datagrams to the NAT's and the other sources itself.)
func fuzzSeeds(tb testing.TB) [][]byte {
	peerFirst := recordExchange(tb, false)
	return [][]byte{
		peerFirst,
		recordExchange(tb, true),
		fragmentSeed(tb, peerFirst),
	}
}

// fragmentSeed is a seed with every datagram cut into IKE fragments of
// at most 200 bytes (daemon/reassembly.go), as a peer on a narrow path
// sends them: the fuzzer then mutates fragment headers, numbers and
// flags too.
func fragmentSeed(tb testing.TB, seed []byte) []byte {
	flags, recs := parseFuzz(seed)
	var out []fuzzRecord
	for _, r := range recs {
		var marker []byte // the non-ESP marker on the NAT-T port
		msg := r.data
		if r.natt {
			marker, msg = msg[:4], msg[4:]
		}
		h, err := isakmp.ParseHeader(msg)
		if err != nil {
			tb.Fatal(err)
		}
		h.MessageID = 0
		fs, err := isakmp.FragmentMessage(h, msg, uint16(len(out)+1), 200)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range fs {
			out = append(out, fuzzRecord{src: r.src, natt: r.natt, data: append(append([]byte(nil), marker...), f...)})
		}
	}
	if len(out) > maxRecords {
		tb.Fatalf("%d fragments, more than a fuzz input holds (%d)", len(out), maxRecords)
	}
	return encodeFuzz(flags, out)
}

// TestFuzzSeedsReplay: each recorded exchange, replayed to a fresh daemon
// with the same random source, establishes its ISAKMP SA again, so the
// fuzzer starts from whole exchanges; its datagrams in another order or
// twice break no invariant.
func TestFuzzSeedsReplay(t *testing.T) {
	for i, seed := range fuzzSeeds(t) {
		if got := runFuzz(t, seed); got != 1 {
			t.Errorf("seed %d: %d established ISAKMP SAs after the replay, want 1", i, got)
		}
		flags, recs := parseFuzz(seed)
		twice := append(append([]fuzzRecord(nil), recs...), recs...)
		for j, k := 0, len(twice)-1; j < k; j, k = j+1, k-1 {
			twice[j], twice[k] = twice[k], twice[j]
		}
		runFuzz(t, encodeFuzz(flags, twice))
	}
}

// FuzzDaemonReceive is the stateful fuzz target (see above).
func FuzzDaemonReceive(f *testing.F) {
	// Minimizing an input the fuzzer found interesting takes up to
	// -fuzzminimizetime (a minute by default) of whole-daemon runs, whose
	// coverage differs a little from run to run (goroutines, map order):
	// a short run would spend itself minimizing. Cap it at 20 runs unless
	// the command line set it.
	if fl := flag.Lookup("test.fuzzminimizetime"); fl != nil && fl.Value.String() == fl.DefValue {
		if err := flag.Set("test.fuzzminimizetime", "20x"); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		runFuzz(t, in)
	})
}
