package quickmode

import (
	"errors"
	"fmt"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// Attrs are the IPsec SA attributes of one transform (RFC 2407, 4.5).
// Zero means absent.
type Attrs struct {
	LifeSeconds uint64
	LifeKBytes  uint64
	Group       isakmp.GroupDescription
	Encap       isakmp.EncapsulationMode
	Auth        isakmp.AuthAlgorithm
	KeyLength   int
}

// Lifetime returns the seconds lifetime as a duration, saturated
// (isakmp.LifeDuration).
func (a Attrs) Lifetime() time.Duration { return isakmp.LifeDuration(a.LifeSeconds) }

// Errors of attribute parsing: the transform cannot be selected.
var (
	errAttrUnknown  = errors.New("quickmode: unknown or unsupported attribute")
	errAttrLifeType = errors.New("quickmode: SA Life Duration without a preceding SA Life Type")
	errAttrTwice    = errors.New("quickmode: attribute given twice")
)

// maxLife bounds a lifetime value so that durations cannot overflow.
const maxLife = 1 << 40

// parseAttrs reads a transform's attributes. RFC 2407, 4.5: "SA Life Type
// ... MUST be followed by a SA Life Duration"; any other attribute we do
// not know makes the transform unselectable ("an attribute the responder
// does not support" cannot be accepted).
func parseAttrs(t *isakmp.Transform) (Attrs, error) {
	var a Attrs
	var lifeType isakmp.LifeType
	seen := map[isakmp.IPsecAttr]bool{}
	for _, at := range t.Attributes {
		typ := isakmp.IPsecAttr(at.Type)
		v, ok := at.Uint()
		if !ok {
			return a, fmt.Errorf("%w: %v has no integer value", errAttrUnknown, typ)
		}
		if typ != isakmp.IPsecAttrSALifeType && typ != isakmp.IPsecAttrSALifeDuration {
			if seen[typ] {
				return a, fmt.Errorf("%w: %v", errAttrTwice, typ)
			}
			seen[typ] = true
		}
		switch typ {
		case isakmp.IPsecAttrSALifeType:
			lifeType = isakmp.LifeType(v)
			if lifeType != isakmp.LifeSeconds && lifeType != isakmp.LifeKilobytes {
				return a, fmt.Errorf("%w: life type %d", errAttrUnknown, v)
			}
		case isakmp.IPsecAttrSALifeDuration:
			if v > maxLife {
				v = maxLife
			}
			switch lifeType {
			case isakmp.LifeSeconds:
				a.LifeSeconds = v
			case isakmp.LifeKilobytes:
				a.LifeKBytes = v
			default:
				return a, errAttrLifeType
			}
			lifeType = 0
		case isakmp.IPsecAttrGroupDescription:
			a.Group = isakmp.GroupDescription(v)
		case isakmp.IPsecAttrEncapsulationMode:
			a.Encap = isakmp.EncapsulationMode(v)
		case isakmp.IPsecAttrAuthAlgorithm:
			a.Auth = isakmp.AuthAlgorithm(v)
		case isakmp.IPsecAttrKeyLength:
			a.KeyLength = int(v)
		default:
			return a, fmt.Errorf("%w: %v", errAttrUnknown, typ)
		}
	}
	return a, nil
}

// wireTransform encodes one of our transforms with its attributes in the
// order strongSwan 5.9 writes them (Key Length, Authentication Algorithm,
// Group Description, Encapsulation Mode, SA Life Type/Duration), so that our
// proposals look like the recorded ones (RFC 2407, 4.5).
func wireTransform(num uint8, t policymgr.IPsecTransform, a Attrs) *isakmp.Transform {
	// Room for all: four attributes and two pairs of lifetimes, in one
	// allocation.
	as := make(isakmp.Attributes, 0, 8)
	if t.KeyLength != 0 {
		as = append(as, isakmp.BasicAttr(isakmp.IPsecAttrKeyLength, uint16(t.KeyLength)))
	}
	if t.Auth != 0 {
		as = append(as, isakmp.BasicAttr(isakmp.IPsecAttrAuthAlgorithm, t.Auth))
	}
	if a.Group != 0 {
		as = append(as, isakmp.BasicAttr(isakmp.IPsecAttrGroupDescription, a.Group))
	}
	if a.Encap != 0 {
		as = append(as, isakmp.BasicAttr(isakmp.IPsecAttrEncapsulationMode, a.Encap))
	}
	as = append(as, isakmp.LifeAttrs(isakmp.IPsecAttrSALifeType, isakmp.IPsecAttrSALifeDuration, a.LifeSeconds, a.LifeKBytes)...)
	return &isakmp.Transform{Number: num, ID: t.ID, Attributes: as}
}

// matchTransform reports whether the peer's transform (protocol proto,
// attributes a) is our transform t, with the PFS group and an
// encapsulation mode we accept. Lifetimes do not decide: the responder
// takes the initiator's, bounded below by the minimum and above by its
// own (RESPONDER-LIFETIME).
func matchTransform(proto isakmp.ProtocolID, id uint8, a Attrs, t policymgr.IPsecTransform, group isakmp.GroupDescription, encaps []isakmp.EncapsulationMode) bool {
	if proto != t.Protocol || id != t.ID {
		return false
	}
	if a.KeyLength != t.KeyLength || a.Auth != t.Auth || a.Group != group {
		return false
	}
	if proto == isakmp.ProtoIPCOMP && a.Encap == 0 {
		return true
	}
	for _, e := range encaps {
		if a.Encap == e {
			return true
		}
	}
	return false
}

// describe prints a peer transform for the debug log and failure reasons.
func describe(proto isakmp.ProtocolID, t *isakmp.Transform) string {
	s := isakmp.TransformIDString(proto, t.ID)
	a, err := parseAttrs(t)
	if err != nil {
		return s + " (" + err.Error() + ")"
	}
	if a.KeyLength != 0 {
		s += fmt.Sprintf("/%d", a.KeyLength)
	}
	if a.Auth != 0 {
		s += "+" + a.Auth.String()
	}
	if a.Group != 0 {
		s += " PFS " + a.Group.String()
	}
	if a.Encap != 0 {
		s += " " + a.Encap.String()
	}
	return s
}
