// Package modecfg is Mode Config's side of remote access
// (draft-ietf-ipsec-isakmp-mode-cfg-05): the attribute types of the
// draft and of Cisco Unity, the address pools' lease store (in a bbolt
// file under the daemon's state directory, so that a road warrior gets
// its address back after a restart), the attributes a gateway answers a
// client with, and the client's side: what it asks for and how it
// installs what it gets (an address on an interface through netlink, DNS
// servers in resolv.conf, or both handed to the updown script).
//
// The Transaction exchange (package transaction) carries the attributes;
// it reaches this package through its ModeConfig interface, which Store
// satisfies, and Quick Mode asks the Store for each ISAKMP SA's address
// (quickmode.VirtualIPs).
package modecfg
