package daemon

import (
	"crypto/x509"
	"slices"

	"github.com/iked/iked/control"
	"github.com/iked/iked/pki"
)

// certsOf describes the certificates and CRLs of a loaded policy for
// ikectl list-certs, in policy order. The names are formatted as
// strongSwan prints them (pki.FormatDN).
func certsOf(s *pki.Store) []control.Cert {
	if s == nil {
		return nil
	}
	var out []control.Cert
	for _, c := range s.Certs() {
		x := c.X509
		cc := control.Cert{
			Name: c.Name, Subject: dn(x.RawSubject), Issuer: dn(x.RawIssuer), Serial: x.SerialNumber.Text(16),
			NotBefore: x.NotBefore, NotAfter: x.NotAfter, CA: x.BasicConstraintsValid && x.IsCA,
			Trusted: c.Trusted, PrivateKey: c.Key != nil,
		}
		if c.CRL != nil {
			cc.CRL = crlOf(c.CRL)
		}
		out = append(out, cc)
	}
	return out
}

func crlOf(r *x509.RevocationList) *control.CRL {
	return &control.CRL{Issuer: dn(r.RawIssuer), ThisUpdate: r.ThisUpdate, NextUpdate: r.NextUpdate,
		Revoked: len(r.RevokedCertificateEntries)}
}

func dn(der []byte) string {
	s, err := pki.FormatDN(der)
	if err != nil {
		return "(undecodable name)"
	}
	return s
}

// listCerts answers list-certs: the running policy's certificates with
// the days left to their expiry and to their CRL's next update.
func (d *Daemon) listCerts() []control.Cert {
	if d.policy == nil {
		return nil
	}
	now := d.clock.Now()
	out := slices.Clone(d.policy.Certs)
	for i := range out {
		out[i].DaysToExpiry = control.DaysUntil(now, out[i].NotAfter)
		if crl := out[i].CRL; crl != nil {
			c := *crl
			if !c.NextUpdate.IsZero() {
				days := control.DaysUntil(now, c.NextUpdate)
				c.DaysToNextUpdate = &days
			}
			out[i].CRL = &c
		}
	}
	return out
}
