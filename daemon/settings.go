package daemon

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/iked/iked/control"
	"github.com/iked/iked/engine"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// Settings are the daemon section of the policy file (docs/policy-file.md) that
// the runtime itself uses. PolicyLoader fills them from policymgr's model.
type Settings struct {
	Listen           []netip.Addr
	IKEPort          uint16 // 500
	NATTPort         uint16 // 4500; 0: NAT-T off
	Engine           string // xfrm | none
	ControlSocket    string
	HalfOpenMax      int
	RetransmitBase   time.Duration // first timeout, doubled each try
	RetransmitTries  int           // sends after the first
	HalfOpenLifetime time.Duration // an unauthenticated responder SA is removed after it
	ReplyCacheTime   time.Duration // a finished exchange answers retransmissions this long
	// Under load (admission.go): from LoadHalfOpen half-open SAs (and
	// charged failures) on, a source address may hold PerSourceHalfOpen
	// of them and start RateLimit a second (RateBurst at once), and an
	// Aggressive Mode first message from a source that holds one is
	// deferred. Below it only HalfOpenMax applies.
	LoadHalfOpen      int
	PerSourceHalfOpen int
	RateLimit         float64 // first messages per second per source address, under load
	RateBurst         int
	// InitiateMax and InitiatePerPeer bound the phase 1 exchanges we
	// initiate that are not yet established, in all and with one peer
	// address; queued initiations wait below them (initiating.go).
	InitiateMax     int
	InitiatePerPeer int
	// ESPInUDP lets the kernel decapsulate ESP on the NAT-T sockets
	// (UDP_ENCAP_ESPINUDP): with the xfrm engine, so NAT-T SAs carry traffic.
	ESPInUDP bool
	Log      notify.LogConfig
	// MetricsListen is daemon.metrics.listen: ADDRESS:PORT of the
	// Prometheus metrics; "" for none.
	MetricsListen string
	// IPsecBypass exempts the IKE sockets from the kernel's IPsec policies
	// (with the xfrm engine): a transport-mode policy between two hosts
	// covers their IKE traffic too, which must still flow in clear.
	IPsecBypass bool
	// LogUnmatched is daemon.log-unmatched: drop and log (message 7) the
	// packets of protected ranges that arrive without IPsec.
	LogUnmatched bool
}

// DefaultSettings are docs/policy-file.md's defaults.
func DefaultSettings() Settings {
	return Settings{
		Listen:            []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()},
		IKEPort:           500,
		NATTPort:          4500,
		Engine:            "xfrm",
		ControlSocket:     "/run/iked/iked.sock",
		HalfOpenMax:       4096,
		RetransmitBase:    2 * time.Second,
		RetransmitTries:   5,
		HalfOpenLifetime:  60 * time.Second,
		ReplyCacheTime:    60 * time.Second,
		LoadHalfOpen:      1024,
		PerSourceHalfOpen: 1024,
		RateLimit:         50,
		RateBurst:         100,
		InitiateMax:       256,
		InitiatePerPeer:   5,
		Log:               notify.LogConfig{Level: "info", Format: "console"},
	}
}

// Validate refuses settings the runtime cannot run with.
func (s *Settings) Validate() error {
	switch {
	case len(s.Listen) == 0:
		return fmt.Errorf("daemon: no listen address")
	case s.IKEPort == 0:
		return fmt.Errorf("daemon: ike-port 0")
	case s.IKEPort == s.NATTPort:
		return fmt.Errorf("daemon: ike-port and natt-port are both %d", s.IKEPort)
	case s.HalfOpenMax <= 0:
		return fmt.Errorf("daemon: half-open-max must be positive")
	case s.RetransmitBase <= 0 || s.RetransmitTries < 0 || s.RetransmitTries > 30:
		return fmt.Errorf("daemon: retransmit timeout must be positive and tries 0-30")
	case s.RateLimit <= 0 || s.RateBurst <= 0:
		return fmt.Errorf("daemon: rate limit must be positive")
	case s.LoadHalfOpen <= 0 || s.LoadHalfOpen > s.HalfOpenMax:
		return fmt.Errorf("daemon: under-load half-open must be 1 to half-open-max")
	case s.PerSourceHalfOpen <= 0:
		return fmt.Errorf("daemon: under-load per-source must be positive")
	case s.InitiateMax <= 0 || s.InitiatePerPeer <= 0:
		return fmt.Errorf("daemon: initiate-max and initiate-per-peer must be positive")
	case s.HalfOpenLifetime <= 0 || s.ReplyCacheTime <= 0:
		return fmt.Errorf("daemon: half-open-lifetime and reply-cache-time must be positive")
	}
	return nil
}

// Loaded is a policy as the daemon needs it: its settings, the kernel
// policies to install, the connections ikectl lists, and the policy itself
// for the exchange handlers (Context.Policy).
type Loaded struct {
	File     string
	Settings Settings
	Policies []engine.Policy
	// Manual are the manually keyed connections' SAs (manual.go); their
	// policies are in Policies.
	Manual []ManualSAs
	Conns  []control.Conn
	// Certs are the certificates the policy loaded, for ikectl
	// list-certs; the daemon fills in the days left when asked.
	Certs  []control.Cert
	Policy *policymgr.Policy
}

// Loader reads and checks a policy file. It returns the catalog messages
// the check produced (warnings and errors, in order) and a nil *Loaded when
// the policy is not instantiated; err is for a file that cannot be read
// (message 5 on reload).
type Loader func(path string) (*Loaded, []notify.Message, error)
