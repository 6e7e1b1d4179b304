package policymgr

import (
	"sync"
	"sync/atomic"

	"github.com/iked/iked/notify"
)

// Manager holds the running policy and replaces it on reload, atomically,
// so that the exchanges read a whole policy, old or new, never half of
// one. A reload that cannot read the file (message 5) or finds serious
// errors (their messages, then 21) keeps the running policy.
type Manager struct {
	path string
	opts LoadOptions
	mu   sync.Mutex // one load at a time
	cur  atomic.Pointer[Policy]
}

// NewManager returns a manager of the policy file at path, with no policy
// loaded yet.
func NewManager(path string, opts LoadOptions) *Manager {
	return &Manager{path: path, opts: opts}
}

// Current returns the running policy, or nil before a good load.
func (m *Manager) Current() *Policy { return m.cur.Load() }

// Path returns the policy file's path.
func (m *Manager) Path() string { return m.path }

// Start loads the policy at start-up: the findings, and whether the policy
// was instantiated (false: iked exits 1). A file that cannot be read is a
// plain finding and 21, as with Check.
func (m *Manager) Start() ([]Finding, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, fs, err := LoadFindings(m.path, m.opts)
	if err != nil {
		fs, _ = Check(m.path, m.opts)
		return fs, false
	}
	if p != nil {
		m.cur.Store(p)
	}
	return fs, p != nil
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	// Applied: the new policy is running. Otherwise the old one stays.
	Applied bool
	// Findings are the messages to log: the file's, or message 5.
	Findings []Finding
	// Diff is what changed, when Applied.
	Diff Diff
}

// Reload re-reads the file (SIGHUP, `ikectl reload`).
func (m *Manager) Reload() ReloadResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, fs, err := LoadFindings(m.path, m.opts)
	if err != nil {
		return ReloadResult{Findings: []Finding{{Message: notify.ConfigUnreadable(m.path), File: m.path, Detail: err.Error()}}}
	}
	if p == nil {
		return ReloadResult{Findings: fs}
	}
	old := m.cur.Swap(p)
	return ReloadResult{Applied: true, Findings: fs, Diff: DiffPolicies(old, p)}
}

// Diff names the connections a reload added, removed, changed (same name,
// other content: their SAs must go) and kept unchanged (their SAs stay).
type Diff struct {
	Added, Removed, Changed, Unchanged []string
}

// Empty reports a reload that changed no connection.
func (d Diff) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Changed) == 0 }

// DiffPolicies compares two policies' connections by name and content.
// old may be nil (everything is added).
func DiffPolicies(old, cur *Policy) Diff {
	var d Diff
	if old != nil {
		for _, c := range old.Connections {
			if _, ok := cur.byName[c.Name]; !ok {
				d.Removed = append(d.Removed, c.Name)
			}
		}
	}
	for _, c := range cur.Connections {
		var prev *Connection
		if old != nil {
			prev = old.byName[c.Name]
		}
		switch {
		case prev == nil:
			d.Added = append(d.Added, c.Name)
		case prev.fingerprint != c.fingerprint:
			d.Changed = append(d.Changed, c.Name)
		default:
			d.Unchanged = append(d.Unchanged, c.Name)
		}
	}
	return d
}
