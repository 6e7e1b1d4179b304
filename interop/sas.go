package interop

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/strongswan/govici/vici"
)

// IKESA is one ISAKMP SA as charon's vici list-sas reports it (the field
// names are vici's).
type IKESA struct {
	Name         string // connection name
	UniqueID     string
	State        string // "CONNECTING", "ESTABLISHED", ...
	LocalHost    string
	LocalPort    string
	RemoteHost   string
	RemotePort   string
	LocalID      string
	RemoteID     string
	InitiatorSPI string // cookies, hex
	ResponderSPI string
	Initiator    bool
	NATRemote    bool // the peer is behind a NAT (or faked: libipsec, encap)
	NATLocal     bool
	EncrAlg      string
	EncrKeySize  string
	IntegAlg     string
	PRFAlg       string
	DHGroup      string
	Children     []ChildSA
}

// ChildSA is one CHILD_SA of an IKESA.
type ChildSA struct {
	Name      string
	UniqueID  string
	State     string // "INSTALLED", ...
	Mode      string // "TUNNEL", "TRANSPORT"
	Protocol  string // "ESP", "AH"
	Encap     bool
	SPIIn     string // hex
	SPIOut    string
	EncrAlg   string
	EncrKey   string
	IntegAlg  string
	DHGroup   string // PFS group, "" without PFS
	LocalTS   []string
	RemoteTS  []string
	LifeTime  string // seconds until expiry, as vici reports
	RekeyTime string
}

// ListSAs asks charon (vici list-sas) for its IKE SAs and their children.
func (c *Charon) ListSAs() ([]IKESA, error) {
	s, err := vici.NewSession(vici.WithSocketPath(c.ViciPath()))
	if err != nil {
		return nil, fmt.Errorf("interop: vici %s: %w", c.ViciPath(), err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []IKESA
	for m, err := range s.CallStreaming(ctx, "list-sas", "list-sa", nil) {
		if err != nil {
			return nil, fmt.Errorf("interop: vici list-sas: %w", err)
		}
		for _, name := range m.Keys() {
			sec, ok := m.Get(name).(*vici.Message)
			if !ok {
				continue
			}
			out = append(out, ikeSAFrom(name, sec))
		}
	}
	return out, nil
}

func str(m *vici.Message, key string) string {
	s, _ := m.Get(key).(string)
	return s
}

func list(m *vici.Message, key string) []string {
	l, _ := m.Get(key).([]string)
	return l
}

func ikeSAFrom(name string, m *vici.Message) IKESA {
	sa := IKESA{
		Name: name, UniqueID: str(m, "uniqueid"), State: str(m, "state"),
		LocalHost: str(m, "local-host"), LocalPort: str(m, "local-port"),
		RemoteHost: str(m, "remote-host"), RemotePort: str(m, "remote-port"),
		LocalID: str(m, "local-id"), RemoteID: str(m, "remote-id"),
		InitiatorSPI: str(m, "initiator-spi"), ResponderSPI: str(m, "responder-spi"),
		Initiator: str(m, "initiator") == "yes",
		NATRemote: str(m, "nat-remote") == "yes", NATLocal: str(m, "nat-local") == "yes",
		EncrAlg: str(m, "encr-alg"), EncrKeySize: str(m, "encr-keysize"),
		IntegAlg: str(m, "integ-alg"), PRFAlg: str(m, "prf-alg"), DHGroup: str(m, "dh-group"),
	}
	if children, ok := m.Get("child-sas").(*vici.Message); ok {
		for _, cname := range children.Keys() {
			cm, ok := children.Get(cname).(*vici.Message)
			if !ok {
				continue
			}
			sa.Children = append(sa.Children, ChildSA{
				Name: str(cm, "name"), UniqueID: str(cm, "uniqueid"), State: str(cm, "state"),
				Mode: str(cm, "mode"), Protocol: str(cm, "protocol"), Encap: str(cm, "encap") == "yes",
				SPIIn: str(cm, "spi-in"), SPIOut: str(cm, "spi-out"),
				EncrAlg: str(cm, "encr-alg"), EncrKey: str(cm, "encr-keysize"),
				IntegAlg: str(cm, "integ-alg"), DHGroup: str(cm, "dh-group"),
				LocalTS: list(cm, "local-ts"), RemoteTS: list(cm, "remote-ts"),
				LifeTime: str(cm, "life-time"), RekeyTime: str(cm, "rekey-time"),
			})
		}
	}
	return sa
}

// WaitIKE polls list-sas until an IKE SA of connection name is in state
// (e.g. "ESTABLISHED") and returns it, or fails after timeout with what
// charon had.
func (c *Charon) WaitIKE(name, state string, timeout time.Duration) (IKESA, error) {
	deadline := time.Now().Add(timeout)
	var last []IKESA
	for {
		sas, err := c.ListSAs()
		if err != nil {
			return IKESA{}, err
		}
		for _, sa := range sas {
			if sa.Name == name && sa.State == state {
				return sa, nil
			}
		}
		last = sas
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, sa := range last {
				fmt.Fprintf(&b, " %s:%s", sa.Name, sa.State)
			}
			return IKESA{}, fmt.Errorf("interop: no IKE SA %s in %s after %v (have:%s)", name, state, timeout, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
