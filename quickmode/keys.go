package quickmode

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/ikecrypto"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Child is one installed SA bundle, as the Manager remembers it to answer
// the peer's deletes and to send ours: the SPIs of both directions.
type Child struct {
	Conn      string
	MessageID uint32
	BundleID  uint32
	ReqID     uint32
	Role      daemon.Role
	// Local and Remote are the outer addresses.
	Local, Remote netip.Addr
	// SAs lists each protocol with our (inbound) and the peer's
	// (outbound) SPI.
	SAs []ChildSA
	// ownPolicies: the Quick Mode installed the bundle's kernel policies
	// (Policies), which go with it.
	ownPolicies bool
	Installed   time.Time
	// Expires is the hard lifetime's end (zero: none in seconds).
	Expires time.Time
	// Mode, Selector, Encap and Lifetime are the bundle's as the engine
	// got it (Lifetime with its soft limits); PFS is the Quick Mode's
	// Diffie-Hellman group (0: none). ikectl list-sas shows them.
	Mode     engine.Mode
	Selector engine.Selector
	Encap    *engine.Encap
	Lifetime engine.Lifetime
	PFS      isakmp.GroupDescription
	// rekeying: a Quick Mode replacing this bundle has begun; deferred:
	// our rekey as responder waits for the peer's (Manager.rekey).
	rekeying, deferred bool
	// kept: the Manager keeps the bundle, on owner (nil: detached); it is
	// then in Manager.byPeer (table.go).
	kept  bool
	owner *daemon.SA
}

// ChildSA is one protocol of a Child: both SPIs and the negotiated
// transform, with the engine's algorithm names (never the keys).
type ChildSA struct {
	Protocol      isakmp.ProtocolID
	SPIIn, SPIOut uint32
	Transform     policymgr.IPsecTransform
	Cipher        string // the engine's name, "cbc(aes)"; "" without encryption
	Integrity     string // "hmac(sha256)"; "" without
	TruncBits     int
	Compression   string
}

// Policies are the kernel policies the Quick Mode installed for the
// bundle (none for a connection with trap policies). They are derived
// again from the bundle, as install derived them (engine.PoliciesFor),
// rather than kept: at 100,000 bundles the copies were 37 MB.
func (c *Child) Policies() []engine.Policy {
	if !c.ownPolicies {
		return nil
	}
	protos := make([]engine.Protocol, 0, len(c.SAs))
	for _, s := range c.SAs {
		protos = append(protos, engineProto(s.Protocol))
	}
	return engine.PoliciesFor(c.Selector, c.Mode, c.Local, c.Remote, protos, c.ReqID)
}

// Refs are the engine's names of the bundle's SAs, inbound first.
func (c *Child) Refs() []engine.SARef {
	var refs []engine.SARef
	for _, s := range c.SAs {
		refs = append(refs, engine.SARef{Protocol: engineProto(s.Protocol), SPI: s.SPIIn, Src: c.Remote, Dst: c.Local})
	}
	for _, s := range c.SAs {
		refs = append(refs, engine.SARef{Protocol: engineProto(s.Protocol), SPI: s.SPIOut, Src: c.Local, Dst: c.Remote})
	}
	return refs
}

// saKeys derives the keys of one IPsec SA (RFC 2409, 5.5): KEYMAT =
// prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b) expanded, the SPI
// being the one the SA's receiver chose; the encryption key comes first,
// then the integrity key (what strongSwan and the kernel expect). The SA's
// Encryption and Integrity point into algs.
func (x *Exchange) saKeys(p *ProtoSA, spi uint32, algs *saAlgorithms) (engine.SA, []byte, []byte, error) {
	sa := engine.SA{Protocol: engineProto(p.Protocol), SPI: spi}
	t := p.Transform
	encLen, integLen := 0, 0
	var cs engine.CipherSpec
	var is engine.IntegritySpec
	var err error
	switch p.Protocol {
	case isakmp.ProtoESP:
		if cs, err = engine.ESPCipher(uint16(t.ID), t.KeyLength); err != nil {
			return sa, nil, nil, err
		}
		encLen = cs.KeyBytes
		if t.Auth != 0 {
			if is, err = engine.AuthAlgorithm(uint16(t.Auth)); err != nil {
				return sa, nil, nil, err
			}
			integLen = is.KeyBytes
		}
	case isakmp.ProtoAH:
		if is, err = engine.AHTransform(uint16(t.ID)); err != nil {
			return sa, nil, nil, err
		}
		integLen = is.KeyBytes
	case isakmp.ProtoIPCOMP:
		c, err := engine.IPCompTransform(uint16(t.ID))
		if err != nil {
			return sa, nil, nil, err
		}
		sa.Compression = &c
		return sa, nil, nil, nil
	default:
		return sa, nil, nil, fmt.Errorf("quickmode: protocol %v", p.Protocol)
	}
	if is.Name == "hmac(sha256)" && x.Conn != nil && x.Conn.SHA256Trunc96 {
		is.TruncBits = 96 // the connection's sha256-96 (docs/policy-file.md)
	}
	enc, integ := ikecrypto.SAKeys(x.P1.PRF, x.P1.SKEYIDd(), x.gqmxy, uint8(p.Protocol), spiBytes(p.Protocol, spi), x.ni, x.nr, encLen, integLen)
	if encLen > 0 {
		algs.enc = engine.Cipher{Name: cs.Name, Key: engine.Key(enc), ICVBits: cs.ICVBits}
		sa.Encryption = &algs.enc
	}
	if integLen > 0 {
		algs.integ = engine.Integrity{Name: is.Name, Key: engine.Key(integ), TruncBits: is.TruncBits}
		sa.Integrity = &algs.integ
	}
	return sa, enc, integ, nil
}

// saAlgorithms holds the algorithms (and so the keys) an SA of a bundle
// points to: buildBundle makes those of the whole bundle in one
// allocation rather than two per SA.
type saAlgorithms struct {
	enc   engine.Cipher
	integ engine.Integrity
}

// oneProtocolBundle is a bundle of one protocol with its two SAs and
// their algorithms, in one allocation.
type oneProtocolBundle struct {
	bundle engine.Bundle
	sas    [2]engine.SA
	algs   [2]saAlgorithms
}

// buildBundle derives every SA's keys and assembles the bundle the engine
// installs: inbound SAs under our SPIs, outbound under the peer's.
func (x *Exchange) buildBundle(env Env) error {
	// Both directions in one array, each capped at its own part, and the
	// algorithms of every SA: for the common bundle of one protocol all
	// in one allocation with the bundle, else in two arrays beside it.
	n := len(x.Chosen.Protos)
	var b *engine.Bundle
	var sas []engine.SA
	var algs []saAlgorithms
	if n == 1 {
		one := &oneProtocolBundle{}
		b, sas, algs = &one.bundle, one.sas[:], one.algs[:]
	} else {
		b, sas, algs = &engine.Bundle{}, make([]engine.SA, 2*n), make([]saAlgorithms, 2*n)
	}
	*b = engine.Bundle{
		ID:           x.MessageID,
		ReqID:        x.ReqID,
		Mode:         engine.ModeTransport,
		Local:        x.outerLocal,
		Remote:       x.outerRemote,
		Selector:     engineSelector(x.Local, x.Remote),
		ReplayWindow: 32,
	}
	if x.Conn.Tunnel {
		b.Mode = engine.ModeTunnel
	}
	if secs := x.Life.LifeSeconds; secs != 0 {
		b.Lifetime.HardSeconds, b.Lifetime.SoftSeconds = secs, softLimit(secs, x.Role)
		if m := x.Conn.RekeyMargin; m > 0 {
			b.Lifetime.SoftSeconds = rekeyAt(secs, m, x.Conn.RekeyJitter, env.Rand)
		}
	}
	if kb := x.Life.LifeKBytes; kb != 0 {
		b.Lifetime.HardKBytes, b.Lifetime.SoftKBytes = kb, softLimit(kb, x.Role)
	}
	b.Inbound, b.Outbound = sas[:0:n], sas[n:n:2*n]
	for i, p := range x.Chosen.Protos {
		if p.Protocol == isakmp.ProtoESP && udpEncap(p.Attrs.Encap) {
			b.Encap = &engine.Encap{LocalPort: x.P1.Local.Port(), RemotePort: x.P1.Remote.Port()}
			if x.natMapped {
				b.Encap.OriginalAddress = x.peerOA
			}
		}
		in, encIn, integIn, err := x.saKeys(p, p.SPIIn, &algs[i])
		if err != nil {
			return err
		}
		out, encOut, integOut, err := x.saKeys(p, p.SPIOut, &algs[n+i])
		if err != nil {
			return err
		}
		b.Inbound = append(b.Inbound, in)
		b.Outbound = append(b.Outbound, out)
		x.logKeys(env, p, &in, "inbound", encIn, integIn)
		x.logKeys(env, p, &out, "outbound", encOut, integOut)
	}
	x.bundle = b
	return nil
}

// softLimit is where the engine reports a soft EXPIRE, the time to
// rekey: the Quick Mode initiator's a tenth before the hard limit, the
// responder's a twentieth, so that the initiator normally rekeys first and
// the responder only when the initiator did not (rekey); both at least one
// unit before the hard limit.
func softLimit(hard uint64, r daemon.Role) uint64 {
	margin := hard / 10
	if r == daemon.RoleResponder {
		margin = hard / 20
	}
	return hard - max(margin, min(hard-1, 1))
}

// rekeyAt is the soft limit of a connection with a rekey margin: margin
// and a random part of jitter before hard, at least one second before it
// and one after the start.
func rekeyAt(hard uint64, margin, jitter time.Duration, rnd io.Reader) uint64 {
	before := uint64(margin / time.Second)
	if j := uint64(jitter / time.Second); j > 0 && rnd != nil {
		var b [8]byte
		if _, err := io.ReadFull(rnd, b[:]); err == nil {
			before += binary.BigEndian.Uint64(b[:]) % (j + 1)
		}
	}
	if hard < 2 {
		return hard
	}
	return hard - min(max(before, 1), hard-1)
}

// logKeys writes an SA's keys at the keys debug level only. flow names the
// SA as strongSwan's chd=4 log does: "initiator" keys protect what the
// Quick Mode initiator sends.
func (x *Exchange) logKeys(env Env, p *ProtoSA, sa *engine.SA, dir string, enc, integ []byte) {
	if env.Log == nil || !env.Log.KeysEnabled() {
		return
	}
	flow := "responder"
	if (dir == "outbound") == (x.Role == daemon.RoleInitiator) {
		flow = "initiator"
	}
	spi := sa.SPI
	truncation := zap.Skip()
	if sa.Integrity != nil {
		truncation = zap.String("integrity", fmt.Sprintf("%s/%d", sa.Integrity.Name, sa.Integrity.TruncBits))
	}
	env.Log.Keys("IPsec SA keys",
		zap.String("cookies", hex.EncodeToString(x.P1.Cookies())),
		zap.String("message-id", fmt.Sprintf("%08x", x.MessageID)),
		zap.String("conn", x.Conn.Name),
		zap.String("protocol", engineProto(p.Protocol).String()),
		zap.String("direction", dir),
		zap.String("flow", flow),
		zap.String("spi", fmt.Sprintf("%08x", spi)),
		zap.String("encryption key", hex.EncodeToString(enc)),
		zap.String("integrity key", hex.EncodeToString(integ)), truncation)
}

// install asks the engine to install the bundle and, for connections
// without trap policies (responders, road warriors, ranges), the kernel
// policies of the negotiated selectors.
func (x *Exchange) install(env Env) []engine.Request {
	x.installTok = env.Tokens.Token()
	r := &installRequests{install: engine.Install{Token: x.installTok, Bundle: x.bundle}}
	r.reqs[0] = &r.install
	reqs := r.reqs[:1:1]
	if !x.trapped() {
		var buf [3]engine.Protocol // PoliciesFor copies them
		protos := buf[:0]
		for _, s := range x.bundle.Inbound {
			protos = append(protos, s.Protocol)
		}
		x.policies = engine.PoliciesFor(x.bundle.Selector, x.bundle.Mode, x.outerLocal, x.outerRemote, protos, x.ReqID)
		x.policyTok = env.Tokens.Token()
		r.policies = engine.InstallPolicies{Token: x.policyTok, Policies: x.policies}
		r.reqs[1] = &r.policies
		reqs = r.reqs[:2:2]
	}
	return reqs
}

// installRequests are install's requests and the slice that lists them,
// in one allocation rather than three. Nothing changes them once made;
// the slice is capped, so that a caller's append copies it.
type installRequests struct {
	install  engine.Install
	policies engine.InstallPolicies
	reqs     [2]engine.Request
}

// trapped mirrors daemon.PolicyLoader's trap policies: an on-demand
// connection with a known peer and subnet selectors has its kernel
// policies from start-up.
func (x *Exchange) trapped() bool {
	c := x.Conn
	if c.Initiate != policymgr.InitiateOnDemand || c.IKE == nil {
		return false
	}
	_, ok1 := c.Local.Addr.Prefix()
	_, ok2 := c.Remote.Addr.Prefix()
	if !ok1 || !ok2 {
		return false
	}
	if c.Tunnel {
		return c.LocalGW.IsValid() && c.RemoteGW.IsValid()
	}
	return c.Local.Addr.IsHost() && c.Remote.Addr.IsHost()
}

// installed finishes the exchange once the engine has the bundle.
func (x *Exchange) installed(env Env) daemon.Result {
	c := &Child{Conn: x.Conn.Name, MessageID: x.MessageID, BundleID: x.bundle.ID, ReqID: x.ReqID, Role: x.Role,
		Local: x.outerLocal, Remote: x.outerRemote, ownPolicies: len(x.policies) > 0, Installed: env.Now}
	if x.Life.LifeSeconds != 0 {
		c.Expires = env.Now.Add(isakmp.LifeDuration(x.Life.LifeSeconds))
	}
	if b := x.bundle; b != nil {
		c.Mode, c.Selector, c.Lifetime = b.Mode, b.Selector, b.Lifetime
		if b.Encap != nil {
			e := *b.Encap
			c.Encap = &e
		}
	}
	for i, p := range x.Chosen.Protos {
		if i == 0 {
			c.PFS = p.Attrs.Group
		}
		cs := ChildSA{Protocol: p.Protocol, SPIIn: p.SPIIn, SPIOut: p.SPIOut, Transform: p.Transform}
		if x.bundle != nil && i < len(x.bundle.Inbound) {
			in := x.bundle.Inbound[i]
			if in.Encryption != nil {
				cs.Cipher = in.Encryption.Name
			}
			if in.Integrity != nil {
				cs.Integrity, cs.TruncBits = in.Integrity.Name, in.Integrity.TruncBits
			}
			if in.Compression != nil {
				cs.Compression = in.Compression.Name
			}
		}
		c.SAs = append(c.SAs, cs)
	}
	x.child = c
	x.State = StateEstablished
	x.wipe()
	x.newChild = c
	st := daemon.Result{Done: true}
	if env.Log != nil {
		t := x.upTexts(c)
		fs := notify.NewFields()
		fs.F = append(fs.F, zap.String("conn", c.Conn), zap.String("role", x.Role.String()),
			zap.String("local", t.local), zap.String("remote", t.remote),
			zap.String("spis", t.spis), zap.Uint64("lifetime", x.Life.LifeSeconds))
		fs.F = x.appendUpFields(fs.F, env, c, &t)
		env.Log.Info("IPsec SA established", fs.F...)
		fs.Free()
	}
	if x.commit && x.Role == daemon.RoleResponder {
		// RFC 2408, 3.1 and 4.x: the peer set the commit bit, so it waits
		// for CONNECTED before using the SAs.
		if out, err := x.connectedMessage(env); err == nil {
			x.info = out
		}
	}
	return st
}

// installFailed: the engine refused the bundle (its messages 65/66 are
// logged by the engine); the peer's SAs are deleted with a Delete. The
// bundle's policies, queued behind it, are taken out again by the daemon
// if the engine puts them in (daemon/engine.go, undo: this exchange has
// ended by then), and only then, so that a policy install that failed too
// never takes out the same policies of an older bundle.
func (x *Exchange) installFailed(env Env, err error) daemon.Result {
	st := x.fail(env, "the SA bundle was not installed: "+errText(err), 0)
	x.policyTok, x.policies = 0, nil
	x.tellDeleted(env, &st)
	return st
}

// policiesFailed: the bundle is in but the kernel refused its policies
// (another program's policy on the selector, say). Without them the SAs
// would protect nothing and the traffic would leave in clear, so the
// negotiation fails: the SAs are rolled back, the peer gets a Delete for
// its SAs, messages 57 and 58 name the failure.
func (x *Exchange) policiesFailed(env Env, err error) daemon.Result {
	if env.Log != nil {
		env.Log.Warn("kernel policies of a Quick Mode SA not installed; the SAs are removed", errField(err))
	}
	refs := x.bundle.Refs()
	x.policies = nil
	st := x.fail(env, "the SA bundle's kernel policies were not installed: "+errText(err), 0)
	st.Engine = append(st.Engine, &engine.Delete{Token: env.Tokens.Token(), SAs: refs})
	x.tellDeleted(env, &st)
	return st
}

// tellDeleted sends the peer a Delete for the bundle.
func (x *Exchange) tellDeleted(env Env, st *daemon.Result) {
	if out, err := x.deleteMessage(env); err == nil {
		x.info = out
		st.Log = append(st.Log, notify.SendingNotification(x.P1.Remote, "DELETE"))
	}
}

func spiText(c *Child) string {
	// Appended rather than formatted: it is in two log lines per SA pair
	// at the default level (docs/performance.md).
	return string(appendSPIText(make([]byte, 0, 64), c))
}

// appendSPIText appends spiText's text to b.
func appendSPIText(b []byte, c *Child) []byte {
	for i, sa := range c.SAs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, engineProto(sa.Protocol).String()...)
		b = append(b, " in "...)
		b = appendSPIHex(b, sa.SPIIn)
		b = append(b, " out "...)
		b = appendSPIHex(b, sa.SPIOut)
	}
	return b
}

// appendSPIHex appends spi as 0x and eight hex digits.
func appendSPIHex(b []byte, spi uint32) []byte {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], spi)
	return hex.AppendEncode(append(b, "0x"...), v[:])
}

// spiHex is spi as 0x and eight hex digits.
func spiHex(spi uint32) string {
	var b [10]byte
	return string(appendSPIHex(b[:0], spi))
}
