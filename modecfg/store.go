package modecfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/iked/iked/control"
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/notify"
	"github.com/iked/iked/policymgr"
)

// FileName is the lease database's name in the daemon's state directory
// (policy daemon.state-dir).
const FileName = "leases.db"

// ErrPoolFull is wrapped by Reply's error when every address of the pool
// is leased to an ISAKMP SA that lives. The Transaction exchange then
// fails phase 1 with message 46, the error as its reason.
var ErrPoolFull = errors.New("address pool full")

// ErrNoModeConfig is wrapped by the errors of a call for a connection
// without the mode-config its role needs.
var ErrNoModeConfig = errors.New("no mode-config")

// Options are what a Store needs from the daemon.
type Options struct {
	// Log receives the leases' and the client's lines (nil: none).
	Log *notify.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Netlink is the handle a client installs its address with (nil: the
	// namespace of the daemon).
	Netlink *netlink.Handle
}

// Store is Mode Config's store: a gateway's leases of its pools' addresses,
// kept in a bbolt file so that a restart keeps who had which address, and
// a client's addresses and DNS servers as its gateways gave them. It
// satisfies the Transaction exchange's ModeConfig interface and Quick
// Mode's VirtualIPs. Its methods are safe for concurrent use.
//
// A lease is keyed by the peer's phase 1 identity and its XAUTH user:
// the same key gets the same address back, while its ISAKMP SA lives
// (a second SA of the same key shares it, as strongSwan's pools do) and
// after (the address stays remembered for the key until the pool runs
// out of never-used addresses, when the longest released one is taken).
type Store struct {
	db  *bolt.DB
	opt Options

	mu sync.Mutex
	// owners are the ISAKMP SAs holding a lease; holders the SAs of each
	// leased address.
	owners  map[daemon.Cookies]leaseRef
	holders map[leaseRef]map[daemon.Cookies]bool
	// pools are the running policy's (Reload): a released lease outside
	// them is forgotten.
	pools map[string]*policymgr.Pool
	// clients are what gateways gave the client connections, by ISAKMP
	// SA.
	clients map[daemon.Cookies]*applied
}

// leaseRef names one address of one pool.
type leaseRef struct {
	pool string
	addr netip.Addr
}

// record is a lease as the file keeps it, JSON under the address.
type record struct {
	Identity string    `json:"identity"`
	User     string    `json:"user,omitempty"`
	Leased   time.Time `json:"leased"`
	Released time.Time `json:"released,omitzero"`
}

func (r record) key() []byte { return leaseKey(r.Identity, r.User) }

// leaseKey is what a lease is remembered by: identity and XAUTH user.
func leaseKey(identity, user string) []byte {
	return []byte(identity + "\x00" + user)
}

// The file: one bucket per pool under poolsBucket, each with the records
// by address (byAddr, the address's 4 or 16 bytes, so that a cursor walks
// them in order) and the address of each key (byKey).
var (
	poolsBucket = []byte("pools")
	byAddr      = []byte("by-address")
	byKey       = []byte("by-key")
)

// Open opens (or creates) the lease file in dir, creating dir (mode 0700)
// if needed. Every lease in it is released: the ISAKMP SAs that held them
// went with the daemon that wrote it. Another daemon holding the file
// makes Open fail after a second.
func Open(dir string, opt Options) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("modecfg: state directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("modecfg: lease file %s: %w", path, err)
	}
	// The daemon's loop leases and releases: no fsync for each. A lease
	// reaches the file (the kernel's page cache) at once, so a restart or
	// a crash of iked keeps it; only the host's own crash may lose the
	// latest ones. Close syncs.
	db.NoSync = true
	s := &Store{db: db, opt: opt, owners: map[daemon.Cookies]leaseRef{}, holders: map[leaseRef]map[daemon.Cookies]bool{},
		clients: map[daemon.Cookies]*applied{}}
	now := opt.Now()
	err = db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(poolsBucket)
		if err != nil {
			return err
		}
		return root.ForEachBucket(func(name []byte) error {
			b := root.Bucket(name).Bucket(byAddr)
			if b == nil {
				return nil
			}
			return eachRecord(b, func(k []byte, r record) error {
				if !r.Released.IsZero() {
					return nil
				}
				r.Released = now
				return putRecord(b, k, r)
			})
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("modecfg: lease file %s: %w", path, err)
	}
	return s, nil
}

// Close closes the file. The client's installed addresses stay: Release
// removes them with their ISAKMP SAs.
func (s *Store) Close() error {
	serr := s.db.Sync()
	return errors.Join(serr, s.db.Close())
}

// SAEstablished is the daemon.Watcher's: nothing to do.
func (s *Store) SAEstablished(*daemon.Context) daemon.Result { return daemon.Result{} }

// SARemoved releases what the ISAKMP SA leased or installed, whichever
// way it went (a daemon.Watcher, so that no path forgets Release).
func (s *Store) SARemoved(c *daemon.Context, _ daemon.RemoveReason) daemon.Result {
	if c != nil && c.SA != nil {
		s.Release(c.SA.Cookies)
	}
	return daemon.Result{}
}

func eachRecord(b *bolt.Bucket, fn func(k []byte, r record) error) error {
	var keys [][]byte
	var recs []record
	err := b.ForEach(func(k, v []byte) error {
		var r record
		if json.Unmarshal(v, &r) != nil {
			return nil // not ours: left alone
		}
		keys, recs = append(keys, bytes.Clone(k)), append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range keys {
		if err := fn(keys[i], recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func putRecord(b *bolt.Bucket, k []byte, r record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// poolBuckets returns the pool's two buckets, made if need be.
func poolBuckets(tx *bolt.Tx, pool string) (addrs, keys *bolt.Bucket, err error) {
	root, err := tx.CreateBucketIfNotExists(poolsBucket)
	if err != nil {
		return nil, nil, err
	}
	pb, err := root.CreateBucketIfNotExists([]byte(pool))
	if err != nil {
		return nil, nil, err
	}
	if addrs, err = pb.CreateBucketIfNotExists(byAddr); err != nil {
		return nil, nil, err
	}
	keys, err = pb.CreateBucketIfNotExists(byKey)
	return addrs, keys, err
}

// Reply answers a client's REQUEST (asked may be empty: a SET in push
// mode) for the ISAKMP SA owner of the gateway connection conn: the
// attributes of the REPLY or SET, with the address leased to identity
// (the peer's phase 1 ID as text) and user (its XAUTH user, "" without
// XAUTH). A repeated call for the same owner answers with the same
// address. A client's request of a particular address is granted when
// nobody ever had it.
func (s *Store) Reply(conn *policymgr.Connection, owner daemon.Cookies, identity, user string, asked []isakmp.Attribute) ([]isakmp.Attribute, error) {
	if conn == nil || conn.ModeConfig == nil || conn.ModeConfig.Pool == nil {
		return nil, fmt.Errorf("modecfg: %w pool on the connection", ErrNoModeConfig)
	}
	p := conn.ModeConfig.Pool
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref, ok := s.owners[owner]; ok && ref.pool == p.Name {
		return replyAttributes(p, ref.addr, asked), nil
	}
	addr, err := s.lease(p, identity, user, wanted(p, asked))
	if err != nil {
		if errors.Is(err, ErrPoolFull) && s.opt.Log != nil {
			s.opt.Log.Warn("Mode Config address pool full", zap.String("pool", p.Name), zap.String("conn", conn.Name),
				zap.String("remote-id", identity), zap.String("user", user))
		}
		return nil, err
	}
	ref := leaseRef{p.Name, addr}
	if old, ok := s.owners[owner]; ok {
		s.unhold(owner, old)
	}
	s.owners[owner] = ref
	if s.holders[ref] == nil {
		s.holders[ref] = map[daemon.Cookies]bool{}
	}
	s.holders[ref][owner] = true
	if s.opt.Log != nil {
		s.opt.Log.Info("Mode Config address leased", zap.String("conn", conn.Name), zap.String("pool", p.Name),
			zap.String("address", addr.String()), zap.String("remote-id", identity), zap.String("user", user))
	}
	return replyAttributes(p, addr, asked), nil
}

// wanted is the address a REQUEST asks for, when it asks for one of the
// pool's family.
func wanted(p *policymgr.Pool, asked []isakmp.Attribute) netip.Addr {
	for _, a := range asked {
		t := AttrType(a.Type)
		if (t == InternalIP4Address && len(a.Data) == 4) || (t == InternalIP6Address && (len(a.Data) == 16 || len(a.Data) == 17)) {
			addr, _ := netip.AddrFromSlice(a.Data[:min(len(a.Data), 16)])
			if p.Range.Contains(addr) && !addr.IsUnspecified() {
				return addr
			}
		}
	}
	return netip.Addr{}
}

// lease finds the address for identity and user in pool p: theirs from
// before if it is still in the pool, else want if nobody had it, else the
// first never-leased address, else the one released longest ago.
func (s *Store) lease(p *policymgr.Pool, identity, user string, want netip.Addr) (netip.Addr, error) {
	first, last := p.Leasable()
	if !first.IsValid() {
		return netip.Addr{}, fmt.Errorf("modecfg: pool %q has no addresses", p.Name)
	}
	key := leaseKey(identity, user)
	now := s.opt.Now()
	var got netip.Addr
	err := s.db.Update(func(tx *bolt.Tx) error {
		addrs, keys, err := poolBuckets(tx, p.Name)
		if err != nil {
			return err
		}
		take := func(a netip.Addr) error {
			got = a
			if err := putRecord(addrs, a.AsSlice(), record{Identity: identity, User: user, Leased: now}); err != nil {
				return err
			}
			return keys.Put(key, a.AsSlice())
		}
		inPool := func(a netip.Addr) bool {
			return a.IsValid() && a.BitLen() == first.BitLen() && first.Compare(a) <= 0 && a.Compare(last) <= 0
		}
		if v := keys.Get(key); v != nil {
			a, _ := netip.AddrFromSlice(v)
			if inPool(a) {
				return take(a)
			}
			if err := keys.Delete(key); err != nil {
				return err
			}
			if len(s.holders[leaseRef{p.Name, a}]) == 0 {
				if err := addrs.Delete(a.AsSlice()); err != nil {
					return err
				}
			}
		}
		if inPool(want) && addrs.Get(want.AsSlice()) == nil {
			return take(want)
		}
		// The first address without a record: walk the records in order
		// from the first address until one is missing.
		c := addrs.Cursor()
		cand := first
		for k, _ := c.Seek(first.AsSlice()); k != nil && cand.IsValid() && cand.Compare(last) <= 0; k, _ = c.Next() {
			if !bytes.Equal(k, cand.AsSlice()) {
				break
			}
			cand = cand.Next()
		}
		if inPool(cand) {
			return take(cand)
		}
		// Every address has a record: reclaim the one released longest
		// ago, forgetting whose it was.
		var oldest netip.Addr
		var oldestRec record
		err = eachRecord(addrs, func(k []byte, r record) error {
			a, _ := netip.AddrFromSlice(k)
			if !inPool(a) || len(s.holders[leaseRef{p.Name, a}]) > 0 || r.Released.IsZero() {
				return nil
			}
			if !oldest.IsValid() || r.Released.Before(oldestRec.Released) {
				oldest, oldestRec = a, r
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !oldest.IsValid() {
			return fmt.Errorf("%w: pool %q has no free address (%d leased)", ErrPoolFull, p.Name, p.Size())
		}
		if err := keys.Delete(oldestRec.key()); err != nil {
			return err
		}
		return take(oldest)
	})
	if err != nil && !errors.Is(err, ErrPoolFull) {
		err = fmt.Errorf("modecfg: lease file: %w", err)
	}
	return got, err
}

// Release gives back what owner leased, or removes what its gateway gave
// it; called when the ISAKMP SA goes. A lease stays remembered for its
// identity and user unless its pool no longer holds it (Reload).
func (s *Store) Release(owner daemon.Cookies) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.clients[owner]; ok {
		delete(s.clients, owner)
		s.undo(a)
	}
	ref, ok := s.owners[owner]
	if !ok {
		return
	}
	delete(s.owners, owner)
	s.unhold(owner, ref)
}

// unhold drops owner from ref's holders and releases ref when it was the
// last; called with mu held.
func (s *Store) unhold(owner daemon.Cookies, ref leaseRef) {
	delete(s.holders[ref], owner)
	if len(s.holders[ref]) > 0 {
		return
	}
	delete(s.holders, ref)
	now := s.opt.Now()
	keep := true
	if s.pools != nil {
		p := s.pools[ref.pool]
		keep = p != nil && leasable(p, ref.addr)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		addrs, keys, err := poolBuckets(tx, ref.pool)
		if err != nil {
			return err
		}
		k := ref.addr.AsSlice()
		v := addrs.Get(k)
		var r record
		if v == nil || json.Unmarshal(v, &r) != nil {
			return nil
		}
		if !keep {
			if err := keys.Delete(r.key()); err != nil {
				return err
			}
			return addrs.Delete(k)
		}
		r.Released = now
		return putRecord(addrs, k, r)
	})
	if err != nil && s.opt.Log != nil {
		s.opt.Log.Error("Mode Config lease file not updated", zap.String("pool", ref.pool), zap.String("address", ref.addr.String()), zap.Error(err))
	}
	if s.opt.Log != nil {
		s.opt.Log.Info("Mode Config address released", zap.String("pool", ref.pool), zap.String("address", ref.addr.String()))
	}
}

func leasable(p *policymgr.Pool, a netip.Addr) bool {
	first, last := p.Leasable()
	return first.IsValid() && a.BitLen() == first.BitLen() && first.Compare(a) <= 0 && a.Compare(last) <= 0
}

// Reload takes the pools of a newly loaded policy: the released leases
// that no pool holds any more are forgotten; those still within their
// pool stay; leases held by a living ISAKMP SA stay until it goes.
// It returns how many leases were forgotten.
func (s *Store) Reload(p *policymgr.Policy) (int, error) {
	pools := map[string]*policymgr.Pool{}
	if p != nil {
		for name, pl := range p.Pools {
			if !pl.Range.IsAny() {
				pools[name] = pl
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pools = pools
	dropped := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(poolsBucket)
		if err != nil {
			return err
		}
		var names [][]byte
		if err := root.ForEachBucket(func(k []byte) error { names = append(names, bytes.Clone(k)); return nil }); err != nil {
			return err
		}
		for _, name := range names {
			addrs, keys, err := poolBuckets(tx, string(name))
			if err != nil {
				return err
			}
			pl := pools[string(name)]
			err = eachRecord(addrs, func(k []byte, r record) error {
				a, _ := netip.AddrFromSlice(k)
				if (pl != nil && leasable(pl, a)) || len(s.holders[leaseRef{string(name), a}]) > 0 {
					return nil
				}
				dropped++
				if err := keys.Delete(r.key()); err != nil {
					return err
				}
				return addrs.Delete(k)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return dropped, err
}

// ListLeases returns every lease of the file, by pool and address, for
// `ikectl list-leases` (daemon.LeaseLister).
func (s *Store) ListLeases() ([]control.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type entry struct {
		l    control.Lease
		addr netip.Addr
	}
	var out []entry
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(poolsBucket)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(name []byte) error {
			b := root.Bucket(name).Bucket(byAddr)
			if b == nil {
				return nil
			}
			return eachRecord(b, func(k []byte, r record) error {
				a, _ := netip.AddrFromSlice(k)
				online := len(s.holders[leaseRef{string(name), a}]) > 0
				l := control.Lease{Pool: string(name), Address: a.String(), Identity: r.Identity, User: r.User, Online: online, Leased: r.Leased}
				if !online {
					l.Released = r.Released
				}
				out = append(out, entry{l, a})
				return nil
			})
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].l.Pool != out[j].l.Pool {
			return out[i].l.Pool < out[j].l.Pool
		}
		return out[i].addr.Less(out[j].addr)
	})
	ls := make([]control.Lease, len(out))
	for i, e := range out {
		ls[i] = e.l
	}
	return ls, err
}

// VirtualIP returns the address leased to the peer of the ISAKMP SA owner
// (gateway), or the one its gateway gave us (client): Quick Mode's
// selectors (quickmode.VirtualIPs).
func (s *Store) VirtualIP(owner daemon.Cookies) (netip.Addr, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref, ok := s.owners[owner]; ok {
		return ref.addr, true
	}
	if a, ok := s.clients[owner]; ok {
		return a.cfg.Address, true
	}
	return netip.Addr{}, false
}
