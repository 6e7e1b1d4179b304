package quickmode

import (
	"errors"
	"math"
	"net/netip"
	"testing"

	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

func attrs(as ...isakmp.Attribute) *isakmp.Transform {
	return &isakmp.Transform{Number: 1, ID: 12, Attributes: as}
}

func TestParseAttrs(t *testing.T) {
	life := func(typ isakmp.LifeType, v uint64) []isakmp.Attribute {
		return []isakmp.Attribute{isakmp.BasicAttr(isakmp.IPsecAttrSALifeType, typ), isakmp.UintAttr(isakmp.IPsecAttrSALifeDuration, v)}
	}
	cases := []struct {
		name string
		t    *isakmp.Transform
		want Attrs
		err  error
	}{
		{"strongSwan's", attrs(isakmp.BasicAttr(isakmp.IPsecAttrKeyLength, uint16(128)), isakmp.BasicAttr(isakmp.IPsecAttrAuthAlgorithm, isakmp.AuthHMACSHA2256),
			isakmp.BasicAttr(isakmp.IPsecAttrEncapsulationMode, isakmp.EncapUDPTunnel), life(isakmp.LifeSeconds, 3960)[0], life(isakmp.LifeSeconds, 3960)[1]),
			Attrs{KeyLength: 128, Auth: isakmp.AuthHMACSHA2256, Encap: isakmp.EncapUDPTunnel, LifeSeconds: 3960}, nil},
		{"seconds and kilobytes, 4-byte duration", attrs(append(life(isakmp.LifeSeconds, 100000), life(isakmp.LifeKilobytes, 70000)...)...),
			Attrs{LifeSeconds: 100000, LifeKBytes: 70000}, nil},
		{"huge duration is bounded", attrs(life(isakmp.LifeSeconds, 1<<62)...), Attrs{LifeSeconds: maxLife}, nil},
		{"duration without type", attrs(isakmp.UintAttr(isakmp.IPsecAttrSALifeDuration, 10)), Attrs{}, errAttrLifeType},
		{"unknown life type", attrs(life(3, 10)...), Attrs{}, errAttrUnknown},
		{"key rounds are not supported", attrs(isakmp.BasicAttr(isakmp.IPsecAttrKeyRounds, uint16(3))), Attrs{}, errAttrUnknown},
		{"group twice", attrs(isakmp.BasicAttr(isakmp.IPsecAttrGroupDescription, uint16(2)), isakmp.BasicAttr(isakmp.IPsecAttrGroupDescription, uint16(14))), Attrs{}, errAttrTwice},
		{"value of 9 bytes", attrs(isakmp.VarAttr(isakmp.IPsecAttrKeyLength, make([]byte, 9))), Attrs{}, errAttrUnknown},
	}
	for _, c := range cases {
		got, err := parseAttrs(c.t)
		if !errors.Is(err, c.err) || (err == nil && got != c.want) {
			t.Errorf("%s: %+v %v, want %+v %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestSPIOf(t *testing.T) {
	cases := []struct {
		proto isakmp.ProtocolID
		spi   []byte
		want  uint32
		ok    bool
	}{
		{isakmp.ProtoESP, []byte{0xc9, 0xc2, 0xa4, 0xa7}, 0xc9c2a4a7, true},
		{isakmp.ProtoESP, []byte{0, 0, 0, 255}, 0, false}, // reserved (RFC 4303, 2.1)
		{isakmp.ProtoAH, []byte{1, 2, 3}, 0, false},
		{isakmp.ProtoIPCOMP, []byte{0x12, 0x34}, 0x1234, true},
		{isakmp.ProtoIPCOMP, []byte{0, 0, 0x12, 0x34}, 0x1234, true},
		{isakmp.ProtoIPCOMP, []byte{1, 0, 0x12, 0x34}, 0, false},
	}
	for _, c := range cases {
		got, err := spiOf(&isakmp.Proposal{Protocol: c.proto, SPI: c.spi})
		if (err == nil) != c.ok || got != c.want || (err != nil && !errors.Is(err, isakmp.InvalidSPI)) {
			t.Errorf("%v %x: %#x %v", c.proto, c.spi, got, err)
		}
	}
}

func TestSelectorOf(t *testing.T) {
	r, _ := isakmp.IDFromRange(netip.MustParseAddr("10.0.0.9"), netip.MustParseAddr("10.0.0.1"))
	bad := isakmp.IDFromPrefix(netip.MustParsePrefix("10.0.0.0/8"))
	bad.Data[5] = 0x0f // mask 255.15.0.0
	icmpPort := isakmp.IDFromAddr(netip.MustParseAddr("10.0.0.1"))
	icmpPort.Protocol, icmpPort.Port = 1, 80
	tcp := isakmp.IDFromPrefix(netip.MustParsePrefix("2001:db8::/64"))
	tcp.Protocol, tcp.Port = 6, 443
	cases := []struct {
		id   *isakmp.ID
		want string
	}{
		{isakmp.IDFromAddr(netip.MustParseAddr("192.0.2.1")), "192.0.2.1"},
		{tcp, "2001:db8::/64[tcp/443]"},
		{r, ""},
		{bad, ""},
		{icmpPort, ""},
		{isakmp.IDFromFQDN("gw.example.com"), ""},
	}
	for _, c := range cases {
		s, err := selectorOf(c.id)
		if c.want == "" {
			if !errors.Is(err, isakmp.InvalidIDInformation) {
				t.Errorf("%v: %v, want INVALID-ID-INFORMATION", c.id, err)
			}
			continue
		}
		if err != nil || s.String() != c.want {
			t.Errorf("%v: %s %v, want %s", c.id, s, err, c.want)
		}
		back, err := idOf(s, s.Addr.Is6())
		if err != nil || back.IDType != c.id.IDType || string(back.Data) != string(c.id.Data) || back.Port != c.id.Port {
			t.Errorf("%v does not round-trip: %v %v", c.id, back, err)
		}
	}
}

// list builds a proposal list: one proposal per element, each a chain of
// ESP/AH transforms.
func esp(id uint8, keyLen int, auth isakmp.AuthAlgorithm) policymgr.ProtocolChoice {
	return policymgr.ProtocolChoice{Protocol: isakmp.ProtoESP, Transforms: []policymgr.IPsecTransform{{Protocol: isakmp.ProtoESP, ID: id, KeyLength: keyLen, Auth: auth}}}
}

func ah(id uint8, auth isakmp.AuthAlgorithm) policymgr.ProtocolChoice {
	return policymgr.ProtocolChoice{Protocol: isakmp.ProtoAH, Transforms: []policymgr.IPsecTransform{{Protocol: isakmp.ProtoAH, ID: id, Auth: auth}}}
}

func list(ps ...[]policymgr.ProtocolChoice) *policymgr.ProposalList {
	l := &policymgr.ProposalList{Name: "l"}
	for _, p := range ps {
		l.Proposals = append(l.Proposals, &policymgr.Proposal{Protocols: p})
	}
	return l
}

func TestChoose(t *testing.T) {
	espAES := esp(12, 128, isakmp.AuthHMACSHA)
	ahSHA := ah(3, isakmp.AuthHMACSHA)
	tunnel := []isakmp.EncapsulationMode{isakmp.EncapTunnel}
	offerOf := func(l *policymgr.ProposalList, a Attrs) *isakmp.SA {
		sa, err := offer(l, spisOf(map[isakmp.ProtocolID]uint32{isakmp.ProtoESP: 0x1000, isakmp.ProtoAH: 0x2000}), a)
		if err != nil {
			t.Fatal(err)
		}
		return sa
	}
	cases := []struct {
		name   string
		peer   *isakmp.SA
		ours   Selection
		number uint8 // 0: none chosen
	}{
		{"same", offerOf(list([]policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapTunnel}), Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 1},
		{"the initiator's first acceptable", offerOf(list([]policymgr.ProtocolChoice{esp(3, 0, isakmp.AuthHMACSHA)}, []policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapTunnel}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 2},
		{"key length differs", offerOf(list([]policymgr.ProtocolChoice{esp(12, 256, isakmp.AuthHMACSHA)}), Attrs{Encap: isakmp.EncapTunnel}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 0},
		{"PFS group differs", offerOf(list([]policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapTunnel, Group: 2}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 14, tunnel}, 0},
		{"PFS offered, none wanted", offerOf(list([]policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapTunnel, Group: 14}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 0},
		{"UDP encapsulation without NAT-T", offerOf(list([]policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapUDPTunnel}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 0},
		{"transport offered to a tunnel", offerOf(list([]policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapTransport}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 0},
		{"AH+ESP chain against ESP+AH", offerOf(list([]policymgr.ProtocolChoice{ahSHA, espAES}), Attrs{Encap: isakmp.EncapTunnel}),
			Selection{list([]policymgr.ProtocolChoice{espAES, ahSHA}), 0, tunnel}, 1},
		{"AH+ESP chain against ESP", offerOf(list([]policymgr.ProtocolChoice{ahSHA, espAES}), Attrs{Encap: isakmp.EncapTunnel}),
			Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}, 0},
	}
	for _, c := range cases {
		got, why := choose(c.peer, c.ours)
		switch {
		case c.number == 0 && got != nil:
			t.Errorf("%s: chose %d", c.name, got.Number)
		case c.number == 0 && why == "":
			t.Errorf("%s: no reason given", c.name)
		case c.number != 0 && (got == nil || got.Number != c.number):
			t.Errorf("%s: %+v (%s), want proposal %d", c.name, got, why, c.number)
		}
	}
	// A chain naming a protocol twice is refused.
	dup := offerOf(list([]policymgr.ProtocolChoice{espAES}), Attrs{Encap: isakmp.EncapTunnel})
	dup.Proposals = append(dup.Proposals, dup.Proposals[0])
	if got, _ := choose(dup, Selection{list([]policymgr.ProtocolChoice{espAES}), 0, tunnel}); got != nil {
		t.Error("a chain with ESP twice was chosen")
	}
}

func TestAccept(t *testing.T) {
	espAES := esp(12, 128, isakmp.AuthHMACSHA)
	l := list([]policymgr.ProtocolChoice{espAES}, []policymgr.ProtocolChoice{esp(3, 0, isakmp.AuthHMACSHA)})
	a := Attrs{Encap: isakmp.EncapTunnel}
	ours := spisOf(map[isakmp.ProtocolID]uint32{isakmp.ProtoESP: 0x1000})
	ans := func(num uint8, spi []byte, ts ...*isakmp.Transform) *isakmp.SA {
		return &isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SitIdentityOnly,
			Proposals: []*isakmp.Proposal{{Number: num, Protocol: isakmp.ProtoESP, SPI: spi, Transforms: ts}}}
	}
	good := wireTransform(1, l.Proposals[1].Protocols[0].Transforms[0], a)
	other := wireTransform(1, policymgr.IPsecTransform{Protocol: isakmp.ProtoESP, ID: 12, KeyLength: 256, Auth: isakmp.AuthHMACSHA}, a)
	spi := []byte{0, 0, 0x20, 0}
	c, err := accept(ans(2, spi, good), l, ours, a)
	if err != nil || c.Number != 2 || c.Protos[0].SPIOut != 0x2000 || c.Protos[0].SPIIn != 0x1000 {
		t.Fatalf("%+v %v", c, err)
	}
	two := ans(1, spi, good)
	two.Proposals = append(two.Proposals, ans(2, spi, good).Proposals...)
	for _, bad := range []struct {
		name string
		sa   *isakmp.SA
		want isakmp.NotifyType
	}{
		{"two proposals", two, isakmp.BadProposalSyntax},
		{"proposal 3 not offered", ans(3, spi, good), isakmp.BadProposalSyntax},
		{"two transforms", ans(2, spi, good, good), isakmp.BadProposalSyntax},
		{"transform not offered", ans(1, spi, other), isakmp.NoProposalChosen},
		{"SPI of 2 bytes", ans(2, []byte{1, 2}, good), isakmp.InvalidSPI},
	} {
		if _, err := accept(bad.sa, l, ours, a); !errors.Is(err, bad.want) {
			t.Errorf("%s: %v, want %v", bad.name, err, bad.want)
		}
	}
}

// TestSoftLimit: the Quick Mode initiator's soft lifetime is a tenth
// before the hard one, the responder's a twentieth, both at least one unit
// before (a one-unit lifetime has no room and stays).
func TestSoftLimit(t *testing.T) {
	for _, tc := range []struct{ hard, init, resp uint64 }{
		{3600, 3240, 3420}, {28800, 25920, 27360}, {20, 18, 19}, {3, 2, 2}, {2, 1, 1}, {1, 1, 1}, {100000, 90000, 95000},
	} {
		if g := softLimit(tc.hard, daemon.RoleInitiator); g != tc.init {
			t.Errorf("initiator softLimit(%d) = %d, want %d", tc.hard, g, tc.init)
		}
		if g := softLimit(tc.hard, daemon.RoleResponder); g != tc.resp {
			t.Errorf("responder softLimit(%d) = %d, want %d", tc.hard, g, tc.resp)
		}
	}
}

// TestAttrsLifetimeSaturates: the largest lifetime parseAttrs lets through
// (maxLife seconds, from a peer's 2^62) is the largest Duration, not a
// wrapped negative one that would expire the IPsec SA at once.
func TestAttrsLifetimeSaturates(t *testing.T) {
	a, err := parseAttrs(attrs(isakmp.BasicAttr(isakmp.IPsecAttrSALifeType, isakmp.LifeSeconds),
		isakmp.UintAttr(isakmp.IPsecAttrSALifeDuration, 1<<62)))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Lifetime(); got != math.MaxInt64 {
		t.Errorf("%d s: %v, want the largest Duration", a.LifeSeconds, got)
	}
}

// TestAcceptIPCompFallback: strongSwan answers an ESP+IPComp offer with
// its choice (ESP and IPCOMP numbered 1) followed by the same ESP again
// numbered 2, its fallback without IPComp; the first chain is the answer.
// A second chain that is not that repetition stays a syntax error.
func TestAcceptIPCompFallback(t *testing.T) {
	espAES := esp(12, 128, isakmp.AuthHMACSHA)
	comp := policymgr.ProtocolChoice{Protocol: isakmp.ProtoIPCOMP, Transforms: []policymgr.IPsecTransform{{Protocol: isakmp.ProtoIPCOMP, ID: 2}}}
	l := list([]policymgr.ProtocolChoice{espAES, comp})
	a := Attrs{Encap: isakmp.EncapTunnel}
	ours := spisOf(map[isakmp.ProtocolID]uint32{isakmp.ProtoESP: 0x1000, isakmp.ProtoIPCOMP: 0x4000})
	espT := wireTransform(1, espAES.Transforms[0], a)
	compT := wireTransform(1, comp.Transforms[0], a)
	espP := func(n uint8) *isakmp.Proposal {
		return &isakmp.Proposal{Number: n, Protocol: isakmp.ProtoESP, SPI: []byte{0, 0, 0x20, 0}, Transforms: []*isakmp.Transform{espT}}
	}
	compP := &isakmp.Proposal{Number: 1, Protocol: isakmp.ProtoIPCOMP, SPI: []byte{0x50, 0}, Transforms: []*isakmp.Transform{compT}}
	sa := func(ps ...*isakmp.Proposal) *isakmp.SA {
		return &isakmp.SA{DOI: isakmp.DOIIPsec, Situation: isakmp.SitIdentityOnly, Proposals: ps}
	}
	c, err := accept(sa(espP(1), compP, espP(2)), l, ours, a)
	if err != nil || c.Number != 1 || len(c.Protos) != 2 || c.Protos[1].SPIOut != 0x5000 || c.Protos[1].SPIIn != 0x4000 {
		t.Fatalf("strongSwan's answer: %+v %v", c, err)
	}
	other := espP(2)
	other.SPI = []byte{0, 0, 0x30, 0}
	if _, err := accept(sa(espP(1), compP, other), l, ours, a); !errors.Is(err, isakmp.BadProposalSyntax) {
		t.Errorf("a second chain with another SPI: %v", err)
	}
	if _, err := accept(sa(espP(1), compP, espP(1)), l, ours, a); !errors.Is(err, isakmp.BadProposalSyntax) {
		t.Errorf("ESP twice in one chain: %v", err)
	}
}

// spisOf is a table of our SPIs, all allocated.
func spisOf(m map[isakmp.ProtocolID]uint32) *spiTable {
	t := &spiTable{}
	t.reset()
	for p, spi := range m {
		t.ents = append(t.ents, spiEntry{proto: p, spi: spi, allocated: true})
	}
	return t
}
