package phase1

import (
	"bytes"
	"crypto/hmac"
	"os"
	"path/filepath"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/ikecrypto/ikecryptotest"
	"github.com/iked/iked/interop"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// Known answers from real strongSwan 5.9 runs (interop/testdata/strongswan-
// runs, datagrams in isakmp/testdata/captures). The DH private keys of a
// recorded run are unknown, but charon logged the shared secret: an
// ikecryptotest.RecordedKey stands in for our DH key, giving the recorded
// public value and g^xy, and the recorded nonce is our random source. Our responder is
// then fed strongSwan's initiator messages and our initiator strongSwan's
// responder messages: each must accept the peer's HASH_I/HASH_R (so our
// SKEYID, IV chain, decryption and hash inputs are strongSwan's) and the
// HASH we send must be the one strongSwan sent in the same place.

const (
	runsDir     = "../interop/testdata/strongswan-runs"
	capturesDir = "../isakmp/testdata/captures"
)

type recording struct {
	msgs []*isakmp.Message // phase 1 datagrams in order
	raw  [][]byte
	gxy  []byte
	keys *interop.Keys
}

func loadRun(t *testing.T, run string, n int) *recording {
	t.Helper()
	rec := &recording{}
	files, err := filepath.Glob(filepath.Join(capturesDir, "strongswan-"+run+"-*.bin"))
	if err != nil || len(files) < n {
		t.Fatalf("captures of %s: %v (%d files)", run, err, len(files))
	}
	for _, f := range files[:n] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := isakmp.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rec.raw = append(rec.raw, b)
		rec.msgs = append(rec.msgs, m)
	}
	if rec.keys, err = interop.ReadKeys(filepath.Join(runsDir, run, "responder.log")); err != nil {
		t.Fatal(err)
	}
	s := rec.keys.Find("shared Diffie Hellman secret")
	if len(s) == 0 {
		t.Fatal("no DH secret in the log")
	}
	rec.gxy = s[0]
	return rec
}

// drive runs a Result's Work at once and resumes, returning the last Result.
func drive(t *testing.T, x *Exchange, env Env, st daemon.Result) daemon.Result {
	t.Helper()
	for st.Work != nil {
		if st.Reject != nil || st.DeleteSA {
			break
		}
		st = x.Resume(env, st.Work())
	}
	if st.Reject != nil || st.DeleteSA {
		t.Fatalf("step failed: reject=%v log=%v", st.Reject, st.Log)
	}
	return st
}

// hashIn decrypts a recorded encrypted message with iv and returns its
// HASH payload's data and the next IV.
func hashIn(t *testing.T, s *SA, raw []byte, iv []byte) ([]byte, []byte) {
	t.Helper()
	m, err := isakmp.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	next, err := open(m, s.cipher.Block(), iv)
	if err != nil {
		t.Fatal(err)
	}
	h := isakmp.PayloadOf[*isakmp.Hash](m)
	if h == nil {
		t.Fatal("no HASH payload")
	}
	return h.Data, next
}

func replayPSKSide(mode string, self string, psk string) side {
	return side{mode: mode, auth: "psk", psk: psk, ciphers: "aes128", hashes: "sha256", groups: "modp2048",
		lifetime: "4h24m", self: self}
}

// TestReplayStrongSwanMainModePSK replays run a (Main Mode, PSK,
// aes128-sha256-modp2048) against both of our roles.
func TestReplayStrongSwanMainModePSK(t *testing.T) {
	rec := loadRun(t, "a-mm-psk-modp2048", 6)
	const psk = "h4-run-a-psk-5Tq9"
	mm1, mm2, mm3, mm4 := rec.msgs[0], rec.msgs[1], rec.msgs[2], rec.msgs[3]
	ic, rc := mm1.Header.InitiatorCookie, mm2.Header.ResponderCookie
	gxi, gxr := isakmp.PayloadOf[*isakmp.KE](mm3).Data, isakmp.PayloadOf[*isakmp.KE](mm4).Data
	ni, nr := isakmp.PayloadOf[*isakmp.Nonce](mm3).Data, isakmp.PayloadOf[*isakmp.Nonce](mm4).Data
	g, _ := ikecrypto.NewGroup(ikecrypto.GroupMODP2048)

	t.Run("responder", func(t *testing.T) {
		pol := policyFor(t, replayPSKSide("main", "b", psk))
		env := testEnv()
		cfg := Config{Policy: pol, fixedKey: &ikecryptotest.RecordedKey{G: g, Public: gxr, Shared: rec.gxy, Peer: gxi}}
		x, st := NewResponder(env, cfg, ic, rc, addrB, addrA, rec.raw[0])
		if x == nil || st.Send == nil {
			t.Fatalf("MM1 refused: %v %v", st.Reject, st.Log)
		}
		env.Rand = bytes.NewReader(nr)
		st = drive(t, x, env, x.Consume(env, rec.raw[2]))
		if !bytes.Equal(isakmp.PayloadOf[*isakmp.KE](mustDecode(t, st.Send)).Data, gxr) {
			t.Fatal("MM4 KE is not the recorded one")
		}
		checkLoggedKeys(t, x.SA, rec.keys, x.SA.iv)
		env.Rand = testEnv().Rand
		st = drive(t, x, env, x.Consume(env, rec.raw[4]))
		if !st.Established {
			t.Fatalf("strongSwan's MM5 not accepted: %v", st.Log)
		}
		// Our MM6's HASH_R is strongSwan's.
		_, ivAfter5 := hashIn(t, x.SA, rec.raw[4], ikecrypto.Phase1IV(x.SA.PRF, gxi, gxr, 16))
		ours, _ := hashIn(t, x.SA, st.Send, ivAfter5)
		theirs, _ := hashIn(t, x.SA, rec.raw[5], ivAfter5)
		if !hmac.Equal(ours, theirs) {
			t.Fatalf("HASH_R differs from strongSwan's:\n%x\n%x", ours, theirs)
		}
		if !bytes.Equal(st.Send, rec.raw[5]) {
			t.Logf("MM6 is not byte-identical to strongSwan's (%d/%d bytes)", len(st.Send), len(rec.raw[5]))
		}
	})

	t.Run("initiator", func(t *testing.T) {
		pol := policyFor(t, replayPSKSide("main", "a", psk))
		conn, _ := pol.Connection("c")
		env := testEnv()
		cfg := Config{Policy: pol, fixedKey: &ikecryptotest.RecordedKey{G: g, Public: gxi, Shared: rec.gxy, Peer: gxr}}
		x := initiateAsRecorded(t, env, cfg, conn, ic, mm1)
		env.Rand = bytes.NewReader(ni)
		st := drive(t, x, env, x.Consume(env, rec.raw[1]))
		m3 := mustDecode(t, st.Send)
		if !bytes.Equal(isakmp.PayloadOf[*isakmp.KE](m3).Data, gxi) || !bytes.Equal(isakmp.PayloadOf[*isakmp.Nonce](m3).Data, ni) {
			t.Fatal("MM3 is not the recorded KE and nonce")
		}
		env.Rand = testEnv().Rand
		st = drive(t, x, env, x.Consume(env, rec.raw[3]))
		iv0 := checkInitiatorAsRecorded(t, x.SA, rec, gxi, gxr, st.Send, rec.raw[4])
		// Continue the IV chain from strongSwan's MM5, which is what the
		// recorded MM6 was encrypted after.
		_, x.SA.iv = hashIn(t, x.SA, rec.raw[4], iv0)
		st = drive(t, x, env, x.Consume(env, rec.raw[5]))
		if !st.Established {
			t.Fatalf("strongSwan's MM6 not accepted: %v", st.Log)
		}
	})
}

func mustDecode(t *testing.T, b []byte) *isakmp.Message {
	t.Helper()
	m, err := isakmp.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkInitiatorAsRecorded checks our initiator of a replayed run against
// strongSwan's record: the keys it logged (with the first IV of phase 1,
// from g^xi and g^xr), and the HASH_I of our authenticating message ours
// against the one in the recorded theirs. It returns that first IV.
func checkInitiatorAsRecorded(t *testing.T, s *SA, rec *recording, gxi, gxr, ours, theirs []byte) []byte {
	t.Helper()
	iv0 := ikecrypto.Phase1IV(s.PRF, gxi, gxr, 16)
	checkLoggedKeys(t, s, rec.keys, iv0)
	hi, _ := hashIn(t, s, ours, iv0)
	hr, _ := hashIn(t, s, theirs, iv0)
	if !hmac.Equal(hi, hr) {
		t.Fatalf("HASH_I differs from strongSwan's:\n%x\n%x", hi, hr)
	}
	return iv0
}

// checkLoggedKeys compares our derivation with the values charon logged.
func checkLoggedKeys(t *testing.T, s *SA, k *interop.Keys, iv []byte) {
	t.Helper()
	for _, c := range []struct {
		title string
		ours  []byte
	}{{"SKEYID", s.keys.SKEYID}, {"SKEYID_d", s.keys.SKEYIDd}, {"SKEYID_a", s.keys.SKEYIDa},
		{"SKEYID_e", s.keys.SKEYIDe}, {"encryption key Ka", s.ka}, {"initial IV", iv}} {
		v := k.Find(c.title)
		if len(v) == 0 {
			t.Fatalf("%s not in the log", c.title)
		}
		if !bytes.Equal(v[0], c.ours) {
			t.Fatalf("%s: ours %x, strongSwan %x", c.title, c.ours, v[0])
		}
	}
}

// TestReplayStrongSwanAggressivePSK replays run e (Aggressive Mode, PSK,
// FQDN identities) against both of our roles.
func TestReplayStrongSwanAggressivePSK(t *testing.T) {
	rec := loadRun(t, "e-am-psk-modp2048", 3)
	const psk = "h4-run-e-psk-Vb8k"
	am1, am2 := rec.msgs[0], rec.msgs[1]
	ic, rc := am1.Header.InitiatorCookie, am2.Header.ResponderCookie
	gxi, gxr := isakmp.PayloadOf[*isakmp.KE](am1).Data, isakmp.PayloadOf[*isakmp.KE](am2).Data
	ni, nr := isakmp.PayloadOf[*isakmp.Nonce](am1).Data, isakmp.PayloadOf[*isakmp.Nonce](am2).Data
	g, _ := ikecrypto.NewGroup(ikecrypto.GroupMODP2048)
	sideOf := func(self, local, remote string) side {
		s := replayPSKSide("aggressive", self, psk)
		s.localID, s.remoteID = local, remote
		return s
	}

	t.Run("responder", func(t *testing.T) {
		pol := policyFor(t, sideOf("b", "fqdn:responder.example", "fqdn:initiator.example"))
		env := testEnv()
		env.Rand = bytes.NewReader(nr)
		cfg := Config{Policy: pol, fixedKey: &ikecryptotest.RecordedKey{G: g, Public: gxr, Shared: rec.gxy, Peer: gxi}}
		x, st := NewResponder(env, cfg, ic, rc, addrB, addrA, rec.raw[0])
		if x == nil {
			t.Fatalf("AM1 refused: %v %v", st.Reject, st.Log)
		}
		st = drive(t, x, env, st)
		checkLoggedKeys(t, x.SA, rec.keys, x.SA.iv)
		ours := isakmp.PayloadOf[*isakmp.Hash](mustDecode(t, st.Send))
		theirs := isakmp.PayloadOf[*isakmp.Hash](am2)
		if ours == nil || theirs == nil || !hmac.Equal(ours.Data, theirs.Data) {
			t.Fatal("our HASH_R differs from strongSwan's")
		}
		env.Rand = testEnv().Rand
		st = drive(t, x, env, x.Consume(env, rec.raw[2]))
		if !st.Established {
			t.Fatalf("strongSwan's AM3 not accepted: %v", st.Log)
		}
	})

	t.Run("initiator", func(t *testing.T) {
		pol := policyFor(t, sideOf("a", "fqdn:initiator.example", "fqdn:responder.example"))
		conn, _ := pol.Connection("c")
		env := testEnv()
		env.Rand = bytes.NewReader(ni)
		cfg := Config{Policy: pol, fixedKey: &ikecryptotest.RecordedKey{G: g, Public: gxi, Shared: rec.gxy, Peer: gxr}}
		x, st, err := NewInitiator(env, cfg, conn, ic, addrA, addrB)
		if err != nil {
			t.Fatal(err)
		}
		st = drive(t, x, env, st)
		m1 := mustDecode(t, st.Send)
		if got, want := isakmp.PayloadOf[*isakmp.SA](m1).Raw, isakmp.PayloadOf[*isakmp.SA](am1).Raw; !bytes.Equal(got, want) {
			t.Fatalf("our AM1 SA payload differs from strongSwan's:\n%x\n%x", got, want)
		}
		if got, want := isakmp.PayloadOf[*isakmp.ID](m1).Raw, isakmp.PayloadOf[*isakmp.ID](am1).Raw; !bytes.Equal(got, want) {
			t.Fatalf("our AM1 ID payload differs from strongSwan's:\n%x\n%x", got, want)
		}
		env.Rand = testEnv().Rand
		st = drive(t, x, env, x.Consume(env, rec.raw[1]))
		if !st.Established {
			t.Fatalf("strongSwan's AM2 not accepted: %v", st.Log)
		}
		checkInitiatorAsRecorded(t, x.SA, rec, gxi, gxr, st.Send, rec.raw[2])
	})
}

// TestReplayStrongSwanMainModeECDSA replays run h (Main Mode, ECDSA P-256
// certificates from strongSwan's pki, FQDN identities) against both roles:
// strongSwan's SIG_I and SIG_R verify with our chain validation and our
// HASH_I/HASH_R (HMAC-SHA-256 of the curve, RFC 4754) equal the values
// charon signed, as its log shows them. ECDSA signatures are randomised,
// so ours cannot equal theirs byte for byte.
func TestReplayStrongSwanMainModeECDSA(t *testing.T) {
	const run = "h-mm-ecdsa-modp2048"
	rec := loadRun(t, run, 6)
	mm1, mm2, mm3, mm4 := rec.msgs[0], rec.msgs[1], rec.msgs[2], rec.msgs[3]
	ic, rc := mm1.Header.InitiatorCookie, mm2.Header.ResponderCookie
	gxi, gxr := isakmp.PayloadOf[*isakmp.KE](mm3).Data, isakmp.PayloadOf[*isakmp.KE](mm4).Data
	ni, nr := isakmp.PayloadOf[*isakmp.Nonce](mm3).Data, isakmp.PayloadOf[*isakmp.Nonce](mm4).Data
	g, _ := ikecrypto.NewGroup(ikecrypto.GroupMODP2048)
	hashI, hashR := rec.keys.Find("HASH_I"), rec.keys.Find("HASH_R")
	if len(hashI) == 0 || len(hashR) == 0 {
		t.Fatal("HASH_I/HASH_R not in the log")
	}
	sideOf := func(self, who, peer string) side {
		return side{mode: "main", auth: "p256", ciphers: "aes128", hashes: "sha256", groups: "modp2048",
			lifetime: "4h24m", self: self, localID: "fqdn:" + who + ".example", remoteID: "fqdn:" + peer + ".example",
			pkiDir: filepath.Join(runsDir, run, "pki"), ca: "ca-cert.pem", cert: who + "-cert.pem", key: who + "-key.pem"}
	}
	ours := func(s *SA, who daemon.Role) []byte {
		j := s.keyJob(nil)
		b, _ := idBody(s.LocalID)
		return j.hash(who, b)
	}

	t.Run("responder", func(t *testing.T) {
		pol := policyFor(t, sideOf("b", "responder", "initiator"))
		env := testEnv()
		cfg := Config{Policy: pol, SendCert: true, fixedKey: &ikecryptotest.RecordedKey{G: g, Public: gxr, Shared: rec.gxy, Peer: gxi}}
		x, st := NewResponder(env, cfg, ic, rc, addrB, addrA, rec.raw[0])
		if x == nil {
			t.Fatalf("MM1 refused: %v %v", st.Reject, st.Log)
		}
		if x.SA.Transform.Auth != isakmp.AuthECDSA256 {
			t.Fatalf("auth method %s", x.SA.Transform.Auth)
		}
		env.Rand = bytes.NewReader(nr)
		drive(t, x, env, x.Consume(env, rec.raw[2]))
		checkLoggedKeys(t, x.SA, rec.keys, x.SA.iv)
		env.Rand = testEnv().Rand
		// The established SA lets go of the nonces and DH values
		// (settle): HASH_R is computed on a copy taken before.
		pre := *x.SA
		st = drive(t, x, env, x.Consume(env, rec.raw[4]))
		if !st.Established || x.SA.PeerCert == nil {
			t.Fatalf("strongSwan's SIG_I not accepted: %v", st.Log)
		}
		pre.LocalID = x.SA.LocalID
		if h := ours(&pre, daemon.RoleResponder); !bytes.Equal(h, hashR[0]) {
			t.Fatalf("HASH_R: ours %x, strongSwan %x", h, hashR[0])
		}
	})

	t.Run("initiator", func(t *testing.T) {
		pol := policyFor(t, sideOf("a", "initiator", "responder"))
		conn, _ := pol.Connection("c")
		env := testEnv()
		cfg := Config{Policy: pol, SendCert: true, fixedKey: &ikecryptotest.RecordedKey{G: g, Public: gxi, Shared: rec.gxy, Peer: gxr}}
		x := initiateAsRecorded(t, env, cfg, conn, ic, mm1)
		env.Rand = bytes.NewReader(ni)
		drive(t, x, env, x.Consume(env, rec.raw[1]))
		env.Rand = testEnv().Rand
		drive(t, x, env, x.Consume(env, rec.raw[3]))
		if h := ours(x.SA, daemon.RoleInitiator); !bytes.Equal(h, hashI[0]) {
			t.Fatalf("HASH_I: ours %x, strongSwan %x", h, hashI[0])
		}
		iv0 := ikecrypto.Phase1IV(x.SA.PRF, gxi, gxr, 16)
		m5 := mustDecode(t, rec.raw[4])
		next, err := open(m5, x.SA.cipher.Block(), iv0)
		if err != nil {
			t.Fatal(err)
		}
		x.SA.iv = next
		st := drive(t, x, env, x.Consume(env, rec.raw[5]))
		if !st.Established || x.SA.PeerCert == nil {
			t.Fatalf("strongSwan's SIG_R not accepted: %v", st.Log)
		}
	})
}

// initiateAsRecorded starts our Main Mode initiator and checks that its
// MM1 offers the SA payload of the recorded one.
func initiateAsRecorded(t *testing.T, env Env, cfg Config, conn *policymgr.Connection, ic [8]byte, mm1 *isakmp.Message) *Exchange {
	t.Helper()
	x, st, err := NewInitiator(env, cfg, conn, ic, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := isakmp.PayloadOf[*isakmp.SA](mustDecode(t, st.Send)).Raw, isakmp.PayloadOf[*isakmp.SA](mm1).Raw; !bytes.Equal(got, want) {
		t.Fatalf("our MM1 SA payload differs from strongSwan's:\n%x\n%x", got, want)
	}
	return x
}
