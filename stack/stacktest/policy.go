package stacktest

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Policy describes the policy file of a test daemon: one PSK connection
// "link" from Local to Remote with one ESP proposal. The zero values give
// Main Mode, transport mode between the two hosts, `initiate: never`, no
// NAT-T, the memory engine, debug level, retransmission after 500 ms,
// three tries.
type Policy struct {
	Local, Remote string
	// Tunnel puts the connection in tunnel mode between the gateways
	// Local and Remote; LocalAddress and RemoteAddress, when set, are its
	// selectors instead of the hosts ("-" for RemoteAddress: none, any).
	// RoadWarrior leaves remote-gw out: the connection answers any peer
	// (without Tunnel, local-gw is Local and the selectors the hosts).
	Tunnel, RoadWarrior         bool
	LocalAddress, RemoteAddress string
	// Initiate is the connection's initiate (default never).
	Initiate string
	// Mode is main (default) or aggressive.
	Mode string
	// PSK is the pre-shared key (default "stacktest key").
	PSK string
	// LocalID, when set, is the connection's local-id.
	LocalID string
	// IKE, when set, is more of the connection's ike mapping, e.g.
	// "xauth: server".
	IKE string
	// IKEPort, when set, is daemon.ike-port.
	IKEPort int
	// NATTPort is daemon.natt-port (default 0: no NAT-T port, no NAT-T
	// Vendor IDs).
	NATTPort int
	// LogLevel is daemon.log.level (default debug); the format is JSON.
	LogLevel string
	// Retransmit is daemon.retransmit (default {timeout: 500ms, tries: 3}).
	Retransmit string
	// DPD, when set, is daemon.dpd, e.g. "{delay: 10s, timeout: 30s}".
	DPD string
	// Phase1LifetimeMin and Phase2LifetimeMin, when set, are
	// daemon.phase1-lifetime-min and daemon.phase2-lifetime-min.
	Phase1LifetimeMin, Phase2LifetimeMin string
	// IKELifetime, when set, is the ike transform's lifetime.
	IKELifetime string
	// ESP is the esp transform's ciphers and hmacs (default
	// "ciphers: [aes128], hmacs: [sha256]").
	ESP string
	// PFS, when set, is the connection's pfs group.
	PFS string
	// Lifetime and KBytes, when set, are the connection's phase 2
	// lifetime and lifetime-kbytes.
	Lifetime string
	KBytes   int
	// Metrics, when set, is daemon.metrics.listen (ADDRESS:PORT).
	Metrics string
	// Updown and UpdownTimeout, when set, are the connection's updown
	// script and updown-timeout.
	Updown, UpdownTimeout string
	// KeyingTries, when set, is the connection's keying-tries.
	KeyingTries string
	// Rekey, when set, is the connection's rekey mapping, e.g.
	// "{margin: 10m, jitter: 5m}".
	Rekey string
	// ConnDPD and CloseAction, when set, are the connection's dpd
	// mapping (e.g. "{action: restart}") and close-action.
	ConnDPD, CloseAction string
	// Daemon, when set, is more of the daemon section, one "key: value"
	// per line, e.g. "under-load: {half-open: 32}".
	Daemon string
	// Certificates, when set, is the certificates section, one "name:
	// {...}" per line; Auth then replaces the ike section's pre-shared
	// key, e.g. "auth: certificate, certificate: me".
	Certificates, Auth string
	// Fragmentation, when set, is the connection's fragmentation.
	Fragmentation string
	// Pools, when set, is the pools section's body, one pool a line,
	// e.g. "rw: {range: 10.99.0.0/24}"; ModeConfig the connection's
	// mode-config, e.g. "{pool: rw}".
	Pools, ModeConfig string
	// StateDir is daemon.state-dir, where the Mode Config leases are
	// kept: by default a directory beside the control socket, in the
	// node's own temporary directory, when Pools or ModeConfig is set;
	// give the same one to a restarted node to keep its leases.
	StateDir string
}

// Transforms are the transforms, proposals and proposal-lists sections
// for policy files that a test writes itself: the ike transform
// (AES-128, SHA-256, MODP 2048) for phase 1, and the esp transform
// (AES-128, HMAC-SHA-256) as proposal esp of proposal list qm.
const Transforms = `transforms:
  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]}
  esp: {protocol: esp, ciphers: [aes128], hmacs: [sha256]}
proposals:
  esp: [esp]
proposal-lists:
  qm: [esp]
`

// YAML returns the policy file, with its control socket at sock.
func (p Policy) YAML(sock string) string {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.Initiate, "never")
	def(&p.Mode, "main")
	def(&p.PSK, "stacktest key")
	def(&p.LogLevel, "debug")
	def(&p.Retransmit, "{timeout: 500ms, tries: 3}")
	def(&p.ESP, "ciphers: [aes128], hmacs: [sha256]")
	var b strings.Builder
	fmt.Fprintf(&b, "daemon:\n  listen: [%q]\n  natt-port: %d\n  engine: none\n  control-socket: %s\n", p.Local, p.NATTPort, sock)
	if p.IKEPort != 0 {
		fmt.Fprintf(&b, "  ike-port: %d\n", p.IKEPort)
	}
	fmt.Fprintf(&b, "  retransmit: %s\n  log: {level: %s, format: json}\n", p.Retransmit, p.LogLevel)
	if p.DPD != "" {
		fmt.Fprintf(&b, "  dpd: %s\n", p.DPD)
	}
	if p.StateDir == "" && (p.Pools != "" || p.ModeConfig != "") {
		p.StateDir = filepath.Join(filepath.Dir(sock), "state")
	}
	if p.StateDir != "" {
		fmt.Fprintf(&b, "  state-dir: %q\n", p.StateDir)
	}
	if p.Metrics != "" {
		fmt.Fprintf(&b, "  metrics: {listen: %q}\n", p.Metrics)
	}
	if p.Phase1LifetimeMin != "" {
		fmt.Fprintf(&b, "  phase1-lifetime-min: %s\n", p.Phase1LifetimeMin)
	}
	if p.Phase2LifetimeMin != "" {
		fmt.Fprintf(&b, "  phase2-lifetime-min: %s\n", p.Phase2LifetimeMin)
	}
	for _, l := range strings.Split(p.Daemon, "\n") {
		if strings.TrimSpace(l) != "" {
			fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(l))
		}
	}
	if p.Certificates != "" {
		b.WriteString("certificates:\n")
		for _, l := range strings.Split(p.Certificates, "\n") {
			if strings.TrimSpace(l) != "" {
				fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(l))
			}
		}
	}
	ikeLife := ""
	if p.IKELifetime != "" {
		ikeLife = ", lifetime: " + p.IKELifetime
	}
	fmt.Fprintf(&b, "transforms:\n  ike: {protocol: isakmp, ciphers: [aes128], hashes: [sha256], groups: [modp2048]%s}\n", ikeLife)
	fmt.Fprintf(&b, "  esp: {protocol: esp, %s}\nproposals:\n  esp: [esp]\nproposal-lists:\n  qm: [esp]\n", p.ESP)
	la, ra := p.Local, p.Remote
	if p.LocalAddress != "" {
		la = p.LocalAddress
	}
	if p.RemoteAddress != "" {
		ra = p.RemoteAddress
	}
	fmt.Fprintf(&b, "connections:\n  link:\n    local-address: %s\n", la)
	if ra != "-" {
		fmt.Fprintf(&b, "    remote-address: %s\n", ra)
	}
	if p.Tunnel || p.RoadWarrior {
		fmt.Fprintf(&b, "    local-gw: %s\n", p.Local)
		if !p.RoadWarrior {
			fmt.Fprintf(&b, "    remote-gw: %s\n", p.Remote)
		}
	}
	fmt.Fprintf(&b, "    initiate: %s\n", p.Initiate)
	localID := ""
	if p.LocalID != "" {
		localID = fmt.Sprintf(", local-id: %q", p.LocalID)
	}
	auth := fmt.Sprintf("auth: psk, psk: %q", p.PSK)
	if p.Auth != "" {
		auth = p.Auth
	}
	if p.IKE != "" {
		localID += ", " + p.IKE
	}
	fmt.Fprintf(&b, "    ike: {mode: %s, transforms: [ike], %s%s}\n    proposal-list: qm\n", p.Mode, auth, localID)
	if p.Fragmentation != "" {
		fmt.Fprintf(&b, "    fragmentation: %s\n", p.Fragmentation)
	}
	if p.PFS != "" {
		fmt.Fprintf(&b, "    pfs: %s\n", p.PFS)
	}
	if p.Lifetime != "" {
		fmt.Fprintf(&b, "    lifetime: %s\n", p.Lifetime)
	}
	if p.KBytes != 0 {
		fmt.Fprintf(&b, "    lifetime-kbytes: %d\n", p.KBytes)
	}
	if p.Updown != "" {
		fmt.Fprintf(&b, "    updown: %q\n", p.Updown)
	}
	if p.Rekey != "" {
		fmt.Fprintf(&b, "    rekey: %s\n", p.Rekey)
	}
	if p.KeyingTries != "" {
		fmt.Fprintf(&b, "    keying-tries: %s\n", p.KeyingTries)
	}
	if p.ConnDPD != "" {
		fmt.Fprintf(&b, "    dpd: %s\n", p.ConnDPD)
	}
	if p.CloseAction != "" {
		fmt.Fprintf(&b, "    close-action: %s\n", p.CloseAction)
	}
	if p.UpdownTimeout != "" {
		fmt.Fprintf(&b, "    updown-timeout: %s\n", p.UpdownTimeout)
	}
	if p.ModeConfig != "" {
		fmt.Fprintf(&b, "    mode-config: %s\n", p.ModeConfig)
	}
	if p.Pools != "" {
		b.WriteString("pools:\n")
		for _, l := range strings.Split(p.Pools, "\n") {
			if strings.TrimSpace(l) != "" {
				fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(l))
			}
		}
	}
	return b.String()
}
