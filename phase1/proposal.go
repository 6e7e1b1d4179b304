package phase1

import (
	"fmt"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// offeredTransforms reads the initiator's SA payload (RFC 2408, 3.4-3.6;
// RFC 2409, 5): DOI IPsec, situation identity only, and the transforms of
// the first PROTO_ISAKMP proposal. Transforms that cannot be read are
// left out (they may not be chosen); their numbers stay with the rest.
func offeredTransforms(sa *isakmp.SA) ([]Transform, []uint8, error) {
	if sa.DOI != isakmp.DOIIPsec {
		return nil, nil, fmt.Errorf("%w: DOI %s", isakmp.DOINotSupported, sa.DOI)
	}
	if sa.Situation != isakmp.SitIdentityOnly {
		return nil, nil, fmt.Errorf("%w: situation %s", isakmp.SituationNotSupported, sa.Situation)
	}
	for _, p := range sa.Proposals {
		if p.Protocol != isakmp.ProtoISAKMP {
			continue
		}
		var ts []Transform
		var nums []uint8
		for _, tr := range p.Transforms {
			t, err := parseTransform(tr)
			if err != nil {
				continue
			}
			ts = append(ts, t)
			nums = append(nums, tr.Number)
		}
		return ts, nums, nil
	}
	return nil, nil, fmt.Errorf("%w: no PROTO_ISAKMP proposal", isakmp.InvalidProtocolID)
}

// choice is the responder's pick: the initiator's transform, its number,
// and the connection that accepts it.
type choice struct {
	t      Transform
	number uint8
	conn   *policymgr.Connection
}

// choose picks the first of the initiator's transforms that one of the
// candidate connections accepts (RFC 2408, 4.2: the responder selects;
// the initiator's order is its preference). With id set (Aggressive
// Mode), only connections whose remote-id admits it are considered: the
// pre-shared key is chosen by identity there.
func choose(offered []Transform, nums []uint8, conns []*policymgr.Connection, id *isakmp.ID) (choice, bool) {
	for i, t := range offered {
		for _, c := range conns {
			if accepts(c, t) && (id == nil || remoteIDMatches(c, id)) {
				return choice{t: t, number: nums[i], conn: c}, true
			}
		}
	}
	return choice{}, false
}

// checkChosen checks the responder's answer against our offer: exactly one
// proposal with one transform, equal to one we offered in everything but
// the lifetime (RFC 2408, 4.2: the responder MUST NOT change attributes;
// strongSwan and others do adjust lifetimes).
func checkChosen(sa *isakmp.SA, offered []Transform) (Transform, error) {
	if sa == nil {
		return Transform{}, fmt.Errorf("%w: no SA payload", isakmp.PayloadMalformed)
	}
	if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 1 || sa.Proposals[0].Protocol != isakmp.ProtoISAKMP {
		return Transform{}, fmt.Errorf("%w: the responder's SA must hold one ISAKMP proposal with one transform", isakmp.BadProposalSyntax)
	}
	t, err := parseTransform(sa.Proposals[0].Transforms[0])
	if err != nil {
		return Transform{}, fmt.Errorf("%w: %v", isakmp.AttributesNotSupported, err)
	}
	for _, o := range offered {
		if o.Cipher == t.Cipher && o.KeyLength == t.KeyLength && o.Hash == t.Hash && o.Group == t.Group && o.Auth == t.Auth {
			if t.LifeSeconds == 0 {
				t.LifeSeconds = o.LifeSeconds
			}
			return t, nil
		}
	}
	return Transform{}, fmt.Errorf("%w: the responder chose %s, which we did not offer", isakmp.NoProposalChosen, t)
}

// settleLifetime fills in a lifetime the initiator left out (the
// connection's) and raises one below phase1-lifetime-min to the minimum,
// with message 47.
func settleLifetime(t *Transform, c *policymgr.Connection, min time.Duration) []notify.Message {
	if t.LifeSeconds == 0 && t.LifeKBytes == 0 {
		for _, pt := range c.IKE.Transforms {
			if pt.Cipher == t.Cipher && pt.KeyLength == t.KeyLength && pt.Hash == t.Hash && pt.Group == t.Group {
				t.LifeSeconds = uint64(pt.Lifetime / time.Second)
				break
			}
		}
	}
	ms := uint64(min / time.Second)
	if t.LifeSeconds != 0 && t.LifeSeconds < ms {
		m := notify.Phase1LifetimeShort(int(t.LifeSeconds), int(ms))
		t.LifeSeconds = ms
		return []notify.Message{m}
	}
	return nil
}

// capLifetime applies the policy to the lifetime a peer proposed, where
// the responder picks its proposal: a lifetime in seconds longer than ours
// (the matching policy transform's, at most policymgr.MaxLifetime) is
// lowered to ours, with a warning, and an absent one is ours (a volume
// alone would never expire an idle SA). A peer thus cannot keep an ISAKMP
// SA, and its keys, alive longer than the policy says. settleLifetime
// then applies phase1-lifetime-min.
func capLifetime(t *Transform, c *policymgr.Connection) []notify.Message {
	ours := uint64(policymgr.MaxLifetime / time.Second)
	for _, pt := range c.IKE.Transforms {
		if pt.Cipher == t.Cipher && pt.KeyLength == t.KeyLength && pt.Hash == t.Hash && pt.Group == t.Group {
			ours = min(ours, uint64(pt.Lifetime/time.Second))
			break
		}
	}
	switch {
	case t.LifeSeconds == 0:
		t.LifeSeconds = ours
	case t.LifeSeconds > ours:
		m := notify.Message{Num: 0, Level: notify.LevelWarning,
			Text: fmt.Sprintf("Phase-1 lifetime is longer than the policy's (prop=%d, max=%d): the policy's is used", t.LifeSeconds, ours)}
		t.LifeSeconds = ours
		return []notify.Message{m}
	}
	return nil
}
