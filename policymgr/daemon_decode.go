package policymgr

import (
	"net/netip"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iked/iked/notify"
)

var daemonKeys = []string{"listen", "ike-port", "natt-port", "engine", "control-socket", "phase1-lifetime-min",
	"phase2-lifetime-min", "half-open-max", "half-open-lifetime", "reply-cache-time", "under-load", "initiate-max", "initiate-per-peer", "retransmit", "dpd", "log-unmatched", "log", "metrics", "xauth", "state-dir"}

// The keys of the daemon section's mappings (docs/policy-file.md writes
// them retransmit.timeout and so on).
var (
	retransmitKeys = []string{"timeout", "tries"}
	dpdKeys        = []string{"delay", "timeout"}
	logKeys        = []string{"level", "format", "syslog"}
	metricsKeys    = []string{"listen"}
	underLoadKeys  = []string{"half-open", "per-source", "rate", "burst"}
)

// daemonSection decodes the daemon section over the defaults.
func (d *decoder) daemonSection(n *yaml.Node) Daemon {
	ds := DefaultDaemon()
	const where = "the daemon section"
	var underLoad *yaml.Node
	setLoad, setShare := false, false
	d.mapping(n, where, daemonKeys, func(key string, k, v *yaml.Node) {
		what := "daemon " + key
		switch key {
		case "listen":
			list, nodes, ok := d.list(v, what)
			if !ok {
				return
			}
			for i, a := range list {
				if _, err := netip.ParseAddr(a); err != nil {
					d.errorf(nodes[i], "daemon listen address %q is not an IP address", a)
				}
			}
			if len(list) == 0 {
				d.errorf(k, "daemon listen is empty: the daemon would bind nothing")
			}
			ds.Listen = list
		case "ike-port":
			if p, ok := d.integer(v, what, 1, 65535); ok {
				ds.IKEPort = int(p)
			}
		case "natt-port":
			if p, ok := d.integer(v, what, 0, 65535); ok {
				ds.NATTPort = int(p)
			}
		case "engine":
			if s, ok := d.str(v, what); ok {
				if s != "xfrm" && s != "none" {
					d.errorf(v, "daemon engine %q: it must be xfrm or none", s)
				}
				ds.Engine = s
			}
		case "control-socket":
			if s, ok := d.str(v, what); ok {
				ds.ControlSocket = s
			}
		case "state-dir":
			if s, ok := d.str(v, what); ok {
				if !filepath.IsAbs(s) {
					d.errorf(v, "daemon state-dir %q must be an absolute path", s)
				}
				ds.StateDir = s
			}
		case "phase1-lifetime-min":
			if t, ok := d.duration(v, what, 0, 30*24*time.Hour); ok {
				ds.Phase1LifetimeMin = t
			}
		case "phase2-lifetime-min":
			if t, ok := d.duration(v, what, 0, 30*24*time.Hour); ok {
				ds.Phase2LifetimeMin = t
			}
		case "half-open-max":
			if h, ok := d.integer(v, what, 1, 1<<20); ok {
				ds.HalfOpenMax = int(h)
			}
		case "half-open-lifetime":
			if t, ok := d.duration(v, what, time.Second, time.Hour); ok {
				ds.HalfOpenLifetime = t
			}
		case "reply-cache-time":
			if t, ok := d.duration(v, what, time.Second, time.Hour); ok {
				ds.ReplyCacheTime = t
			}
		case "under-load":
			underLoad = k
			d.mapping(v, "daemon under-load", underLoadKeys, func(key string, _, v *yaml.Node) {
				what := "daemon under-load " + key
				switch key {
				case "half-open":
					if h, ok := d.integer(v, what, 1, 1<<20); ok {
						ds.UnderLoad.HalfOpen, setLoad = int(h), true
					}
				case "per-source":
					if h, ok := d.integer(v, what, 1, 1<<20); ok {
						ds.UnderLoad.PerSource, setShare = int(h), true
					}
				case "rate":
					if r, ok := d.integer(v, what, 1, 1<<20); ok {
						ds.UnderLoad.Rate = float64(r)
					}
				case "burst":
					if b, ok := d.integer(v, what, 1, 1<<20); ok {
						ds.UnderLoad.Burst = int(b)
					}
				}
			})
		case "initiate-max":
			if h, ok := d.integer(v, what, 1, 1<<20); ok {
				ds.InitiateMax = int(h)
			}
		case "initiate-per-peer":
			if h, ok := d.integer(v, what, 1, 1<<20); ok {
				ds.InitiatePerPeer = int(h)
			}
		case "retransmit":
			d.mapping(v, "daemon retransmit", retransmitKeys, func(key string, _, v *yaml.Node) {
				if key == "timeout" {
					if t, ok := d.duration(v, "daemon retransmit timeout", 100*time.Millisecond, time.Minute); ok {
						ds.Retransmit.Timeout = t
					}
				} else if t, ok := d.integer(v, "daemon retransmit tries", 1, 20); ok {
					ds.Retransmit.Tries = int(t)
				}
			})
		case "dpd":
			d.mapping(v, "daemon dpd", dpdKeys, func(key string, _, v *yaml.Node) {
				if t, ok := d.duration(v, "daemon dpd "+key, 0, 24*time.Hour); ok {
					if key == "delay" {
						ds.DPD.Delay = t
					} else {
						ds.DPD.Timeout = t
					}
				}
			})
		case "log-unmatched":
			if b, ok := d.boolean(v, what); ok {
				ds.LogUnmatched = b
			}
		case "metrics":
			d.mapping(v, "daemon metrics", metricsKeys, func(_ string, _, v *yaml.Node) {
				if s, ok := d.str(v, "daemon metrics listen"); ok {
					if ap, err := netip.ParseAddrPort(s); err != nil || ap.Port() == 0 {
						d.errorf(v, "daemon metrics listen %q: it must be ADDRESS:PORT, as 127.0.0.1:9772 or [::1]:9772", s)
					} else {
						ds.Metrics.Listen = s
					}
				}
			})
		case "xauth":
			ds.XAuth = d.xauthSection(k, v)
		case "log":
			d.mapping(v, "daemon log", logKeys, func(key string, _, v *yaml.Node) {
				switch key {
				case "level":
					if s, ok := d.str(v, "daemon log level"); ok {
						if _, err := notify.ParseLevel(s); err != nil {
							d.errorf(v, "daemon log level: %v", err)
						}
						ds.Log.Level = s
					}
				case "format":
					if s, ok := d.str(v, "daemon log format"); ok {
						if s != "console" && s != "json" {
							d.errorf(v, "daemon log format %q: it must be console or json", s)
						}
						ds.Log.Format = s
					}
				case "syslog":
					if b, ok := d.boolean(v, "daemon log syslog"); ok {
						ds.Log.Syslog = b
					}
				}
			})
		}
	})
	if ds.NATTPort != 0 && ds.NATTPort == ds.IKEPort {
		d.errorf(n, "daemon ike-port and natt-port are both %d", ds.IKEPort)
	}
	// Unless given, the table is under load from a quarter of
	// half-open-max, and a source may then hold a quarter of it.
	q := max(1, ds.HalfOpenMax/4)
	if !setLoad {
		ds.UnderLoad.HalfOpen = q
	}
	if !setShare {
		ds.UnderLoad.PerSource = q
	}
	if ds.UnderLoad.HalfOpen > ds.HalfOpenMax {
		d.errorf(underLoad, "daemon under-load half-open %d is above half-open-max %d: the limits would never apply",
			ds.UnderLoad.HalfOpen, ds.HalfOpenMax)
	}
	return ds
}
