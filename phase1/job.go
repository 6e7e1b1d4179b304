package phase1

import (
	"crypto"
	"crypto/hmac"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/pki"
)

// job is the expensive part of one phase 1 step, run by a Work closure off
// the loop: Diffie-Hellman (generate our key, compute g^xy), the key
// derivations of RFC 2409, 5 and Appendix B, our HASH_I/HASH_R and its
// signature, and the verification of the peer's certificate chain and
// HASH/SIG. Its inputs are copies taken on the loop; its outputs are
// adopted by the step that resumes. It never touches the SA.
type job struct {
	// Inputs.
	role   daemon.Role
	rand   io.Reader
	t      Transform
	priv   ikecrypto.PrivateKey // nil: generate one
	fixed  ikecrypto.PrivateKey // set by tests: use instead of generating
	gen    bool                 // generate priv only (no peer value yet)
	peerKE []byte               // the peer's public value; nil: no g^xy yet
	psk    []byte               // nil: signature authentication
	ni, nr []byte
	icky   []byte
	rcky   []byte
	// Keys already derived (a later step): used when peerKE is nil.
	prf     ikecrypto.PRF
	authPRF ikecrypto.PRF
	km      ikecrypto.KeyMaterial
	gxi     []byte
	gxr     []byte
	saiB    []byte
	// ourIDB set: compute our HASH over it, and sign it when sig.signer
	// is set.
	ourIDB []byte
	// peerIDB set: verify the peer's HASH (psk) or SIG (sig.peerSig) over
	// it.
	peerIDB  []byte
	peerHash []byte
	// sig is what only signature authentication uses (nil for a
	// pre-shared key): apart, it keeps a PSK job, allocated at each
	// computing step, some 200 bytes smaller.
	sig *sigJob

	// Outputs.
	gxy     []byte
	ka      []byte
	cipher  ikecrypto.Cipher
	iv      []byte
	ourAuth []byte // HASH_x or SIG_x data
	log     []notify.Message
	// err is a failure of ours or of the peer's values (INVALID-KEY-
	// INFORMATION); authErr a failed authentication of the peer.
	err     error
	authErr error
}

// sigJob is the part of a job for signature authentication (RFC 2409,
// 5.1): the peer's public key comes from peerKey or from verifying
// peerCerts against store for peerID, up to the trusted certificate named
// ca (the connection's ike.ca; empty: any).
type sigJob struct {
	signer    crypto.Signer
	peerSig   []byte
	peerKey   crypto.PublicKey
	peerCerts [][]byte
	peerID    pki.ID
	store     *pki.Store
	ca        string
	// Output.
	peerCert *x509.Certificate
}

// sigPart returns j's signature part, made on first use.
func (j *job) sigPart() *sigJob {
	if j.sig == nil {
		j.sig = new(sigJob)
	}
	return j.sig
}

// errAuth marks a failed peer authentication: AUTHENTICATION-FAILED to
// the peer (RFC 2408, 3.14.1).
var errAuth = fmt.Errorf("%w", isakmp.AuthenticationFailed)

// cheap reports whether j is only HMACs: no Diffie-Hellman (our key
// given, no peer value), no signature made or verified. Such a job runs
// on the loop (daemon.Result.Cheap).
func (j *job) cheap() bool {
	return j.priv != nil && !j.gen && j.peerKE == nil && j.sig == nil
}

// result asks for j, on the loop when it is cheap.
func (j *job) result() daemon.Result {
	return daemon.Result{Work: j.run, Cheap: j.cheap()}
}

func (j *job) run() any {
	j.err = j.do()
	return j
}

func (j *job) do() error {
	g, err := ikecrypto.NewGroup(ikecrypto.GroupID(j.t.Group))
	if err != nil {
		return fmt.Errorf("%w: %v", isakmp.NoProposalChosen, err)
	}
	// given: priv is the SA's key, whose public value keyJob passed in
	// gxi or gxr (adoptKeys and initiatorKE set the two together).
	given := j.priv != nil
	if j.priv == nil && j.fixed != nil {
		j.priv = j.fixed
	}
	if j.priv == nil {
		if j.priv, err = g.Generate(j.rand); err != nil {
			return err
		}
	}
	if j.gen {
		return nil
	}
	if j.peerKE != nil {
		if j.gxy, err = j.priv.SharedSecret(j.peerKE); err != nil {
			return fmt.Errorf("%w: %v", isakmp.InvalidKeyInformation, err)
		}
		if j.role == daemon.RoleInitiator {
			if !given || j.gxi == nil {
				j.gxi = j.priv.PublicBytes()
			}
			j.gxr = j.peerKE
		} else {
			if !given || j.gxr == nil {
				j.gxr = j.priv.PublicBytes()
			}
			j.gxi = j.peerKE
		}
		if err := j.derive(); err != nil {
			return err
		}
	}
	if j.peerIDB != nil {
		j.authErr = j.verify()
		if j.authErr != nil {
			return nil
		}
	}
	if j.ourIDB != nil {
		h := j.hash(j.role, j.ourIDB)
		if j.sig == nil || j.sig.signer == nil {
			j.ourAuth = h
		} else if j.ourAuth, err = pki.Sign(j.rand, j.sig.signer, h); err != nil {
			return err
		}
	}
	return nil
}

// derive computes SKEYID (RFC 2409, 5.4 for a pre-shared key, 5.1 for
// signatures), SKEYID_d/_a/_e, Ka (Appendix B) and the first IV.
func (j *job) derive() error {
	prf, err := ikecrypto.NewPRF(ikecrypto.HashAlgorithm(j.t.Hash))
	if err != nil {
		return fmt.Errorf("%w: %v", isakmp.NoProposalChosen, err)
	}
	var skeyid []byte
	if j.psk != nil {
		skeyid = ikecrypto.SKEYIDPreSharedKey(prf, j.psk, j.ni, j.nr)
	} else {
		skeyid = ikecrypto.SKEYIDSignature(prf, j.ni, j.nr, j.gxy)
	}
	j.prf = prf
	j.authPRF = ikecrypto.AuthPRF(prf, uint16(j.t.Auth))
	j.km = ikecrypto.DeriveKeyMaterial(prf, skeyid, j.gxy, j.icky, j.rcky)
	j.ka, j.cipher, err = ikecrypto.EncryptionKey(prf, j.km.SKEYIDe, ikecrypto.EncryptionAlgorithm(j.t.Cipher), j.t.KeyLength)
	if err != nil {
		if errors.Is(err, ikecrypto.ErrWeakKey) {
			return fmt.Errorf("%w: %v", isakmp.InvalidKeyInformation, err)
		}
		return fmt.Errorf("%w: %v", isakmp.NoProposalChosen, err)
	}
	j.iv = ikecrypto.Phase1IV(prf, j.gxi, j.gxr, j.cipher.BlockSize())
	return nil
}

// hash computes HASH_I (who = Initiator) or HASH_R over idB (RFC 2409, 5),
// with the PRF authentication uses (ikecrypto.AuthPRF).
func (j *job) hash(who daemon.Role, idB []byte) []byte {
	if who == daemon.RoleInitiator {
		return ikecrypto.HashI(j.authPRF, j.km.SKEYID, j.gxi, j.gxr, j.icky, j.rcky, j.saiB, idB)
	}
	return ikecrypto.HashR(j.authPRF, j.km.SKEYID, j.gxi, j.gxr, j.icky, j.rcky, j.saiB, idB)
}

// verify checks the peer's authentication: its HASH for a pre-shared key;
// for signatures its certificate chain (pki.Store.VerifyPeer, which also
// matches its ID against the certificate) and its SIG.
func (j *job) verify() error {
	peer := daemon.RoleResponder
	if j.role == daemon.RoleResponder {
		peer = daemon.RoleInitiator
	}
	want := j.hash(peer, j.peerIDB)
	if j.psk != nil {
		if j.peerHash == nil {
			return fmt.Errorf("%w: no HASH payload", isakmp.PayloadMalformed)
		}
		if !hmac.Equal(want, j.peerHash) {
			return fmt.Errorf("%w: the peer's hash does not verify (wrong pre-shared key?)", errAuth)
		}
		return nil
	}
	sj := j.sig
	if sj == nil || sj.peerSig == nil {
		return fmt.Errorf("%w: no SIG payload", isakmp.PayloadMalformed)
	}
	key := sj.peerKey
	if key == nil {
		if sj.store == nil {
			j.log = append(j.log, notify.NoPublicKey())
			return fmt.Errorf("%w: no certificate store to verify the peer", errAuth)
		}
		p, msgs, err := sj.store.VerifyPeerCA(sj.peerCerts, sj.peerID, sj.ca)
		j.log = append(j.log, msgs...)
		if err != nil {
			var m notify.Message
			if errors.As(err, &m) {
				j.log = append(j.log, m)
			}
			if errors.Is(err, pki.ErrIDMismatch) {
				return fmt.Errorf("%w: %v", isakmp.InvalidIDInformation, err)
			}
			return fmt.Errorf("%w: %v", errAuth, err)
		}
		key, sj.peerCert = p.Key, p.Cert
	}
	if err := pki.Verify(key, want, sj.peerSig); err != nil {
		return fmt.Errorf("%w: %v", errAuth, err)
	}
	return nil
}

// adoptKeys copies a job's derived keys into the SA.
func (s *SA) adoptKeys(j *job) {
	s.dh = j.priv
	s.gxy = j.gxy
	s.PRF, s.AuthPRF = j.prf, j.authPRF
	s.keys = j.km
	s.ka, s.cipher, s.block = j.ka, j.cipher, nil
	s.iv = j.iv
	// Our public value as the job computed it (do): PublicBytes makes a
	// new copy at each call.
	ours := j.gxr
	if s.Role == daemon.RoleInitiator {
		ours = j.gxi
	}
	if ours == nil {
		ours = j.priv.PublicBytes()
	}
	if s.Role == daemon.RoleInitiator {
		s.GXi = ours
	} else {
		s.GXr = ours
	}
}

// keyJob returns a job carrying the SA's keys, for the steps after
// derivation. It reuses the handshake's spare job when there is one (see
// Handshake.spare), overwriting every field of it.
func (s *SA) keyJob(rand io.Reader) *job {
	var j *job
	if s.Handshake != nil {
		j, s.spare = s.spare, nil
	}
	if j == nil {
		j = new(job)
	}
	*j = job{role: s.Role, rand: rand, t: s.Transform, priv: s.dh, ni: s.Ni, nr: s.Nr,
		icky: s.ICookie[:], rcky: s.RCookie[:], prf: s.PRF, authPRF: s.AuthPRF, km: s.keys,
		gxi: s.GXi, gxr: s.GXr, saiB: s.SAiB}
	return j
}
