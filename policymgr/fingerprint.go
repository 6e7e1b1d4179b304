package policymgr

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// fingerprint digests everything about a connection that its SAs depend
// on, so that a reload can tell a changed connection from an unchanged one
// by content, secrets included, without keeping or comparing the secrets
// in the clear elsewhere.
func fingerprint(c *Connection) [32]byte {
	h := sha256.New()
	w := fpWriter{h}
	w.str(c.Name)
	w.sel(c.Local)
	w.sel(c.Remote)
	w.bool(c.Tunnel)
	w.bytes(c.LocalGW.AsSlice())
	w.bytes(c.RemoteGW.AsSlice())
	w.str(c.RemoteGWName)
	w.u(uint64(c.Initiate))
	w.bool(c.SAPerHost)
	w.u(uint64(c.PFS))
	w.u(uint64(c.Lifetime))
	w.u(c.LifetimeKBytes)
	w.bool(c.SHA256Trunc96)
	if p := c.IKE; p != nil {
		w.str("ike")
		w.u(uint64(p.Mode))
		for _, t := range p.Transforms {
			w.u(uint64(t.Cipher))
			w.u(uint64(t.KeyLength))
			w.u(uint64(t.Hash))
			w.u(uint64(t.Group))
			w.u(uint64(t.Lifetime))
		}
		w.u(uint64(p.Auth))
		w.u(uint64(p.AuthMethod))
		w.bytes(p.PSK)
		w.str(p.Certificate)
		if p.Cert != nil && p.Cert.X509 != nil {
			w.bytes(p.Cert.X509.Raw)
		}
		w.id(p.LocalID)
		w.id(p.RemoteID)
		w.str(p.CA)
	}
	if l := c.ProposalList; l != nil {
		w.str("proposals")
		for _, pr := range l.Proposals {
			w.u(uint64(len(pr.Protocols)))
			for _, pc := range pr.Protocols {
				w.u(uint64(pc.Protocol))
				for _, t := range pc.Transforms {
					w.u(uint64(t.ID))
					w.u(uint64(t.KeyLength))
					w.u(uint64(t.Auth))
				}
			}
		}
	}
	if m := c.Manual; m != nil {
		w.str("manual")
		for _, sa := range m.SAs {
			w.u(uint64(sa.Protocol))
			w.u(uint64(sa.SPIIn))
			w.u(uint64(sa.SPIOut))
			w.bytes(sa.CipherKeyIn)
			w.bytes(sa.CipherKeyOut)
			w.bytes(sa.AuthKeyIn)
			w.bytes(sa.AuthKeyOut)
		}
	}
	if mc := c.ModeConfig; mc != nil {
		// The pool by name only: a reload that changes a pool keeps the
		// SAs, and the lease store keeps the leases that still fit.
		w.str("mode-config")
		w.str(mc.PoolName)
		w.bool(mc.Request)
		w.str(mc.Interface)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

type fpWriter struct{ h hash.Hash }

func (w fpWriter) u(v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	w.h.Write(b[:])
}
func (w fpWriter) bytes(b []byte) { w.u(uint64(len(b))); w.h.Write(b) }
func (w fpWriter) str(s string)   { w.bytes([]byte(s)) }
func (w fpWriter) bool(b bool) {
	if b {
		w.u(1)
	} else {
		w.u(0)
	}
}
func (w fpWriter) sel(s Selector) {
	w.bytes(s.Addr.From.AsSlice())
	w.bytes(s.Addr.To.AsSlice())
	w.u(uint64(s.Proto))
	w.u(uint64(s.Port))
}
func (w fpWriter) id(id ID) { w.u(uint64(id.Type)); w.bytes(id.Data) }
