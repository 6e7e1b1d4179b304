package phase1

import (
	"fmt"
	"strings"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// Transform is a negotiated (or offered) KEY_IKE transform: the attributes
// of RFC 2409, Appendix A that phase 1 understands.
type Transform struct {
	Cipher    isakmp.EncryptionAlgorithm
	KeyLength int // bits; 0: no Key Length attribute
	Hash      isakmp.HashAlgorithm
	Group     isakmp.GroupDescription
	Auth      isakmp.AuthMethod
	// LifeSeconds and LifeKBytes are the Life Duration attributes; 0: not
	// proposed.
	LifeSeconds uint64
	LifeKBytes  uint64
}

// String prints the transform the way strongSwan's logs name proposals,
// with the authentication method and lifetime, e.g.
// "AES_CBC_128/HMAC_SHA2_256/MODP_2048 PSK 28800s".
func (t Transform) String() string {
	var b strings.Builder
	b.WriteString(t.Cipher.String())
	if t.KeyLength != 0 {
		fmt.Fprintf(&b, "_%d", t.KeyLength)
	}
	fmt.Fprintf(&b, "/%s/%s %s", t.Hash, t.Group, t.Auth)
	if t.LifeSeconds != 0 {
		fmt.Fprintf(&b, " %ds", t.LifeSeconds)
	}
	if t.LifeKBytes != 0 {
		fmt.Fprintf(&b, " %dkB", t.LifeKBytes)
	}
	return b.String()
}

// Lifetime returns the lifetime in seconds as a duration (0: none). A
// number of seconds beyond what a Duration holds (about 292 years; the
// attribute may carry up to 2^64-1) saturates instead of wrapping to a
// negative or short lifetime.
func (t Transform) Lifetime() time.Duration { return isakmp.LifeDuration(t.LifeSeconds) }

// fromPolicy makes the offer of one policy alternative.
func fromPolicy(pt policymgr.Phase1Transform, auth isakmp.AuthMethod) Transform {
	return Transform{
		Cipher:      pt.Cipher,
		KeyLength:   pt.KeyLength,
		Hash:        pt.Hash,
		Group:       pt.Group,
		Auth:        auth,
		LifeSeconds: uint64(pt.Lifetime / time.Second),
	}
}

// attributes encodes t in the order strongSwan 5.9 writes them (its
// proposal_substructure.c): encryption, key length, hash, group,
// authentication, then life type/duration pairs (RFC 2409, Appendix A).
// The life duration is TV when it fits 16 bits, else a 4-byte TLV.
func (t Transform) attributes() isakmp.Attributes {
	return t.appendAttributes(make(isakmp.Attributes, 0, maxTransformAttrs))
}

// maxTransformAttrs is how many attributes attributes writes at most: five,
// and two pairs of life type and duration.
const maxTransformAttrs = 9

// appendAttributes is attributes appending to as.
func (t Transform) appendAttributes(as isakmp.Attributes) isakmp.Attributes {
	as = append(as, isakmp.BasicAttr(isakmp.AttrEncryptionAlgorithm, t.Cipher))
	if t.KeyLength != 0 {
		as = append(as, isakmp.BasicAttr(isakmp.AttrKeyLength, uint16(t.KeyLength)))
	}
	as = append(as,
		isakmp.BasicAttr(isakmp.AttrHashAlgorithm, t.Hash),
		isakmp.BasicAttr(isakmp.AttrGroupDescription, t.Group),
		isakmp.BasicAttr(isakmp.AttrAuthMethod, t.Auth))
	return isakmp.AppendLifeAttrs(as, isakmp.AttrLifeType, isakmp.AttrLifeDuration, t.LifeSeconds, t.LifeKBytes)
}

// errAttributes says why a received transform cannot be read; the caller
// skips the transform (it may still pick another).
type errAttributes struct{ reason string }

func (e *errAttributes) Error() string { return e.reason }

// parseTransform reads a received KEY_IKE transform (RFC 2409, Appendix A).
// An attribute phase 1 does not know, a group given by its parameters
// rather than its number, a repeated attribute, or a Life Duration without
// a preceding Life Type makes the transform unusable.
func parseTransform(tr *isakmp.Transform) (Transform, error) {
	var t Transform
	if tr.ID != uint8(isakmp.KeyIKE) {
		return t, &errAttributes{fmt.Sprintf("transform ID %d is not KEY_IKE", tr.ID)}
	}
	seen := map[uint16]bool{}
	var lifeType isakmp.LifeType
	for _, a := range tr.Attributes {
		v, ok := a.Uint()
		if !ok {
			return t, &errAttributes{fmt.Sprintf("attribute %s has no integer value", isakmp.Phase1Attr(a.Type))}
		}
		at := isakmp.Phase1Attr(a.Type)
		if at != isakmp.AttrLifeType && at != isakmp.AttrLifeDuration {
			if seen[a.Type] {
				return t, &errAttributes{fmt.Sprintf("attribute %s repeated", at)}
			}
			seen[a.Type] = true
		}
		if at != isakmp.AttrLifeDuration && v > 0xffff {
			return t, &errAttributes{fmt.Sprintf("attribute %s value %d out of range", at, v)}
		}
		switch at {
		case isakmp.AttrEncryptionAlgorithm:
			t.Cipher = isakmp.EncryptionAlgorithm(v)
		case isakmp.AttrKeyLength:
			t.KeyLength = int(v)
		case isakmp.AttrHashAlgorithm:
			t.Hash = isakmp.HashAlgorithm(v)
		case isakmp.AttrGroupDescription:
			t.Group = isakmp.GroupDescription(v)
		case isakmp.AttrAuthMethod:
			t.Auth = isakmp.AuthMethod(v)
		case isakmp.AttrLifeType:
			lifeType = isakmp.LifeType(v)
			if lifeType != isakmp.LifeSeconds && lifeType != isakmp.LifeKilobytes {
				return t, &errAttributes{fmt.Sprintf("life type %d unknown", v)}
			}
		case isakmp.AttrLifeDuration:
			switch lifeType {
			case isakmp.LifeSeconds:
				t.LifeSeconds = v
			case isakmp.LifeKilobytes:
				t.LifeKBytes = v
			default:
				return t, &errAttributes{"life duration without life type"}
			}
			lifeType = 0
		case isakmp.AttrGroupType:
			if isakmp.GroupType(v) != isakmp.GroupTypeMODP && isakmp.GroupType(v) != isakmp.GroupTypeECP {
				return t, &errAttributes{fmt.Sprintf("group type %s unsupported", isakmp.GroupType(v))}
			}
		default:
			return t, &errAttributes{fmt.Sprintf("attribute %s unsupported", at)}
		}
	}
	switch {
	case t.Cipher == 0:
		return t, &errAttributes{"no encryption algorithm"}
	case t.Hash == 0:
		return t, &errAttributes{"no hash algorithm"}
	case t.Group == 0:
		return t, &errAttributes{"no group description (private groups are not supported)"}
	case t.Auth == 0:
		return t, &errAttributes{"no authentication method"}
	}
	return t, nil
}

// saPayload builds the initiator's SA payload: one proposal, PROTO_ISAKMP,
// no SPI, one KEY_IKE transform per alternative (RFC 2409, 5: "one proposal,
// many transforms"; RFC 2407, 4.4.2).
//
// The payload is encoded and dropped, so its parts are made in three
// allocations whatever the number of transforms: the SA with its one
// proposal, the transforms, and all their attributes.
func saPayload(ts []Transform) *isakmp.SA {
	sa := &oneProposalSA{}
	trs := make([]isakmp.Transform, len(ts))
	ptrs := make([]*isakmp.Transform, len(ts))
	as := make(isakmp.Attributes, 0, len(ts)*maxTransformAttrs)
	for i, t := range ts {
		start := len(as)
		as = t.appendAttributes(as)
		trs[i] = isakmp.Transform{Number: uint8(i + 1), ID: uint8(isakmp.KeyIKE), Attributes: as[start:len(as):len(as)]}
		ptrs[i] = &trs[i]
	}
	return sa.build(ptrs)
}

// chosenSAPayload builds the responder's SA payload: the chosen transform
// with the initiator's transform number (RFC 2408, 4.2: the responder
// returns exactly one proposal and transform). Its parts are made in one
// allocation (see saPayload).
func chosenSAPayload(number uint8, t Transform) *isakmp.SA {
	sa := &oneTransformSA{}
	sa.t = isakmp.Transform{Number: number, ID: uint8(isakmp.KeyIKE), Attributes: t.appendAttributes(sa.as[:0])}
	sa.ts[0] = &sa.t
	return sa.build(sa.ts[:])
}

// oneProposalSA is an SA payload of one PROTO_ISAKMP proposal, made with
// the proposal and the proposal list in one object.
type oneProposalSA struct {
	sa isakmp.SA
	p  isakmp.Proposal
	ps [1]*isakmp.Proposal
}

func (o *oneProposalSA) build(ts []*isakmp.Transform) *isakmp.SA {
	o.p = isakmp.Proposal{Number: 1, Protocol: isakmp.ProtoISAKMP, Transforms: ts}
	o.ps[0] = &o.p
	o.sa = isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SitIdentityOnly, Proposals: o.ps[:]}
	return &o.sa
}

// oneTransformSA is a oneProposalSA of one transform, with the transform
// and its attributes in the same object.
type oneTransformSA struct {
	oneProposalSA
	t  isakmp.Transform
	ts [1]*isakmp.Transform
	as [maxTransformAttrs]isakmp.Attribute
}
