// Package xfrm is the engine backend for the Linux kernel's IPsec stack,
// driven over XFRM netlink with github.com/vishvananda/netlink. The few
// requests that library lacks (ALLOCSPI with a chosen range on a handle,
// IPComp states, ACQUIRE decoding) are built with its exported nl helpers.
//
// A Backend works inside one network namespace (Options.Namespace), so the
// daemon and its tests can each target their own. It tracks what it
// installed and Flush removes exactly that, never other daemons' state.
package xfrm
