package policymgr

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/isakmp"
)

// proposalDef is one entry of the proposals section: a chain of
// transforms applied together.
type proposalDef struct {
	name       string
	line       int
	ok         bool
	transforms []*transformDef // in chain order; nil entries are undefined names
	hasISAKMP  *transformDef   // an isakmp transform in the chain, checked where it is used
	used       bool
	built      *Proposal
}

// listDef is one entry of the proposal-lists section.
type listDef struct {
	name      string
	line      int
	ok        bool
	proposals []*proposalDef
	built     *ProposalList
}

func (d *decoder) proposals(n *yaml.Node, transforms map[string]*transformDef) map[string]*proposalDef {
	defs := map[string]*proposalDef{}
	d.mapping(n, "the proposals section", nil, func(name string, k, v *yaml.Node) {
		p := &proposalDef{name: name, line: k.Line, ok: true}
		defs[name] = p
		where := fmt.Sprintf("proposal %q", name)
		list, nodes, ok := d.list(v, where)
		if !ok {
			p.ok = false
			return
		}
		if len(list) == 0 {
			d.errorf(k, "%s names no transforms", where)
			p.ok = false
		}
		byProto := map[isakmp.ProtocolID]string{}
		for i, tn := range list {
			t, defined := transforms[tn]
			if !defined {
				d.errorf(nodes[i], "%s names transform %q, which the transforms section does not define", where, tn)
				p.ok = false
				continue
			}
			if !t.ok {
				p.ok = false
				continue
			}
			if t.protocol == isakmp.ProtoISAKMP {
				p.hasISAKMP = t
				continue
			}
			if other, dup := byProto[t.protocol]; dup {
				d.errorf(nodes[i], "%s has two %s transforms, %q and %q: at most one transform per protocol", where, protocolWord(t.protocol), other, tn)
				p.ok = false
				continue
			}
			byProto[t.protocol] = tn
			p.transforms = append(p.transforms, t)
		}
		if p.ok {
			p.built = &Proposal{Name: name}
			for _, t := range p.transforms {
				p.built.Protocols = append(p.built.Protocols, ProtocolChoice{Protocol: t.protocol, Transform: t.name, Transforms: t.ipsec})
			}
		}
	})
	return defs
}

func (d *decoder) proposalLists(n *yaml.Node, proposals map[string]*proposalDef) map[string]*listDef {
	defs := map[string]*listDef{}
	d.mapping(n, "the proposal-lists section", nil, func(name string, k, v *yaml.Node) {
		l := &listDef{name: name, line: k.Line, ok: true}
		defs[name] = l
		where := fmt.Sprintf("proposal list %q", name)
		list, nodes, ok := d.list(v, where)
		if !ok {
			l.ok = false
			return
		}
		for i, pn := range list {
			p, defined := proposals[pn]
			if !defined {
				d.errorf(nodes[i], "%s names proposal %q, which the proposals section does not define", where, pn)
				l.ok = false
				continue
			}
			l.proposals = append(l.proposals, p)
		}
	})
	return defs
}

// buildList makes the model of a list used by an IKE connection; an
// isakmp transform inside one of its proposals is an error there.
func (d *decoder) buildList(l *listDef, conn string, at *yaml.Node) *ProposalList {
	ok := l.ok
	if len(l.proposals) == 0 {
		d.errorf(at, "connection %q: proposal list %q has no proposals", conn, l.name)
		ok = false
	}
	for _, p := range l.proposals {
		p.used = true
		if p.hasISAKMP != nil {
			d.errorf(at, "connection %q: proposal %q of proposal list %q holds transform %q of protocol isakmp; phase 2 proposals chain esp, ah and ipcomp transforms (isakmp ones go in ike.transforms)",
				conn, p.name, l.name, p.hasISAKMP.name)
			ok = false
		}
		ok = ok && p.ok
	}
	if !ok {
		return nil
	}
	if l.built == nil {
		l.built = &ProposalList{Name: l.name}
		for _, p := range l.proposals {
			l.built.Proposals = append(l.built.Proposals, p.built)
		}
	}
	return l.built
}

// unusedISAKMP reports isakmp transforms in proposals no connection uses,
// so that the mistake is found before a connection starts using it.
func (d *decoder) unusedISAKMP(proposals map[string]*proposalDef) {
	for _, p := range proposals {
		if !p.used && p.hasISAKMP != nil {
			d.add(p.line, plain(p.line, "proposal %q holds transform %q of protocol isakmp; phase 2 proposals chain esp, ah and ipcomp transforms", p.name, p.hasISAKMP.name))
		}
	}
}
