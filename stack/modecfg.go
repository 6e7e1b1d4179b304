package stack

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"go.uber.org/zap"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/modecfg"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// ModeConfig is the daemon's Mode Config: the lease store (modecfg.Store)
// in the policy's daemon.state-dir, opened with the first policy that has
// a pool or a connection with mode-config (a daemon without Mode Config
// never creates the file), given the pools of each policy put in force
// and closed at stop. It is the Transaction exchange's ModeConfig, Quick
// Mode's VirtualIPs, the lister of `ikectl list-leases` and a watcher
// that releases what an ISAKMP SA leased or installed, however it went.
// Before the store is open every call answers as if nothing was leased,
// and a gateway's Reply fails (the Transaction exchange then ends the SA
// with message 46).
type ModeConfig struct {
	mu    sync.Mutex
	store *modecfg.Store
	// dir is the state directory the store was opened in.
	dir string
}

// errNotOpen is Reply's error while no policy with Mode Config has been
// in force.
var errNotOpen = errors.New("the Mode Config lease store is not open")

// wants reports whether p uses Mode Config.
func wants(p *policymgr.Policy) bool {
	if p == nil {
		return false
	}
	if len(p.Pools) > 0 {
		return true
	}
	for _, c := range p.Connections {
		if c.ModeConfig != nil {
			return true
		}
	}
	return false
}

// pushes reports whether conn's Mode Config is pushed
// (mode-config.push): the Transaction exchange's Push.
func pushes(conn *policymgr.Connection) bool {
	return conn != nil && conn.ModeConfig != nil && conn.ModeConfig.Push
}

// policy takes the policy put in force (daemon.OnPolicy): the store is
// opened when p first uses Mode Config and given p's pools. A changed
// state-dir takes effect on restart, as the sockets do.
func (m *ModeConfig) policy(p *policymgr.Policy, log *notify.Logger) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.store == nil {
		if !wants(p) {
			return nil
		}
		s, err := modecfg.Open(p.Daemon.StateDir, modecfg.Options{Log: log})
		if err != nil {
			return fmt.Errorf("daemon.state-dir %s: %w", p.Daemon.StateDir, err)
		}
		m.store, m.dir = s, p.Daemon.StateDir
	} else if p.Daemon.StateDir != m.dir && log != nil {
		log.Warn("daemon.state-dir changes only on restart", zap.String("state-dir", m.dir))
	}
	n, err := m.store.Reload(p)
	if err != nil {
		return fmt.Errorf("Mode Config lease file: %w", err)
	}
	if n > 0 && log != nil {
		log.Info("Mode Config leases outside the pools forgotten", zap.Int("leases", n))
	}
	return nil
}

// close closes the store (daemon.OnStop).
func (m *ModeConfig) close(log *notify.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.store == nil {
		return
	}
	if err := m.store.Close(); err != nil && log != nil {
		log.Warn("Mode Config lease file not closed cleanly", zap.Error(err))
	}
	m.store = nil
}

// Store returns the open store (nil: none yet).
func (m *ModeConfig) Store() *modecfg.Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.store
}

// Reply answers a client's Mode Config request (transaction.ModeConfig).
func (m *ModeConfig) Reply(conn *policymgr.Connection, owner daemon.Cookies, identity, user string, asked []isakmp.Attribute) ([]isakmp.Attribute, error) {
	s := m.Store()
	if s == nil {
		return nil, errNotOpen
	}
	return s.Reply(conn, owner, identity, user, asked)
}

// Release gives back what owner leased or installed (transaction.ModeConfig).
func (m *ModeConfig) Release(owner daemon.Cookies) {
	if s := m.Store(); s != nil {
		s.Release(owner)
	}
}

// Request is what a client connection asks for (transaction.ModeConfig).
func (m *ModeConfig) Request(conn *policymgr.Connection) []isakmp.Attribute {
	if s := m.Store(); s != nil {
		return s.Request(conn)
	}
	return nil
}

// Apply installs what a gateway gave a client connection
// (transaction.ModeConfig).
func (m *ModeConfig) Apply(conn *policymgr.Connection, owner daemon.Cookies, got []isakmp.Attribute) error {
	s := m.Store()
	if s == nil {
		return errNotOpen
	}
	return s.Apply(conn, owner, got)
}

// VirtualIP is the address of owner's peer (gateway) or ours (client)
// (quickmode.VirtualIPs).
func (m *ModeConfig) VirtualIP(owner daemon.Cookies) (netip.Addr, bool) {
	if s := m.Store(); s != nil {
		return s.VirtualIP(owner)
	}
	return netip.Addr{}, false
}

// DNS is what the gateway gave a client's SA for the updown script
// (quickmode.VirtualIPs).
func (m *ModeConfig) DNS(owner daemon.Cookies) ([]netip.Addr, string) {
	if s := m.Store(); s != nil {
		return s.DNS(owner)
	}
	return nil, ""
}

// ListLeases lists the leases for `ikectl list-leases` (daemon.LeaseLister).
func (m *ModeConfig) ListLeases() ([]control.Lease, error) {
	if s := m.Store(); s != nil {
		return s.ListLeases()
	}
	return nil, nil
}

// SAEstablished is the daemon.Watcher's: nothing to do.
func (m *ModeConfig) SAEstablished(*daemon.Context) daemon.Result { return daemon.Result{} }

// SARemoved releases what the SA leased or installed (daemon.Watcher).
func (m *ModeConfig) SARemoved(c *daemon.Context, why daemon.RemoveReason) daemon.Result {
	if s := m.Store(); s != nil {
		return s.SARemoved(c, why)
	}
	return daemon.Result{}
}
