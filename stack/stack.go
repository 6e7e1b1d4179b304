package stack

import (
	"github.com/iked/iked/daemon"
	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/phase1"
	"github.com/iked/iked/policymgr"
	"github.com/iked/iked/quickmode"
	"github.com/iked/iked/transaction"
	"github.com/iked/iked/xauth"
)

// Stack is every exchange of the daemon, built by Build and registered
// with a daemon by Register.
type Stack struct {
	// Daemon is the daemon the stack is registered with.
	Daemon *daemon.Daemon
	// Phase1 answers and starts Main and Aggressive Mode.
	Phase1 *phase1.Runtime
	// Info is phase 1's informational handler, the end of the chain.
	Info *phase1.InfoHandler
	// Life is the watcher that runs each ISAKMP SA's life after phase 1
	// (DPD, NAT keepalives, lifetime, reauthentication, INITIAL-CONTACT).
	// Set to nil before Register, no SA's timers run (Info still answers
	// DPD): a test's peer whose SAs never expire on their own.
	Life *phase1.Life
	// IPsec is the IPsec SA manager: Quick Mode, acquires, rekeys, the
	// IPsec SAs' deletes and their listing. Set its Traffic to count the
	// bytes of an SA for ikectl list-sas.
	IPsec *quickmode.Manager
	// HalfOpen heads the chain of informational handlers: HalfOpen, then
	// IPsec.Informational(), then Info.
	HalfOpen *phase1.HalfOpen
	// Deleter says goodbye on `ikectl terminate` and shutdown: IPsec's,
	// which deletes the IPsec SAs with the ISAKMP SA and falls back to
	// phase1.Deleter.
	Deleter daemon.Deleter
	// Transaction runs XAUTH and Mode Config after phase 1 and holds
	// Quick Mode back until they are done (IPsec's Gate). The gateway's
	// logins are checked by the backend of the running policy's
	// daemon.xauth (xauth.Open); Mode Config goes to ModeConfig, pulled
	// (the client's REQUEST, the gateway's REPLY) or, for a connection
	// with mode-config.push, pushed (the gateway's SET, the client's ACK).
	Transaction *transaction.Handler
	// ModeConfig is the Mode Config lease store of the running policy:
	// the Transaction exchange's, Quick Mode's VirtualIPs and Leases.
	ModeConfig *ModeConfig
	// Initiator starts what `ikectl initiate` asks for: IPsec (phase 1,
	// then Quick Mode); cmd/ikeload's -qm=false puts Phase1 here.
	Initiator daemon.Initiator
	// Leases, when set, answers `ikectl list-leases` (ModeConfig).
	Leases daemon.LeaseLister
}

// New makes a daemon with opt, builds the stack (Build) and registers it
// (Register).
func New(opt daemon.Options, pd policymgr.Daemon) *Stack {
	s := Build(pd)
	s.Register(daemon.New(opt))
	return s
}

// Build makes the exchanges and chains them. The NAT-T port and DPD come
// from the policy's daemon section as read at start-up (pd); they change
// only on restart, as the sockets do.
//
// The informational exchanges go through a chain built here:
// phase1.HalfOpen (message 46 for a half-open SA whose peer's message does
// not decrypt) over quickmode's handler (notifies about IPsec SAs, the
// peer's deletes of IPsec SAs) over phase1.InfoHandler (notifies, deletes,
// DPD messages, which it hands to phase1.Life), which reports the IPsec SAs the peer deletes to quickmode
// (OnDelete).
func Build(pd policymgr.Daemon) *Stack {
	port := uint16(0)
	if pd.NATTPort > 0 && pd.NATTPort <= 65535 {
		port = uint16(pd.NATTPort)
	}
	p1 := &phase1.Runtime{Hooks: phase1.NewHooks(phase1.NATTConfig{Port: port, DPD: pd.DPD.Delay > 0})}
	life := phase1.NewLife(phase1.DPDConfig{Delay: pd.DPD.Delay, Timeout: pd.DPD.Timeout})
	info := phase1.NewInfoHandler(life)
	ipsec := quickmode.NewManager(p1, info)
	info.OnDelete = ipsec.PeerDeleted
	tx := transaction.NewHandler(nil)
	tx.Open = xauth.Open
	mc := &ModeConfig{}
	tx.ModeConfig = mc
	tx.Push = pushes
	ipsec.VirtualIPs = mc
	ipsec.Gate = tx
	tx.Ready = ipsec.Released
	return &Stack{Phase1: p1, Info: info, Life: life, IPsec: ipsec, Transaction: tx, ModeConfig: mc, Leases: mc,
		HalfOpen: phase1.NewHalfOpen(ipsec.Informational()), Deleter: ipsec.Deleter(), Initiator: ipsec}
}

// Register registers the stack with d, each role once:
//
//   - Main and Aggressive Mode as responder (Phase1);
//   - Quick Mode as responder, the initiator of `ikectl initiate` and
//     `initiate: start` (Initiator: phase 1, then Quick Mode), the receiver of the
//     kernel's ACQUIREs and EXPIREs, the lister of `ikectl list-sas` and
//     the rekeyer of `ikectl rekey` (IPsec);
//   - the informational exchanges (HalfOpen, the head of the chain);
//   - the Transaction exchanges: XAUTH and Mode Config (Transaction);
//   - the Deleter, and Life as the reauthenticator of `ikectl reauth`;
//   - the Revalidator of SAs after a reload (phase1.Revalidator);
//   - the watchers, in this order: the IPsec SAs follow their ISAKMP SA
//     (IPsec), message 46 on a half-open SA's expiry (HalfOpen, before
//     Life, which wipes the state it reads), the info line of an
//     established ISAKMP SA (phase1.SALog), the SA's life (Life), XAUTH
//     or Mode Config after phase 1 and the release of what Mode Config
//     leased (Transaction), then the Mode Config store's own release of
//     what a client installed (ModeConfig);
//   - the Mode Config store's opening, pools and closing (OnPolicy,
//     OnStop).
func (s *Stack) Register(d *daemon.Daemon) {
	s.Daemon = d
	if s.ModeConfig != nil {
		mc := s.ModeConfig
		d.OnPolicy(func(p *policymgr.Policy) error { return mc.policy(p, d.Log()) })
		d.OnStop(func() { mc.close(d.Log()) })
	}
	d.Register(isakmp.ExchangeMain, s.Phase1)
	d.Register(isakmp.ExchangeAggressive, s.Phase1)
	d.Register(isakmp.ExchangeQuickMode, s.IPsec)
	d.Register(isakmp.ExchangeInformational, s.HalfOpen)
	d.Register(isakmp.ExchangeTransaction, s.Transaction)
	d.RegisterInitiator(s.Initiator)
	d.RegisterKernel(s.IPsec)
	d.RegisterDeleter(s.Deleter)
	d.RegisterRekeyer(s.IPsec)
	if s.Leases != nil {
		d.RegisterLeases(s.Leases)
	}
	d.RegisterLister(s.IPsec)
	d.RegisterRevalidator(phase1.Revalidator{})
	d.Watch(s.IPsec)
	d.Watch(s.HalfOpen)
	d.Watch(phase1.SALog{})
	if s.Life != nil {
		d.Watch(s.Life)
		d.RegisterReauthenticator(s.Life)
	}
	d.Watch(s.Transaction)
	if s.ModeConfig != nil {
		d.Watch(s.ModeConfig)
	}
}
