//go:build linux

package unmatched

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnetlink_log, include/uapi/linux/netfilter/nfnetlink_log.h and
// nfnetlink.h (x/sys/unix does not carry them).
const (
	nfnlSubsysULOG     = 4
	nfulnlMsgPacket    = 0
	nfulnlMsgConfig    = 1
	nfulaPayload       = 9
	nfulaCfgCmd        = 1
	nfulaCfgMode       = 2
	nfulnlCfgBind      = 1
	nfulnlCfgPFBind    = 3
	nfulnlCfgPFUnbind  = 4
	nfulnlCopyPacket   = 2
	nfnetlinkV0        = 0
	nlaTypeMask        = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
	copyRange          = 256    // headers are all message 7 needs
	receiveBufferBytes = 1 << 20
)

// nflog is one NFLOG group bound on a netfilter netlink socket.
type nflog struct {
	c     *netlink.Conn
	group uint16
}

// openNFLOG binds group (in the namespace netns, 0 for the thread's) and
// asks for the first copyRange bytes of each packet.
func openNFLOG(group uint16, netns int) (*nflog, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("nflog: %w", err)
	}
	_ = c.SetReadBuffer(receiveBufferBytes)
	n := &nflog{c: c, group: group}
	// PF_UNBIND/PF_BIND are no-ops on kernels since 3.17 but needed by
	// older ones; their errors are ignored.
	_ = n.config(unix.AF_INET, 0, []byte{nfulnlCfgPFUnbind})
	_ = n.config(unix.AF_INET, 0, []byte{nfulnlCfgPFBind})
	_ = n.config(unix.AF_INET6, 0, []byte{nfulnlCfgPFUnbind})
	_ = n.config(unix.AF_INET6, 0, []byte{nfulnlCfgPFBind})
	if err := n.config(unix.AF_UNSPEC, group, []byte{nfulnlCfgBind}); err != nil {
		c.Close()
		return nil, fmt.Errorf("nflog: bind group %d: %w", group, err)
	}
	mode := make([]byte, 6) // struct nfulnl_msg_config_mode
	binary.BigEndian.PutUint32(mode, copyRange)
	mode[4] = nfulnlCopyPacket
	if err := n.configAttr(unix.AF_UNSPEC, group, nfulaCfgMode, mode); err != nil {
		n.Close()
		return nil, fmt.Errorf("nflog: copy mode: %w", err)
	}
	return n, nil
}

func (n *nflog) config(family uint8, group uint16, cmd []byte) error {
	return n.configAttr(family, group, nfulaCfgCmd, cmd)
}

func (n *nflog) configAttr(family uint8, group uint16, typ uint16, data []byte) error {
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(typ, data)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	hdr := []byte{family, nfnetlinkV0, 0, 0} // struct nfgenmsg, res_id big-endian
	binary.BigEndian.PutUint16(hdr[2:], group)
	_, err = n.c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysULOG<<8 | nfulnlMsgConfig),
			Flags: netlink.Request | netlink.Acknowledge},
		Data: append(hdr, attrs...),
	})
	return err
}

// receive returns the payloads of the next batch of logged packets. A
// message that is not a packet or has no payload counts in bad.
func (n *nflog) receive() (payloads [][]byte, bad int, err error) {
	msgs, err := n.c.Receive()
	if err != nil {
		return nil, 0, err
	}
	for _, m := range msgs {
		if m.Header.Type < 0x10 { // NLMSG_NOOP, ERROR (an ack), DONE, OVERRUN
			continue
		}
		if m.Header.Type != netlink.HeaderType(nfnlSubsysULOG<<8|nfulnlMsgPacket) || len(m.Data) < 4 {
			bad++
			continue
		}
		p := payloadOf(m.Data[4:])
		if p == nil {
			bad++
			continue
		}
		payloads = append(payloads, p)
	}
	return payloads, bad, nil
}

// payloadOf finds NFULA_PAYLOAD among a packet message's attributes.
func payloadOf(b []byte) []byte {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil
	}
	for ad.Next() {
		if ad.Type()&nlaTypeMask == nfulaPayload {
			return ad.Bytes()
		}
	}
	return nil
}

// Close closes the socket, which unbinds the group (the kernel drops a
// socket's instances when it is released, net/netfilter/nfnetlink_log.c).
// No unbind request: it would wait for an answer that the reading
// goroutine takes.
func (n *nflog) Close() error { return n.c.Close() }

// closed reports the error Receive returns once Close has run.
func closed(err error) bool {
	return errors.Is(err, unix.EBADF) || errors.Is(err, net.ErrClosed)
}
