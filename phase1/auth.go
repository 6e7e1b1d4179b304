package phase1

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
	"github.com/iked/iked/policymgr"
)

// usesSignature reports whether the negotiated method authenticates with
// signatures (RSA, RFC 2409, 5.1; ECDSA, RFC 4754) rather than a
// pre-shared key (RFC 2409, 5.4).
func (s *SA) usesSignature() bool { return s.Transform.Auth.Base() != isakmp.AuthPSK }

// psk returns the connection's pre-shared key, nil for signatures. The
// bytes never reach a log.
func (s *SA) psk() []byte {
	if s.usesSignature() || s.Conn == nil {
		return nil
	}
	b := s.Conn.IKE.PSK.Bytes()
	if b == nil {
		b = []byte{}
	}
	return b
}

// store returns the certificate store of the policy.
func (s *SA) store() *pki.Store {
	if s.Policy == nil {
		return nil
	}
	return s.Policy.Certs
}

// signer returns the private key we sign with. Its absence is message 49.
func (s *SA) signer() (crypto.Signer, error) {
	ike := s.Conn.IKE
	if ike.Cert != nil && ike.Cert.Key != nil {
		return ike.Cert.Key, nil
	}
	if st := s.store(); st != nil && ike.Certificate != "" {
		if k, err := st.PrivateKey(ike.Certificate); err == nil && k != nil {
			return k, nil
		}
	}
	return nil, notify.NoPrivateKey()
}

// certPayloads returns our CERT payloads (RFC 2408, 3.9; X.509 signature
// encoding 4) as the connection's ike.send-cert says (docs/policy-file.md;
// strongSwan's send_cert): if-asked when the peer sent a CR (RFC 2408,
// 3.10), always, or never; Config.SendCert makes if-asked always.
func (x *Exchange) certPayloads() []isakmp.Payload {
	s := x.SA
	if !s.usesSignature() {
		return nil
	}
	switch s.Conn.IKE.SendCert {
	case policymgr.SendCertNever:
		return nil
	case policymgr.SendCertIfAsked:
		if !s.peerCR && !x.cfg.SendCert {
			return nil
		}
	}
	var ders [][]byte
	if st := s.store(); st != nil && s.Conn.IKE.Certificate != "" {
		if d, err := st.LocalCerts(s.Conn.IKE.Certificate); err == nil {
			ders = d
		}
	}
	if len(ders) == 0 && s.Conn.IKE.Cert != nil {
		ders = [][]byte{s.Conn.IKE.Cert.X509.Raw}
	}
	var ps []isakmp.Payload
	for _, d := range ders {
		ps = append(ps, &isakmp.Cert{Encoding: isakmp.CertX509Signature, Data: d})
	}
	return ps
}

// crPayloads returns a certificate request for each trusted CA (RFC 2408,
// 3.10), so that the peer sends the certificate we can verify.
func (x *Exchange) crPayloads() []isakmp.Payload {
	s := x.SA
	if !s.usesSignature() {
		return nil
	}
	st := s.store()
	if st == nil {
		return nil
	}
	var ps []isakmp.Payload
	for _, dn := range st.CARequests() {
		ps = append(ps, &isakmp.CertRequest{CertType: isakmp.CertX509Signature, Authority: dn})
	}
	return ps
}

// authPayload wraps our HASH_x (pre-shared key) or SIG_x (signatures).
func (s *SA) authPayload(data []byte) isakmp.Payload {
	if s.usesSignature() {
		return &isakmp.Signature{Data: data}
	}
	return &isakmp.Hash{Data: data}
}

// peerAuth fills the verification inputs of j from the peer's message.
func (s *SA) peerAuth(j *job, r *received) error {
	idB, err := idBody(s.RemoteID)
	if err != nil {
		return err
	}
	j.peerIDB = idB
	j.psk = s.psk()
	if r.hash != nil {
		j.peerHash = r.hash.Data
	}
	if s.usesSignature() {
		// (A SIG payload with a pre-shared key is not looked at: job.verify
		// checks the HASH.)
		if r.sig == nil || r.sig.Data == nil {
			return fmt.Errorf("%w: signature authentication without a SIG payload", isakmp.PayloadMalformed)
		}
		sj := j.sigPart()
		sj.peerSig = r.sig.Data
		s.peerCerts = r.certs
		sj.peerCerts = r.certs
		sj.store = s.store()
		if s.Conn != nil && s.Conn.IKE != nil {
			sj.ca = s.Conn.IKE.CA
		}
		sj.peerID = pki.ID{Type: s.RemoteID.IDType, Data: s.RemoteID.Data}
	} else if j.peerHash == nil {
		return fmt.Errorf("%w: pre-shared key authentication without a HASH payload", isakmp.PayloadMalformed)
	}
	return nil
}

// ourAuth fills the inputs of j that compute our HASH or SIG.
func (s *SA) ourAuth(j *job) error {
	idB, err := idBody(s.LocalID)
	if err != nil {
		return err
	}
	j.ourIDB = idB
	j.psk = s.psk()
	if s.usesSignature() {
		k, err := s.signer()
		if err != nil {
			return err
		}
		j.sigPart().signer = k
	}
	return nil
}

// nonce draws our nonce (RFC 2409, 5: Ni_b/Nr_b).
func nonce(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, nonceLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// logKeys writes the derived keys at the keys debug level only, in the
// names strongSwan's ike=4 log uses, so that interop tests can compare.
func (s *SA) logKeys(env Env) {
	if env.Log == nil || !env.Log.KeysEnabled() {
		return
	}
	env.Log.Keys("ISAKMP SA keys",
		zap.String("cookies", hex.EncodeToString(s.Cookies())),
		zap.String("SKEYID", hex.EncodeToString(s.keys.SKEYID)),
		zap.String("SKEYID_d", hex.EncodeToString(s.keys.SKEYIDd)),
		zap.String("SKEYID_a", hex.EncodeToString(s.keys.SKEYIDa)),
		zap.String("SKEYID_e", hex.EncodeToString(s.keys.SKEYIDe)),
		zap.String("Ka", hex.EncodeToString(s.ka)),
		zap.String("initial IV", hex.EncodeToString(s.iv)))
}

// establish marks the SA authenticated.
func (x *Exchange) establish(env Env, j *job, st daemon.Result) daemon.Result {
	s := x.SA
	s.State = StateEstablished
	s.EstablishedAt = env.Now
	s.dropDH()
	s.settle()
	if j != nil && j.sig != nil && j.sig.peerCert != nil {
		s.PeerCert = j.sig.peerCert
	}
	st.Established = true
	st.Done = true
	return st
}
