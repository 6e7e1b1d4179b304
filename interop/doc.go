// Package interop runs iked's real peers, strongSwan's charon and ike-scan,
// inside network namespaces the tests create, so interoperability is tested
// against the implementations users deploy rather than against iked itself.
//
// A test asks for a topology (NewPair: two hosts on a veth link; NewRouted:
// two hosts with a router in the middle that can masquerade and drop IKE
// packets), starts charon in a namespace with a generated strongswan.conf and
// swanctl.conf (StartCharon), drives it with swanctl and vici (Initiate,
// TerminateIKE, ListSAs), and reads the keys charon derived from its ike=4/chd=4
// log (ParseKeys) to compare them with iked's own. Every namespace, process
// and file is removed by t.Cleanup, also when the test fails.
//
// All of it needs root, iproute2, nftables and Debian's strongSwan 5.9;
// RequireRoot skips a test with a clear message when they are missing. Names
// start with a per-process prefix and a counter, and every topology gets its
// own documentation addresses, so scenarios can run with t.Parallel.
package interop
