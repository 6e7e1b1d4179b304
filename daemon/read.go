package daemon

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/iked/iked/isakmp"
)

// readErrorPause is how long a reader waits after a failed read.
const readErrorPause = 10 * time.Millisecond

// readLoop reads one socket until it is closed. It runs the checks that
// need no state, so that junk never reaches the loop.
func (d *Daemon) readLoop(bc *boundConn) {
	defer d.wg.Done()
	buf := make([]byte, isakmp.MaxMessageSize+1)
	for {
		dg, err := bc.pc.ReadDatagram(buf)
		if err != nil {
			if isClosed(err) {
				return
			}
			select {
			case <-d.done:
				return
			default:
			}
			// ICMP errors surface here on Linux (ECONNREFUSED): not fatal.
			// A pause keeps a socket that keeps failing from spinning.
			d.log.Debug("socket read", zap.Stringer("socket", bc.pc.LocalAddr()), zap.Error(err))
			time.Sleep(readErrorPause)
			continue
		}
		if pkt, ok := d.inspect(dg, bc.natt); ok && !d.blockedFirst(pkt) {
			if !d.tryPost(event{pkt: pkt}) && !d.overflow.keep(pkt) {
				d.Counters.CountDrop(DropLoopFull)
				d.armRefusals()
			}
		}
	}
}

// inspect runs the cheap checks of one datagram (RFC 2408, 3.1 header; RFC
// 3948, 2.2 and 2.3 on the NAT-T port) and returns the packet for the loop,
// with its own copy of the bytes. A panic, which would be a bug, is
// recovered and counted: a datagram never stops the daemon.
func (d *Daemon) inspect(dg Datagram, natt bool) (pkt *Packet, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			d.Counters.CountDrop(DropPanic)
			d.log.Error("recovered from a panic on a received datagram", zap.String("panic", fmt.Sprint(r)),
				zap.Stringer("from", dg.Remote))
			pkt, ok = nil, false
		}
	}()
	d.Counters.Datagrams.Add(1)
	d.Counters.Bytes.Add(uint64(len(dg.Data)))
	data := dg.Data
	if natt {
		var f natTFrame
		data, f = unframeNATT(data)
		switch f {
		case frameKeepalive:
			d.Counters.Keepalives.Add(1)
			return nil, false
		case frameESP:
			d.drop(DropESP, dg, nil)
			return nil, false
		case frameShort:
			d.drop(DropShort, dg, nil)
			return nil, false
		}
	}
	h, err := isakmp.ParseHeader(data)
	if err != nil {
		d.drop(headerDrop(err), dg, err)
		return nil, false
	}
	if !knownExchange(h.Exchange) {
		d.drop(DropExchange, dg, fmt.Errorf("exchange %s", h.Exchange))
		return nil, false
	}
	if h.InitiatorCookie == ([8]byte{}) {
		d.drop(DropZeroCookie, dg, nil)
		return nil, false
	}
	return &Packet{
		Header: h,
		Data:   append([]byte(nil), data...),
		Local:  dg.Local,
		Remote: dg.Remote,
		NATT:   natt,
	}, true
}

// headerDrop maps isakmp.ParseHeader's errors to drop reasons.
func headerDrop(err error) Drop {
	switch {
	case errors.Is(err, isakmp.ErrShortHeader):
		return DropShort
	case errors.Is(err, isakmp.ErrInvalidMajorVersion), errors.Is(err, isakmp.ErrInvalidMinorVersion):
		return DropVersion
	case errors.Is(err, isakmp.ErrInvalidFlags):
		return DropFlags
	}
	return DropLength
}

// knownExchange reports whether iked runs the exchange type: Main and
// Aggressive Mode, informational (RFC 2409, 5 and 5.7), Quick Mode (5.5)
// and Transaction (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.1).
func knownExchange(t isakmp.ExchangeType) bool {
	switch t {
	case isakmp.ExchangeMain, isakmp.ExchangeAggressive, isakmp.ExchangeInformational, isakmp.ExchangeQuickMode,
		isakmp.ExchangeTransaction:
		return true
	}
	return false
}

func (d *Daemon) drop(r Drop, dg Datagram, err error) {
	d.Counters.CountDrop(r)
	if err != nil {
		d.log.Debug("dropped datagram", zap.Stringer("reason", r), zap.Stringer("from", dg.Remote), zap.Error(err))
	} else {
		d.log.Debug("dropped datagram", zap.Stringer("reason", r), zap.Stringer("from", dg.Remote))
	}
}
