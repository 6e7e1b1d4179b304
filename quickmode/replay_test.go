package quickmode

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/engine/memory"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/ikecrypto/ikecryptotest"
	"github.com/iked/iked/interop"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
)

// Known answers from real strongSwan 5.9 runs (interop/testdata/
// strongswan-runs a, b and c; datagrams in isakmp/testdata/captures).
// Charon logged its phase 1 keys and its child SA keys (ike=4, chd=4).
// From these we rebuild each side's established ISAKMP SA (SKEYID_a,
// SKEYID_d, Ka, the last CBC block of MM6 from the capture), pin our
// nonce, SPI and PFS key to the recorded ones, and then:
//   - as responder, strongSwan's QM1 must verify (HASH(1)), our QM2 must be
//     byte for byte strongSwan's QM2 (so HASH(2), the IV chain, the SA
//     echo and the payload order are strongSwan's), strongSwan's QM3 must
//     verify (HASH(3));
//   - as initiator, our QM1 must be strongSwan's QM1 byte for byte, its
//     QM2 must verify, our QM3 must be its QM3;
//   - in both roles the keys we hand the engine must be the ones charon
//     logged ("encryption/integrity initiator/responder key").

const (
	runsDir     = "../interop/testdata/strongswan-runs"
	capturesDir = "../isakmp/testdata/captures"
)

type recordedRun struct {
	name          string
	cipher        ikecrypto.EncryptionAlgorithm
	keyBits       int
	hash          ikecrypto.HashAlgorithm
	esp           string // transforms line
	pfs           string
	group         ikecrypto.GroupID
	raw           [][]byte
	iKeys, rKeys  *interop.Keys
	qm1, qm2, qm3 *isakmp.Message // decrypted
}

var recordedRuns = []recordedRun{
	{name: "a-mm-psk-modp2048", cipher: ikecrypto.EncryptionAlgorithm(7), keyBits: 128, hash: ikecrypto.HashAlgorithm(4),
		esp: "esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}", pfs: "none"},
	{name: "b-mm-psk-3des-modp1024-pfs", cipher: ikecrypto.EncryptionAlgorithm(5), hash: ikecrypto.HashAlgorithm(2),
		esp: "esp: {protocol: esp, ciphers: [aes256], hmacs: [sha1]}", pfs: "modp1024", group: 2},
	{name: "c-mm-psk-ecp256-gcm-pfs", cipher: ikecrypto.EncryptionAlgorithm(7), keyBits: 256, hash: ikecrypto.HashAlgorithm(4),
		esp: "esp: {protocol: esp, ciphers: [aes128gcm16], hmacs: [none]}", pfs: "ecp256", group: 19},
}

func parseLog(t *testing.T, path string) *interop.Keys {
	t.Helper()
	k, err := interop.ReadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func loadRecorded(t *testing.T, run recordedRun) *recordedRun {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, "strongswan-"+run.name+"-*.bin"))
	if err != nil || len(files) < 9 {
		t.Fatalf("captures of %s: %v", run.name, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		run.raw = append(run.raw, b)
	}
	run.iKeys = parseLog(t, filepath.Join(runsDir, run.name, "initiator.log"))
	run.rKeys = parseLog(t, filepath.Join(runsDir, run.name, "responder.log"))
	// Decrypt the three Quick Mode messages with charon's Ka and the IV
	// chain of RFC 2409, Appendix B.
	p1 := run.p1(t, daemon.RoleResponder, nil)
	iv := ikecrypto.Phase2IV(p1.PRF, p1.LastBlock(), run.mid(t), p1.Cipher().BlockSize())
	var msgs []*isakmp.Message
	for _, raw := range run.raw[6:9] {
		m, err := isakmp.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if iv, err = open(m, p1.Cipher().Block(), iv); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	run.qm1, run.qm2, run.qm3 = msgs[0], msgs[1], msgs[2]
	return &run
}

func (r *recordedRun) mid(t *testing.T) uint32 {
	h, err := isakmp.ParseHeader(r.raw[6])
	if err != nil || h.Exchange != isakmp.ExchangeQuickMode {
		t.Fatalf("datagram 7 of %s is not Quick Mode: %v", r.name, err)
	}
	return h.MessageID
}

// p1 rebuilds the established ISAKMP SA of one side from charon's log and
// the capture. Both charons ran with kernel-libipsec, which fakes NAT-D:
// NAT-T (RFC 3947) negotiated, a NAT detected, port 4500.
func (r *recordedRun) p1(t *testing.T, role daemon.Role, pol *policymgr.Policy) *phase1.SA {
	t.Helper()
	keys := r.rKeys
	local, remote := netip.MustParseAddrPort("192.0.2.2:4500"), netip.MustParseAddrPort("192.0.2.1:4500")
	if role == daemon.RoleInitiator {
		keys = r.iKeys
		local, remote = remote, local
	}
	ik := keys.IKE[0]
	prf, err := ikecrypto.NewPRF(r.hash)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ikecrypto.NewCipher(r.cipher, r.keyBits, ik.Ka)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := isakmp.ParseHeader(r.raw[0])
	h2, _ := isakmp.ParseHeader(r.raw[1])
	mm6 := r.raw[5]
	s := &phase1.SA{ICookie: h.InitiatorCookie, RCookie: h2.ResponderCookie, Role: role, State: phase1.StateEstablished,
		Mode: isakmp.ExchangeMain, Policy: pol, Local: local, Remote: remote, PRF: prf,
		VendorIDs: [][]byte{{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f}},
		PeerNATT:  true, RemoteBehindNAT: true, Floated: true,
		LocalIDText: local.Addr().String(), RemoteIDText: remote.Addr().String()}
	s.SetKeys(ikecrypto.KeyMaterial{SKEYID: ik.SKEYID, SKEYIDd: ik.SKEYIDd, SKEYIDa: ik.SKEYIDa, SKEYIDe: ik.SKEYIDe},
		ik.Ka, c, bytes.Clone(mm6[len(mm6)-c.BlockSize():]))
	if pol != nil {
		s.Conn, _ = pol.Connection("c")
	}
	return s
}

// policy is the connection the recorded charons had (swanctl.conf):
// 198.51.100.0/25 (initiator) to 198.51.100.128/25, tunnel, life_time
// 3960 s.
func (r *recordedRun) policy(t *testing.T, initiator bool) *policymgr.Policy {
	s := qmSide{tunnel: true, local: "198.51.100.128/25", remote: "198.51.100.0/25", ipsec: r.esp, pfs: r.pfs, lifetime: "66m", self: "b"}
	if initiator {
		s.local, s.remote, s.self = s.remote, s.local, "a"
	}
	return loadPolicy(t, s)
}

// spiRand makes the memory engine allocate exactly spi (it draws a
// 32-bit offset from 256).
func spiRand(spi uint32) *bytes.Reader {
	return bytes.NewReader(binary.BigEndian.AppendUint32(nil, spi-256))
}

// drive runs every Work and engine request of a daemon.Result at once.
func drive(t *testing.T, x *Exchange, env Env, eng *engine.Engine, st daemon.Result) (sent [][]byte, last daemon.Result) {
	t.Helper()
	for {
		if st.Reject != nil || x.Failed() {
			t.Fatalf("step failed: %v %v", st.Reject, st.Log)
		}
		if st.Send != nil {
			sent = append(sent, st.Send)
		}
		last = st
		var vals []any
		if st.Work != nil {
			vals = append(vals, st.Work())
		}
		for _, r := range st.Engine {
			vals = append(vals, eng.Do(r))
		}
		if len(vals) == 0 {
			return sent, last
		}
		for i, v := range vals {
			st = x.Resume(env, v)
			if i < len(vals)-1 {
				s2, l2 := drive(t, x, env, eng, st)
				sent = append(sent, s2...)
				last = l2
			}
		}
	}
}

// replaySide is what replaying one side of a recorded run takes: its
// policy and ISAKMP SA, the recorded nonce and PFS key, an engine that
// allocates the recorded SPI.
type replaySide struct {
	pol  *policymgr.Policy
	p1   *phase1.SA
	cfg  Config
	env  Env
	eng  *engine.Engine
	back *memory.Backend
}

// side sets up the initiator's side of the run, or the responder's.
func (r *recordedRun) side(t *testing.T, initiator bool) replaySide {
	role, ours, theirs, keys := daemon.RoleResponder, r.qm2, r.qm1, r.rKeys
	if initiator {
		role, ours, theirs, keys = daemon.RoleInitiator, r.qm1, r.qm2, r.iKeys
	}
	pol := r.policy(t, initiator)
	eng, back := replayEngine(t, binary.BigEndian.Uint32(isakmp.PayloadOf[*isakmp.SA](ours).Proposals[0].SPI))
	cfg := Config{Policy: pol, LifetimeMin: pol.Daemon.Phase2LifetimeMin, fixedNonce: isakmp.PayloadOf[*isakmp.Nonce](ours).Data}
	if r.group != 0 {
		g, _ := ikecrypto.NewGroup(r.group)
		cfg.fixedKey = &ikecryptotest.RecordedKey{G: g, Public: isakmp.PayloadOf[*isakmp.KE](ours).Data,
			Peer: isakmp.PayloadOf[*isakmp.KE](theirs).Data, Shared: keys.Child[0].DHSecret}
	}
	var tok uint64
	env := Env{Now: testNow, Rand: bytes.NewReader(nil), Tokens: TokenFunc(func() uint64 { tok++; return tok })}
	return replaySide{pol: pol, p1: r.p1(t, role, pol), cfg: cfg, env: env, eng: eng, back: back}
}

func replayEngine(t *testing.T, spi uint32) (*engine.Engine, *memory.Backend) {
	back := memory.New(memory.Options{Rand: spiRand(spi)})
	if err := back.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	return engine.New(back, engine.Config{}), back
}

// checkChildKeys compares the engine's records with charon's child keys.
func checkChildKeys(t *testing.T, back *memory.Backend, run *recordedRun, initiator bool) {
	t.Helper()
	ck := run.rKeys.Child[0]
	if initiator {
		ck = run.iKeys.Child[0]
	}
	iSPI := binary.BigEndian.Uint32(isakmp.PayloadOf[*isakmp.SA](run.qm1).Proposals[0].SPI)
	rSPI := binary.BigEndian.Uint32(isakmp.PayloadOf[*isakmp.SA](run.qm2).Proposals[0].SPI)
	recs := back.SAs()
	if len(recs) != 2 {
		t.Fatalf("%d SAs installed", len(recs))
	}
	for _, rec := range recs {
		// The SA towards the responder is keyed with the responder's SPI:
		// charon's "initiator" keys.
		enc, integ := ck.EncR, ck.IntegR
		if rec.Ref.SPI == rSPI {
			enc, integ = ck.EncI, ck.IntegI
		} else if rec.Ref.SPI != iSPI {
			t.Fatalf("unexpected SPI %s", rec.Ref)
		}
		if !bytes.Equal(rec.SA.Encryption.Key, enc) {
			t.Errorf("%s encryption key %x, charon %x", rec.Ref, []byte(rec.SA.Encryption.Key), enc)
		}
		var ours []byte
		if rec.SA.Integrity != nil {
			ours = rec.SA.Integrity.Key
		}
		if !bytes.Equal(ours, integ) {
			t.Errorf("%s integrity key %x, charon %x", rec.Ref, ours, integ)
		}
		if rec.Encap == nil || rec.Encap.LocalPort != 4500 || rec.Encap.RemotePort != 4500 || rec.Lifetime.HardSeconds != 3960 {
			t.Errorf("%s encap %+v lifetime %+v", rec.Ref, rec.Encap, rec.Lifetime)
		}
	}
}

func hashDump(t *testing.T, k *interop.Keys, title string) []byte {
	d := k.Find(title)
	if len(d) == 0 {
		t.Fatalf("no %s in charon's log", title)
	}
	return d[0]
}

func TestReplayStrongSwanResponder(t *testing.T) {
	for _, rr := range recordedRuns {
		t.Run(rr.name, func(t *testing.T) {
			run := loadRecorded(t, rr)
			r := run.side(t, false)
			p1, cfg, env, eng, back := r.p1, r.cfg, r.env, r.eng, r.back
			x, st := NewResponder(env, cfg, p1, run.raw[6])
			if x == nil {
				t.Fatalf("strongSwan's QM1 refused: %v %v", st.Reject, st.Log)
			}
			if h := isakmp.PayloadOf[*isakmp.Hash](run.qm1).Data; !bytes.Equal(h, hashDump(t, run.rKeys, "Hash(1)")) {
				t.Errorf("QM1 HASH is not charon's logged Hash(1)")
			}
			sent, _ := drive(t, x, env, eng, st)
			if len(sent) != 1 {
				t.Fatalf("sent %d messages", len(sent))
			}
			if !bytes.Equal(sent[0], run.raw[7]) {
				ours, _ := isakmp.Decode(sent[0])
				iv := ikecrypto.Phase2IV(p1.PRF, p1.LastBlock(), x.MessageID, p1.Cipher().BlockSize())
				m1, _ := isakmp.Decode(run.raw[6])
				iv, _ = open(m1, p1.Cipher().Block(), iv)
				if _, err := open(ours, p1.Cipher().Block(), iv); err != nil {
					t.Fatal(err)
				}
				t.Fatalf("our QM2 differs from strongSwan's:\nours %x\ntheirs %x", ours.Body, run.qm2.Body)
			}
			if h := isakmp.PayloadOf[*isakmp.Hash](run.qm2).Data; !bytes.Equal(h, hashDump(t, run.rKeys, "Hash(2)")) {
				t.Errorf("HASH(2) is not charon's logged Hash(2)")
			}
			st = x.Consume(env, run.raw[8])
			if st.Reject != nil {
				t.Fatalf("strongSwan's QM3 refused: %v", st.Reject)
			}
			drive(t, x, env, eng, st)
			if x.State != StateEstablished {
				t.Fatalf("state %v", x.State)
			}
			if h := isakmp.PayloadOf[*isakmp.Hash](run.qm3).Data; !bytes.Equal(h, hashDump(t, run.rKeys, "Hash(3)")) {
				t.Errorf("QM3 HASH is not charon's logged Hash(3)")
			}
			checkChildKeys(t, back, run, false)
		})
	}
}

func TestReplayStrongSwanInitiator(t *testing.T) {
	for _, rr := range recordedRuns {
		t.Run(rr.name, func(t *testing.T) {
			run := loadRecorded(t, rr)
			r := run.side(t, true)
			p1, pol, cfg, env, eng, back := r.p1, r.pol, r.cfg, r.env, r.eng, r.back
			conn, _ := pol.Connection("c")
			x, st, err := NewInitiator(env, cfg, p1, conn, run.mid(t))
			if err != nil {
				t.Fatal(err)
			}
			sent, _ := drive(t, x, env, eng, st)
			if len(sent) != 1 || !bytes.Equal(sent[0], run.raw[6]) {
				ours, _ := isakmp.Decode(sent[0])
				iv := ikecrypto.Phase2IV(p1.PRF, p1.LastBlock(), x.MessageID, p1.Cipher().BlockSize())
				if _, err := open(ours, p1.Cipher().Block(), iv); err != nil {
					t.Fatal(err)
				}
				t.Fatalf("our QM1 differs from strongSwan's:\nours   %x\ntheirs %x", ours.Body, run.qm1.Body)
			}
			st = x.Consume(env, run.raw[7])
			if st.Reject != nil || x.Failed() {
				t.Fatalf("strongSwan's QM2 refused: %v %v", st.Reject, st.Log)
			}
			sent, _ = drive(t, x, env, eng, st)
			if len(sent) != 1 || !bytes.Equal(sent[0], run.raw[8]) {
				t.Fatalf("our QM3 is not strongSwan's")
			}
			if x.State != StateEstablished {
				t.Fatalf("state %v", x.State)
			}
			checkChildKeys(t, back, run, true)
		})
	}
}
