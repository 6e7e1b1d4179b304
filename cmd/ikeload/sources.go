package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// addSources adds each source address as a host address (/32, /128) to
// the interface dev in the named namespace (or the current one), and
// returns what removes the ones it added.
func addSources(nsName, dev string, srcs []netip.Addr) (func(), error) {
	h, err := handleIn(nsName)
	if err != nil {
		return func() {}, err
	}
	link, err := h.LinkByName(dev)
	if err != nil {
		h.Close()
		return func() {}, fmt.Errorf("-dev %s: %w", dev, err)
	}
	var added []*netlink.Addr
	undo := func() {
		for _, a := range added {
			_ = h.AddrDel(link, a)
		}
		h.Close()
	}
	for _, s := range srcs {
		bits := 32
		if s.Is6() {
			bits = 128
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: s.AsSlice(), Mask: net.CIDRMask(bits, bits)}}
		if s.Is6() {
			a.Flags = syscall.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, a); err != nil {
			if errors.Is(err, syscall.EEXIST) {
				continue
			}
			return undo, fmt.Errorf("adding %s to %s: %w", s, dev, err)
		}
		added = append(added, a)
	}
	return undo, nil
}

func handleIn(nsName string) (*netlink.Handle, error) {
	if nsName == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromName(nsName)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", nsName, err)
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}
