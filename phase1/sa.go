package phase1

import (
	"bytes"
	"crypto/cipher"
	"crypto/x509"
	"net/netip"
	"slices"
	"time"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// SA is one ISAKMP SA (RFC 2408, 2.5.3): what phase 1 negotiated and
// derived, kept for as long as the SA lives because Quick Mode and the
// informational exchanges are protected by it (RFC 2409, 5.5 and 5.7).
// The daemon stores it in its SA table's State field.
//
// Secrets (the DH private key, g^xy, SKEYID and its offspring, Ka, the
// keyed cipher) are unexported: other packages read what they need
// through SKEYIDd, SKEYIDa, Cipher, LastBlock and InfoKeys, and Alive says
// whether the SA still has them. They are never printed (but at the keys
// level of the log); Wipe overwrites them when the SA is deleted.
type SA struct {
	// ICookie and RCookie are the ISAKMP header cookies (RFC 2408, 3.1).
	ICookie, RCookie [8]byte
	Role             daemon.Role
	State            State
	// Mode is ExchangeMain or ExchangeAggressive.
	Mode isakmp.ExchangeType

	// Conn is the policy connection the SA belongs to; for a responder it
	// is known once the first message chose a transform (Main Mode by
	// address) or named the peer (Aggressive Mode). Policy is the policy
	// file it came from.
	Conn   *policymgr.Connection
	Policy *policymgr.Policy

	// Local and Remote are the addresses and ports of the exchange; NAT-T
	// moves both to port 4500 (RFC 3947, 4).
	Local, Remote netip.AddrPort

	// Transform is the negotiated transform; TransformNumber is its number
	// in the initiator's proposal.
	Transform       Transform
	TransformNumber uint8
	// Handshake holds what only the phase 1 exchange needs; it goes
	// (nil) once the SA is established (settle).
	*Handshake

	// PRF is the negotiated PRF (HMAC of the negotiated hash); AuthPRF
	// the one HASH_I/HASH_R use (differs for ECDSA, see ikecrypto.AuthPRF).
	PRF     ikecrypto.PRF
	AuthPRF ikecrypto.PRF
	// keys holds SKEYID, SKEYID_d (Quick Mode KEYMAT), SKEYID_a (phase 2
	// and informational hashes), SKEYID_e.
	keys ikecrypto.KeyMaterial
	// ka is the phase 1 cipher key and cipher the cipher keyed with it.
	ka     []byte
	cipher ikecrypto.Cipher
	// iv is the phase 1 IV chain (RFC 2409, Appendix B). Once established
	// it is the last CBC block of phase 1, from which every Quick Mode and
	// informational exchange derives its first IV (ikecrypto.Phase2IV).
	iv []byte

	// LocalID and RemoteID are the ID payloads sent and received (their
	// bodies enter HASH_I/HASH_R); LocalIDText and RemoteIDText print them
	// for messages.
	LocalID, RemoteID         *isakmp.ID
	LocalIDText, RemoteIDText string
	// PeerCert is the peer's verified end-entity certificate (signature
	// authentication), nil otherwise.
	PeerCert *x509.Certificate
	// peerCerts are the DER certificates the peer sent in CERT payloads.
	peerCerts [][]byte
	// peerCR is true when the peer asked for our certificate (CR payload).
	peerCR bool
	// PeerInitialContact: the peer sent INITIAL-CONTACT during phase 1
	// (RFC 2407, 4.6.3.3): its other SAs with us are stale.
	PeerInitialContact bool

	// VendorIDs are the Vendor ID payloads the peer sent, in order.
	// PeerDPD, PeerXAuth and PeerNATT record what they announce (RFC
	// 3706; draft-beaulieu-ike-xauth-02; RFC 3947 and its drafts);
	// NATTDraft is set when the peer knows only a draft, so NAT-D
	// payloads use the draft payload number.
	VendorIDs [][]byte
	PeerDPD   bool
	PeerXAuth bool
	PeerNATT  bool
	NATTDraft bool
	// PeerFragmentation: the peer announced IKE fragmentation (its
	// FRAGMENTATION Vendor ID, fragmentation.go).
	PeerFragmentation bool
	// NAT-T state (RFC 3947, 3 and 4), filled by the NAT-D check: whether
	// a NAT sits in front of us or of the peer, and whether the SA moved
	// to port 4500.
	LocalBehindNAT  bool
	RemoteBehindNAT bool
	Floated         bool

	// Created is when the exchange began; EstablishedAt when it was
	// authenticated. The SA expires LifeSeconds after EstablishedAt.
	Created       time.Time
	EstablishedAt time.Time

	// FailReason is why the negotiation failed (for message 46 and
	// ikectl).
	FailReason string
}

// Handshake is the part of an ISAKMP SA that only its phase 1 exchange
// uses: the offer, the values that enter SKEYID, HASH_I and HASH_R, and
// the Diffie-Hellman secrets. An established SA no longer has it, so that
// the 100,000 SAs a responder may hold do not each keep it
// (docs/performance.md, "Memory at scale").
type Handshake struct {
	// Offered is what the initiator proposed (initiator side: our offer).
	Offered []Transform
	// SAiB is the body of the initiator's SA payload exactly as sent: it
	// enters HASH_I and HASH_R (RFC 2409, 5).
	SAiB []byte

	// Ni and Nr are the nonce payload bodies; GXi and GXr the KE payload
	// bodies (the DH public values).
	Ni, Nr   []byte
	GXi, GXr []byte
	dh       ikecrypto.PrivateKey
	gxy      []byte
	// block is the cipher keyed with Ka for the handshake's encrypted
	// messages (handshakeBlock).
	block cipher.Block
	// spare is the job of the last step that computed our side
	// (computed), for keyJob to reuse: a job is some 700 bytes, and a
	// handshake has two or three in a row. The worker is done with it:
	// job.run returns the job itself as the work result, and the daemon
	// resumes the exchange with it only after run returned
	// (daemon/exchange.go, startWork), one job at a time. Its key fields
	// are the SA's own keys (adoptKeys), not copies, so Wipe and dropDH
	// clear what it refers to; it goes with the rest of the Handshake.
	spare *job
}

// handshakeBlock returns the SA's block cipher for the encrypted messages
// of its handshake (MM5 and MM6, AM3). ikecrypto's Cipher builds its key
// schedule at each call, so that an established SA keeps none (about 500
// bytes for AES); the handshake builds it once and drops it with the rest
// of the Handshake (settle).
func (s *SA) handshakeBlock() cipher.Block {
	if s.Handshake == nil {
		return s.cipher.Block()
	}
	if s.block == nil {
		s.block = s.cipher.Block()
	}
	return s.block
}

// Cookies returns the 16 bytes of both cookies: the SPI of an ISAKMP SA in
// Delete and Notification payloads (RFC 2408, 3.14 and 3.15).
func (s *SA) Cookies() []byte { return cookieSPI(s.ICookie, s.RCookie) }

// cookieSPI is the SPI of an ISAKMP SA: CKY-I then CKY-R, 16 bytes (RFC
// 2408, 3.14 and 3.15).
func cookieSPI(iCookie, rCookie [8]byte) []byte {
	return append(append(make([]byte, 0, 16), iCookie[:]...), rCookie[:]...)
}

// Expires returns when the ISAKMP SA's negotiated lifetime ends (zero time:
// no lifetime in seconds was negotiated, or not established).
func (s *SA) Expires() time.Time {
	if s.EstablishedAt.IsZero() || s.Transform.LifeSeconds == 0 {
		return time.Time{}
	}
	return s.EstablishedAt.Add(s.Transform.Lifetime())
}

// SKEYIDd returns SKEYID_d, from which Quick Mode derives KEYMAT.
func (s *SA) SKEYIDd() []byte { return s.keys.SKEYIDd }

// SKEYIDa returns SKEYID_a, which keys the Quick Mode and informational
// hashes.
func (s *SA) SKEYIDa() []byte { return s.keys.SKEYIDa }

// Alive reports whether the SA still holds its keys: false once it is
// deleted and wiped (Wipe), when what was negotiated on it can no longer
// be read or sent.
func (s *SA) Alive() bool { return s.cipher != nil }

// Cipher returns the phase 1 cipher keyed with Ka, which protects Quick
// Mode and the informational exchanges (RFC 2409, 5.5); nil once wiped.
func (s *SA) Cipher() ikecrypto.Cipher { return s.cipher }

// Ka returns the phase 1 cipher key, for the keys level of the log and a
// packet analyser's decryption table.
func (s *SA) Ka() []byte { return s.ka }

// SetKeys gives the SA the keys of a phase 1 negotiated elsewhere (a
// recorded run of another implementation): SKEYID and its offspring, Ka,
// the cipher keyed with it, and the last CBC block of phase 1.
func (s *SA) SetKeys(keys ikecrypto.KeyMaterial, ka []byte, c ikecrypto.Cipher, lastBlock []byte) {
	s.keys, s.ka, s.cipher, s.iv = keys, ka, c, lastBlock
}

// LastBlock returns the last CBC block of phase 1, the seed of every phase 2
// IV (RFC 2409, Appendix B).
func (s *SA) LastBlock() []byte { return s.iv }

// Wipe overwrites every secret the SA holds (SKEYID and its offspring,
// Ka, g^xy, the IV chain and the DH private value, ikecrypto.
// WipePrivateKey), so that a deleted SA leaves no key material behind
// longer than the garbage collector makes unavoidable. The state becomes
// StateDeleted.
func (s *SA) Wipe() {
	s.keys.Wipe()
	clear(s.ka)
	clear(s.iv)
	s.dropDH()
	s.ka, s.cipher = nil, nil
	s.State = StateDeleted
}

// dropDH wipes the Diffie-Hellman private value and g^xy once the SA is
// authenticated: SKEYID and its offspring are derived, nothing later reads
// them (Quick Mode derives from SKEYID_d, RFC 2409, 5.5), and keeping them
// for the SA's life would cost a few hundred bytes per SA and keep
// secrets longer than needed (perfect forward secrecy, RFC 2409, 5.5).
func (s *SA) dropDH() {
	if s.Handshake == nil {
		return
	}
	clear(s.gxy)
	if s.dh != nil {
		ikecrypto.WipePrivateKey(s.dh)
	}
	s.gxy, s.dh = nil, nil
}

// settle lets go of what only the phase 1 exchange needed, once the SA
// is authenticated: the offer, the initiator's SA payload body, the nonces
// and DH public values (they entered SKEYID, HASH_I and HASH_R; Quick Mode
// has its own, RFC 2409, 5.5), and copies what it keeps from the peer's
// messages (Vendor IDs, its ID, its certificates), which the decoder left
// as slices of the whole datagrams. An established SA kept its first
// messages alive that way: about a kilobyte each (docs/performance.md,
// "Memory at scale").
func (s *SA) settle() {
	s.Handshake = nil
	for i, v := range s.VendorIDs {
		s.VendorIDs[i] = bytes.Clone(v)
	}
	s.VendorIDs = slices.Clip(s.VendorIDs)
	if s.RemoteID != nil {
		// The body as received goes too: it entered HASH_I or HASH_R
		// (idBody), which are done; encoding the ID again gives the same
		// bytes.
		id := *s.RemoteID
		id.Received = isakmp.Received{}
		id.Data = bytes.Clone(id.Data)
		s.RemoteID = &id
	}
	for i, c := range s.peerCerts {
		s.peerCerts[i] = bytes.Clone(c)
	}
}

// StateOf returns the phase 1 state of the daemon's ISAKMP SA sa, or nil
// if phase 1 has not attached one (attach) or sa is nil.
func StateOf(sa *daemon.SA) *SA {
	if sa == nil {
		return nil
	}
	s, _ := sa.Phase1().(*SA)
	return s
}

// attach makes s the phase 1 state of the daemon's SA sa.
func attach(sa *daemon.SA, s *SA) { sa.SetPhase1(s) }

var _ daemon.Phase1State = (*SA)(nil)

// LocalText and RemoteText name the two ends of the SA in messages 41,
// 46 and 57: the identities once known, the addresses before.
func (s *SA) LocalText() string { return endText(s.LocalIDText, s.Local) }

// RemoteText names the peer; see LocalText.
func (s *SA) RemoteText() string { return endText(s.RemoteIDText, s.Remote) }

func endText(id string, a netip.AddrPort) string {
	if id != "" {
		return id
	}
	return a.Addr().Unmap().String()
}
