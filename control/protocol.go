package control

import (
	"fmt"
	"time"
)

// Command names a control request; the words are ikectl's subcommands.
type Command string

// The commands of the control protocol.
const (
	CmdStatus    Command = "status"     // uptime, policy file, counters
	CmdListSAs   Command = "list-sas"   // ISAKMP SAs, their exchanges and IPsec SAs
	CmdListConns Command = "list-conns" // connections of the running policy
	CmdInitiate  Command = "initiate"   // start phase 1 (and 2) of connection Name
	CmdTerminate Command = "terminate"  // delete the SAs of connection or SA Name
	CmdRekey     Command = "rekey"      // rekey the IPsec SAs of connection or SA Name
	CmdReauth    Command = "reauth"     // replace the ISAKMP SAs of connection or SA Name by a new phase 1
	CmdReload    Command = "reload"     // reread the policy file (as SIGHUP)
	CmdStats     Command = "stats"      // every counter
	CmdListCerts Command = "list-certs" // certificates and CRLs of the running policy
	CmdMonitor   Command = "monitor"    // stream events until the client leaves (monitor.go)
)

// CmdListLeases lists the Mode Config pools' leases.
const CmdListLeases Command = "list-leases"

// Commands lists every command, in the order ikectl prints them.
var Commands = []Command{CmdStatus, CmdListSAs, CmdListConns, CmdListCerts, CmdListLeases, CmdMonitor, CmdInitiate, CmdTerminate, CmdRekey, CmdReauth, CmdReload, CmdStats}

// NeedsName reports whether the command takes a connection or SA name.
func (c Command) NeedsName() bool {
	return c == CmdInitiate || c == CmdTerminate || c == CmdRekey || c == CmdReauth
}

// MayName reports whether the command takes a connection or SA name, if
// only as a choice: list-sas lists those of one connection or the one SA
// so named, as `swanctl --list-sas --ike NAME` does.
func (c Command) MayName() bool { return c.NeedsName() || c == CmdListSAs }

// Valid reports whether c is a known command.
func (c Command) Valid() bool {
	for _, k := range Commands {
		if c == k {
			return true
		}
	}
	return false
}

func (c Command) String() string { return string(c) }

// MaxMessage bounds one request on the socket, and each event of a
// monitor stream, so that neither side reads without limit from a confused
// peer.
const MaxMessage = 4 << 20

// MaxResponse bounds one response: list-sas of 100,000 SA pairs is about
// 60 MB of JSON (docs/performance.md), above MaxMessage.
const MaxResponse = 512 << 20

// Request is what ikectl sends.
type Request struct {
	Command Command `json:"command"`
	Name    string  `json:"name,omitempty"` // connection or SA for initiate, terminate and list-sas
}

// Validate checks the request before the daemon acts on it.
func (r *Request) Validate() error {
	if !r.Command.Valid() {
		return fmt.Errorf("unknown command %q", r.Command)
	}
	if r.Command.NeedsName() && r.Name == "" {
		return fmt.Errorf("%s needs a connection or SA name", r.Command)
	}
	if !r.Command.MayName() && r.Name != "" {
		return fmt.Errorf("%s takes no name", r.Command)
	}
	return nil
}

// Response is what the daemon answers. Error is set exactly when the request
// failed; Messages carries catalog messages the request produced (a reload
// with errors prints them, as the daemon's log does).
type Response struct {
	Error    string   `json:"error,omitempty"`
	Messages []string `json:"messages,omitempty"`
	Status   *Status  `json:"status,omitempty"`
	SAs      []SA     `json:"sas,omitempty"`
	// Detached are IPsec SAs whose ISAKMP SA is gone (the peer deleted
	// it): they live to their lifetimes, or until a new ISAKMP SA of
	// their connection adopts them.
	Detached []ChildSA `json:"detached,omitempty"`
	Conns    []Conn    `json:"conns,omitempty"`
	Certs    []Cert    `json:"certs,omitempty"`
	Leases   []Lease   `json:"leases,omitempty"`
	Stats    *Stats    `json:"stats,omitempty"`
}

// Status summarizes the running daemon.
type Status struct {
	Version     string        `json:"version"`
	PID         int           `json:"pid"`
	Started     time.Time     `json:"started"`
	Uptime      time.Duration `json:"-"` // JSON: uptime_seconds (seconds.go)
	PolicyFile  string        `json:"policy_file"`
	PolicyLoad  time.Time     `json:"policy_loaded"`
	Engine      string        `json:"engine"`
	Listening   []string      `json:"listening"`
	Conns       int           `json:"conns"`
	ISAKMPSAs   int           `json:"isakmp_sas"`
	HalfOpen    int           `json:"half_open"`
	Established int           `json:"established"`
	Counters    []Counter     `json:"counters"`
}

// Counter is one named counter; lists of them keep the daemon's order.
type Counter struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// SA is one ISAKMP SA as the daemon's table holds it.
type SA struct {
	ICookie     string        `json:"icookie"` // hex
	RCookie     string        `json:"rcookie"` // hex
	Conn        string        `json:"conn,omitempty"`
	Role        string        `json:"role"` // initiator | responder
	Local       string        `json:"local"`
	Remote      string        `json:"remote"`
	State       string        `json:"state"`
	Established bool          `json:"established"`
	Age         time.Duration `json:"-"` // JSON: age_seconds (seconds.go)
	Exchanges   []Exchange    `json:"exchanges,omitempty"`
	Children    []ChildSA     `json:"children,omitempty"` // its IPsec SA bundles, oldest first
}

// Exchange is one exchange running on an ISAKMP SA.
type Exchange struct {
	MessageID     uint32 `json:"message_id"`
	Type          string `json:"type"`
	State         string `json:"state"`
	Retransmits   int    `json:"retransmits"`
	AwaitingReply bool   `json:"awaiting_reply"`
}

// Conn is one connection of the running policy.
type Conn struct {
	Name          string `json:"name"`
	LocalAddress  string `json:"local_address"`
	RemoteAddress string `json:"remote_address"`
	LocalGW       string `json:"local_gw,omitempty"`
	RemoteGW      string `json:"remote_gw,omitempty"`
	Mode          string `json:"mode,omitempty"` // main | aggressive | manual
	Initiate      string `json:"initiate,omitempty"`
	SAs           int    `json:"sas"`
}

// Stats is every counter of the daemon, grouped.
type Stats struct {
	Received []Counter `json:"received"` // datagrams and how they ended
	Dropped  []Counter `json:"dropped"`  // per reason
	Engine   []Counter `json:"engine"`   // the engine queue (messages 68-70)
	Other    []Counter `json:"other"`
}

// Get returns the value of the named counter in cs, and whether it is there.
func Get(cs []Counter, name string) (uint64, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c.Value, true
		}
	}
	return 0, false
}

// Lease is one address of a Mode Config pool, leased to an identity (and
// XAUTH user): Online while an ISAKMP SA holds it, otherwise kept for its
// owner since Released.
type Lease struct {
	Pool     string    `json:"pool"`
	Address  string    `json:"address"`
	Identity string    `json:"identity"`
	User     string    `json:"user,omitempty"`
	Online   bool      `json:"online"`
	Leased   time.Time `json:"leased"`
	Released time.Time `json:"released,omitzero"`
}
