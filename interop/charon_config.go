package interop

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
)

// CharonOptions is what StartCharon writes into strongswan.conf and
// swanctl.conf. Zero values give strongSwan's defaults.
type CharonOptions struct {
	Connections []Connection
	Secrets     []Secret
	XAuth       []XAuthSecret
	// Pools are swanctl.conf's pools (Mode Config addresses and
	// attributes a connection's Pools names).
	Pools []CharonPool
	// Credentials are copied into the instance's swanctl folder.
	Credentials Credentials
	// LibIPsec loads the kernel-libipsec plugin: ESP in user space over a TUN
	// device, needed for child SAs to install on a kernel without ESP. It
	// forces UDP encapsulation, so IKE floats to port 4500, and it must
	// route the remote traffic selector through its TUN device with a local
	// source address inside the local selector: give the host one with
	// Host.AddAddr, or the child SA fails ("error installing route").
	LibIPsec bool
	// RetransmitTimeout, RetransmitBase and RetransmitTries tune charon's
	// retransmission (strongswan.conf charon.retransmit_*), so loss tests
	// finish in seconds: 0 leaves strongSwan's 4 s, 1.8 and 5.
	RetransmitTimeout time.Duration
	RetransmitBase    float64
	RetransmitTries   int
	// Plugins, when set, is the only plugins charon loads (strongswan.conf
	// load); swanctl then loads only what it needs for PSKs and keys.
	// Debian loads sixty-odd, and swanctl's af-alg plugin probes every
	// kernel algorithm, which costs many seconds in an emulated VM.
	Plugins string
	// Extra is copied verbatim inside the charon-systemd { } section.
	Extra string
}

// Connection is one swanctl.conf connection, always IKEv1.
type Connection struct {
	Name        string // default "ike"
	Aggressive  bool
	LocalAddrs  string // e.g. "192.0.2.1"; empty is %any
	RemoteAddrs string
	Proposals   string // IKE proposals, e.g. "aes128-sha256-modp2048"
	LocalAuth   string // "psk" (default) or "pubkey"
	RemoteAuth  string
	LocalID     string // default: the address
	RemoteID    string
	LocalCert   string // file name under Credentials.Certs, for pubkey
	RemoteCert  string // file name under Credentials.Certs: the peer's, when it sends none
	SendCert    string // "always", "ifasked", "never"
	DPDDelay    time.Duration
	DPDTimeout  time.Duration // IKEv1 only: silence before the peer is dead
	RekeyTime   time.Duration // IKE SA; 0 is 4 h
	OverTime    time.Duration
	RandTime    time.Duration // IKE SA; 0 is charon's default, the smaller of over_time and half of rekey_time
	ReauthTime  time.Duration
	Encap       bool   // force UDP encapsulation (fake NAT-D)
	Unique      string // "no", "never", "keep", "replace"
	Fragment    string // "yes", "accept", "force", "no"
	// LocalXAuthID, when set, adds a second local round "auth = xauth"
	// with this xauth_id: charon is an XAUTH client (xauth-generic),
	// its password an XAuthSecrets entry.
	LocalXAuthID string
	// RemoteXAuth adds a second remote round "auth = xauth": charon is
	// an XAUTH gateway checking the XAuthSecrets.
	RemoteXAuth bool
	// VIPs, when set, asks the gateway for a virtual IP by Mode Config
	// (swanctl.conf vips, e.g. "0.0.0.0"); Pools hands them out (a gateway,
	// names of CharonOptions.Pools).
	VIPs, Pools string
	// NoPull: Mode Config by push (swanctl.conf pull = no): a gateway
	// sends its SET unasked, a client waits for it.
	NoPull   bool
	Children []Child
}

// CharonPool is one swanctl.conf pool: addresses and DNS servers (the
// attr plugin's attributes).
type CharonPool struct {
	Name, Addrs string
	DNS         string // comma-separated
	// SplitExclude is the attr plugin's split_exclude (Unity
	// LOCAL_LAN), comma-separated networks.
	SplitExclude string
}

// XAuthSecret is an XAUTH user name and password (swanctl.conf's xauth
// secrets).
type XAuthSecret struct {
	ID, Password string
}

// Child is one CHILD_SA (IPsec SA) of a connection.
type Child struct {
	Name         string // default "c"
	LocalTS      string // e.g. "198.51.100.0/25"; empty is dynamic
	RemoteTS     string
	ESPProposals string // e.g. "aes128-sha256" or "aes256-sha1-modp1024" (PFS)
	AHProposals  string // e.g. "sha256": AH (with ESPProposals too: AH+ESP)
	IPComp       bool   // propose IPComp (deflate)
	Mode         string // "tunnel" (default), "transport"
	RekeyTime    time.Duration
	LifeTime     time.Duration
	StartAction  string // "none" (default), "trap", "start"
	DPDAction    string
	CloseAction  string
	SHA256_96    bool // sha256_96: HMAC-SHA-256 truncated to 96 bits
}

// Secret is a pre-shared key shared by the IDs.
type Secret struct {
	IDs []string
	PSK []byte
}

// Credentials are file paths copied into the swanctl folders charon loads.
type Credentials struct {
	CACerts []string // to x509ca/
	Certs   []string // to x509/ (Connection.LocalCert names one by base name)
	Keys    []string // to private/
}

var confFuncs = template.FuncMap{
	"secs": func(d time.Duration) string { return fmt.Sprintf("%ds", int64(d/time.Second)) },
	"hex":  func(b []byte) string { return "0x" + hex.EncodeToString(b) },
	"or": func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	},
	"yesno": func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	},
	"ms":    func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) },
	"quote": func(s string) string { return fmt.Sprintf("%q", s) },
}

// strongswanConfTmpl (interop/README.md): own vici socket, a file log at the
// levels that print the derived keys, no journal.
var strongswanConfTmpl = template.Must(template.New("strongswan.conf").Funcs(confFuncs).Parse(`# generated by interop.StartCharon
charon-systemd {
  journal { default = -1 }
  filelog {
    main {
      path = {{.Dir}}/charon.log
      default = 1
      ike = 4
      chd = 4
      cfg = 2
      enc = 1
      net = 1
      time_format = %b %e %T
      flush_line = yes
    }
  }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici { socket = unix://{{.Dir}}/vici }
    # the DNS servers a gateway hands out go to a file of this charon,
    # not to the resolv.conf of the machine running the tests
    resolve { file = {{.Dir}}/resolv.conf }
    kernel-libipsec { load = {{yesno .Opt.LibIPsec}} }
  }
{{- if .Opt.Plugins}}
  load = {{.Opt.Plugins}}
{{- end}}
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  install_virtual_ip = no
{{- if .Opt.RetransmitTimeout}}
  retransmit_timeout = {{ms .Opt.RetransmitTimeout}}
{{- end}}
{{- if .Opt.RetransmitBase}}
  retransmit_base = {{.Opt.RetransmitBase}}
{{- end}}
{{- if .Opt.RetransmitTries}}
  retransmit_tries = {{.Opt.RetransmitTries}}
{{- end}}
{{.Opt.Extra}}
}
swanctl {
  socket = unix://{{.Dir}}/vici
  load = pem pkcs1 pkcs8 x509 pubkey random nonce openssl
}
`))

var swanctlConfTmpl = template.Must(template.New("swanctl.conf").Funcs(confFuncs).Parse(`# generated by interop.StartCharon
connections {
{{- range .Connections}}
  {{or .Name "ike"}} {
    version = 1
    aggressive = {{yesno .Aggressive}}
    local_addrs = {{or .LocalAddrs "%any"}}
    remote_addrs = {{or .RemoteAddrs "%any"}}
{{- if .Proposals}}
    proposals = {{.Proposals}}
{{- end}}
{{- if .SendCert}}
    send_cert = {{.SendCert}}
{{- end}}
{{- if .DPDDelay}}
    dpd_delay = {{secs .DPDDelay}}
{{- end}}
{{- if .DPDTimeout}}
    dpd_timeout = {{secs .DPDTimeout}}
{{- end}}
{{- if .RekeyTime}}
    rekey_time = {{secs .RekeyTime}}
{{- end}}
{{- if .OverTime}}
    over_time = {{secs .OverTime}}
{{- end}}
{{- if .RandTime}}
    rand_time = {{secs .RandTime}}
{{- end}}
{{- if .ReauthTime}}
    reauth_time = {{secs .ReauthTime}}
{{- end}}
{{- if .Encap}}
    encap = yes
{{- end}}
{{- if .Unique}}
    unique = {{.Unique}}
{{- end}}
{{- if .Fragment}}
    fragmentation = {{.Fragment}}
{{- end}}
{{- if .VIPs}}
    vips = {{.VIPs}}
{{- end}}
{{- if .Pools}}
    pools = {{.Pools}}
{{- end}}
{{- if .NoPull}}
    pull = no
{{- end}}
    local {
      auth = {{or .LocalAuth "psk"}}
{{- if .LocalID}}
      id = {{quote .LocalID}}
{{- end}}
{{- if .LocalCert}}
      certs = {{.LocalCert}}
{{- end}}
    }
{{- if .LocalXAuthID}}
    local-xauth {
      auth = xauth
      xauth_id = {{quote .LocalXAuthID}}
    }
{{- end}}
    remote {
      auth = {{or .RemoteAuth "psk"}}
{{- if .RemoteID}}
      id = {{quote .RemoteID}}
{{- end}}
{{- if .RemoteCert}}
      certs = {{.RemoteCert}}
{{- end}}
    }
{{- if .RemoteXAuth}}
    remote-xauth {
      auth = xauth
    }
{{- end}}
    children {
{{- range .Children}}
      {{or .Name "c"}} {
{{- if .LocalTS}}
        local_ts = {{.LocalTS}}
{{- end}}
{{- if .RemoteTS}}
        remote_ts = {{.RemoteTS}}
{{- end}}
{{- if .ESPProposals}}
        esp_proposals = {{.ESPProposals}}
{{- end}}
{{- if .AHProposals}}
        ah_proposals = {{.AHProposals}}
{{- end}}
{{- if .IPComp}}
        ipcomp = yes
{{- end}}
        mode = {{or .Mode "tunnel"}}
{{- if .RekeyTime}}
        rekey_time = {{secs .RekeyTime}}
{{- end}}
{{- if .LifeTime}}
        life_time = {{secs .LifeTime}}
{{- end}}
        start_action = {{or .StartAction "none"}}
{{- if .DPDAction}}
        dpd_action = {{.DPDAction}}
{{- end}}
{{- if .CloseAction}}
        close_action = {{.CloseAction}}
{{- end}}
{{- if .SHA256_96}}
        sha256_96 = yes
{{- end}}
      }
{{- end}}
    }
  }
{{- end}}
}
pools {
{{- range .Pools}}
  {{.Name}} {
    addrs = {{.Addrs}}
{{- if .DNS}}
    dns = {{.DNS}}
{{- end}}
{{- if .SplitExclude}}
    split_exclude = {{.SplitExclude}}
{{- end}}
  }
{{- end}}
}
secrets {
{{- range $i, $s := .Secrets}}
  ike-{{$i}} {
{{- range $j, $id := $s.IDs}}
    id-{{$j}} = {{quote $id}}
{{- end}}
    secret = {{hex $s.PSK}}
  }
{{- end}}
{{- range $i, $x := .XAuth}}
  xauth-{{$i}} {
    id = {{quote $x.ID}}
    secret = {{quote $x.Password}}
  }
{{- end}}
}
`))

// writeStrongswanConf writes the strongswan.conf of an instance in dir.
func writeStrongswanConf(w io.Writer, dir string, opt *CharonOptions) error {
	if strings.ContainsAny(dir, " \"{}") {
		return fmt.Errorf("interop: charon folder %q has characters strongswan.conf cannot hold", dir)
	}
	return strongswanConfTmpl.Execute(w, struct {
		Dir string
		Opt *CharonOptions
	}{dir, opt})
}

// writeSwanctlConf writes the swanctl.conf of an instance.
func writeSwanctlConf(w io.Writer, opt *CharonOptions) error {
	return swanctlConfTmpl.Execute(w, opt)
}
