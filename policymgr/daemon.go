package policymgr

import (
	"time"

	"github.com/iked/iked/notify"
)

// Daemon is the policy file's daemon section: how the daemon itself runs.
// It is part of the policy so that one file says everything and a reload
// can change the log level; the daemon decides which fields a reload may
// change (listen addresses and ports need a restart).
type Daemon struct {
	Listen            []string      // addresses to bind
	IKEPort           int           // ISAKMP, 500
	NATTPort          int           // NAT traversal (RFC 3947), 4500; 0: off
	Engine            string        // "xfrm" or "none"
	ControlSocket     string        // the ikectl socket
	StateDir          string        // what outlives the daemon: the Mode Config leases (modecfg)
	Phase1LifetimeMin time.Duration // message 47 below this
	Phase2LifetimeMin time.Duration // message 59 below this
	HalfOpenMax       int           // phase 1 responders not yet authenticated
	HalfOpenLifetime  time.Duration // an unauthenticated responder SA is removed after it
	ReplyCacheTime    time.Duration // a finished exchange answers retransmissions this long
	UnderLoad         UnderLoad
	Retransmit        Retransmit
	DPD               DPD
	LogUnmatched      bool // message 7 for packets that match no rule
	Log               notify.LogConfig
	// Metrics is where the Prometheus metrics are served; off when its
	// Listen is empty.
	Metrics Metrics
	// XAuth is where an XAUTH server checks user names and passwords.
	XAuth XAuth
	// InitiateMax and InitiatePerPeer bound the phase 1 exchanges this
	// host initiates that are not yet established, in all and with one
	// peer address: `initiate: start` connections and keying retries
	// wait below them.
	InitiateMax, InitiatePerPeer int
}

// Metrics is daemon.metrics: the address and port of the HTTP listener
// that serves /metrics.
type Metrics struct {
	Listen string
}

// UnderLoad is daemon.under-load: the per-source limits on new responder
// SAs that apply only while the half-open table holds HalfOpen SAs or more
// (daemon/admission.go). By default both HalfOpen and PerSource are a
// quarter of half-open-max.
type UnderLoad struct {
	HalfOpen  int     // the table is under load from this many half-open SAs
	PerSource int     // half-open SAs one source address may hold under load
	Rate      float64 // new SAs a second per source address under load
	Burst     int     // and at once
}

// Retransmit says how long to wait for a peer's answer and how often to
// resend; the wait doubles each try.
type Retransmit struct {
	Timeout time.Duration
	Tries   int
}

// DPD is dead peer detection (RFC 3706), used when the peer supports it.
type DPD struct {
	Delay   time.Duration
	Timeout time.Duration
}

// DefaultDaemon returns the daemon section a file gets for every key it
// leaves out: the defaults of docs/policy-file.md.
func DefaultDaemon() Daemon {
	return Daemon{
		Listen:            []string{"0.0.0.0", "::"},
		IKEPort:           500,
		NATTPort:          4500,
		Engine:            "xfrm",
		ControlSocket:     "/run/iked/iked.sock",
		StateDir:          "/var/lib/iked",
		Phase1LifetimeMin: 5 * time.Minute,
		Phase2LifetimeMin: 2 * time.Minute,
		HalfOpenMax:       4096,
		HalfOpenLifetime:  60 * time.Second,
		ReplyCacheTime:    60 * time.Second,
		UnderLoad:         UnderLoad{HalfOpen: 1024, PerSource: 1024, Rate: 50, Burst: 100},
		InitiateMax:       256,
		InitiatePerPeer:   5,
		Retransmit:        Retransmit{Timeout: 2 * time.Second, Tries: 5},
		DPD:               DPD{Delay: 30 * time.Second, Timeout: 150 * time.Second},
		LogUnmatched:      false,
		Log:               notify.LogConfig{Level: "info", Format: "console"},
	}
}
