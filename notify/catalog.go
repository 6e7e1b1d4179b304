package notify

import (
	"net/netip"
	"strconv"
)

// The catalog, in the order and with the numbers docs/messages.md gives
// (what each message means and what an operator does about it). The text
// is kept exactly, odd spots included: the missing spaces in #4, "UPD" in
// #22, the unbalanced quote in #61.
var catalog = [...]entry{
	{1, "B.1", LevelInfo, "IPSEC: Initializing engine", nil},
	{2, "B.1", LevelInfo, "IPSEC: Attaching to the TCP/IP stack", nil},
	{3, "B.1", LevelInfo, "IPSEC: Detaching from the TCP/IP stack", nil},
	{4, "B.2.1", LevelError, "Can not open connection with the packet processing engine.Check that the engine module is loaded into kernel, thedevice used on communication exists, and you havepermission to open that device. This process must be runon super-user privileges.", nil},
	{5, "B.2.1", LevelError, "Could not read configuration file `%s': not reconfiguring", []string{"file"}},
	{6, "B.2.1", LevelError, "Could not start the cryptography system", nil},
	{7, "B.2.1", LevelInfo, "Dropping %s packet %s->%s %s:%s->%s", []string{"IPprotocol", "source", "dest", "proto", "port", "port"}},
	{8, "B.2.1", LevelError, "SPD: could not decode certificate `%s': %d", []string{"name", "number"}},
	{9, "B.2.1", LevelError, "SPD: Could not decode local-address of connection `%s'", []string{"name"}},
	{10, "B.2.1", LevelError, "SPD: Could not decode remote-address of connection `%s'", []string{"name"}},
	{11, "B.2.1", LevelError, "SPD: Could not handle local-address of type %d for connection `%s'", []string{"n", "name"}},
	{12, "B.2.1", LevelError, "SPD: Could not handle remote-address of type %d for connection `%s'", []string{"n", "name"}},
	{13, "B.2.1", LevelError, "SPD: could not read certificate `%s' of the connection `%s'", []string{"name", "name"}},
	{14, "B.2.1", LevelError, "SPD: could not read CRL `%s'", []string{"name"}},
	{15, "B.2.1", LevelError, "SPD: could not read private key `%s'", []string{"name"}},
	{16, "B.2.1", LevelError, "SPD: Invalid local-gw specification %s", []string{"id"}},
	{17, "B.2.1", LevelError, "SPD: Invalid remote-gw specification %s", []string{"id"}},
	{18, "B.2.1", LevelWarning, "SPD: local and remote selectors specify different IP protocol ID. Skipping connection `%s'", []string{"name"}},
	{19, "B.2.1", LevelError, "SPD: no certificate file name specified for the certificate `%s'", []string{"name"}},
	{20, "B.2.1", LevelError, "SPD: no private key file specified for the authentication certificate `%s'", []string{"name"}},
	{21, "B.2.1", LevelError, "SPD: Policy not instantiated due to errors.", nil},
	{22, "B.2.1", LevelWarning, "SPD: port selectors specified for protocol `%s' which is not TCP or UPD: port selectors ignored for connection `%s'", []string{"proto", "name"}},
	{23, "B.2.1", LevelWarning, "SPD: the certificate `%s' is a CA certificate but is not marked as trusted. The certificate is not configured in the certificate manager.", []string{"name"}},
	{24, "B.2.1", LevelError, "SPD: the private key `%s' is broken", []string{"name"}},
	{25, "B.2.1", LevelWarning, "SPD: the trusted certificate `%s' does not contain the Basic Constraints extension. This is against RFC-2459. However, forcing the certificate as a point of trust because of the flag `trusted'.", []string{"name"}},
	{26, "B.2.2", LevelError, "AH or ESP authentication key is not long enough for the specified algorithm at connection %s", []string{"id"}},
	{27, "B.2.2", LevelError, "ESP cipher key is not long enough for the specified algorithm at Connection %s: got %d, minimum %d", []string{"id", "n", "n"}},
	{28, "B.2.2", LevelError, "SPD: Algorithms for manually keyed connection %s can not be determined. The proposal-list is missing, or it does not contain exactly one proposal.", []string{"id"}},
	{29, "B.2.2", LevelError, "SPD: invalid number of cipher or HMAC algorithm names in proposal `%s' for manually keyed connection `%s'", []string{"name", "name"}},
	{30, "B.2.2", LevelError, "SPD: invalid number of compression algorithm names in proposal `%s' for manually keyed connection `%s'", []string{"name", "name"}},
	{31, "B.2.2", LevelError, "SPD: invalid number of HMAC names in proposal `%s' for manually keyed connection `%s'", []string{"name", "name"}},
	{32, "B.2.2", LevelError, "SPD: invalid number of proposals in the proposal list `%s' of the manually keyed connection `%s'", []string{"name", "name"}},
	{33, "B.2.2", LevelError, "SPD: invalid transform type in transform `%s' for manually keyed connection `%s'", []string{"name", "name"}},
	{34, "B.2.2", LevelError, "SPD: The number of keys %d for connection %s does not match protocol count %d", []string{"n", "id", "n"}},
	{35, "B.2.2", LevelError, "SPD: too few keys for manually keyed connection `%s'", []string{"name"}},
	{36, "B.2.2", LevelError, "SPI for connection %s is not specified or is less than 256.", []string{"id"}},
	{37, "B.2.2", LevelError, "Transport endpoints not specified for Connection %s. For IKE these can be left out, but for manually keyed connection they must be present.", []string{"id"}},
	{38, "B.2.2", LevelWarning, "Truncating key %s ciph len %d to required %d bits", []string{"name", "n", "n"}},
	{39, "B.3.1", LevelNotice, "Can not decode certificate out from BER encoded blob. The certificate may be corrupt, or should be decoded to binary BER blob before inserting (file format may be wrong?)", nil},
	{40, "B.3.1", LevelNotice, "Can not decode CRL out from BER encoded blob. The CRL input may be corrupted, or should be decoded to binary BER blob before inserting (file format may be wrong?).", nil},
	{41, "B.3.1", LevelNotice, "Can not get policy for %s <-> %s", []string{"id", "id"}},
	{42, "B.3.1", LevelNotice, "Can not get subject name from a CA certificate. This certificate is not usable as an IPsec authenticator, and is not inserted into local list of trusted roots.", nil},
	{43, "B.3.1", LevelNotice, "Certificate contains bad IP address: length=%d", []string{"n"}},
	{44, "B.3.1", LevelNotice, "CRL issuer name does not appear at the CRL. Can not check the CRL validity. Discarding the CRL.", nil},
	{45, "B.3.1", LevelNotice, "CRL issuer public key was not found from the local database. Can not check the CRL validity. Discarding the CRL.", nil},
	{46, "B.3.1", LevelNotice, "Phase-1 [%s] between %s and %s failed; %s", []string{"<initiator/responder>", "id", "id", "reason"}},
	{47, "B.3.1", LevelWarning, "Phase-1 lifetime is too short (prop=%d, min=%d)", []string{"n", "n"}},
	{48, "B.3.1", LevelNotice, "Phase-1 notify %s \"(size %d bytes) from %s:%s for protocol=%d spi(%d)=%s\"", []string{"string", "n", "string", "string", "n", "n", "string"}},
	{49, "B.3.1", LevelNotice, "Policy manager didn't find private key", nil},
	{50, "B.3.1", LevelNotice, "Policy manager didn't find public key", nil},
	{51, "B.3.1", LevelNotice, "Received error notify from %s : %s. Deleting ISAKMP SA.", []string{"remote address", "reason"}},
	{52, "B.3.1", LevelNotice, "Sending notification to %s : %s", []string{"remote-address", "reason"}},
	{53, "B.3.1", LevelNotice, "SPD: Phase-1 policy; No security policy available.", nil},
	{54, "B.3.1", LevelNotice, "SPD rejected conn using selectors %s <-> %s", []string{"id", "id"}},
	{55, "B.3.1", LevelNotice, "The Phase-1 remote id is not an IP-address, check the peer/gw address.", nil},
	{56, "B.3.2", LevelNotice, "IKE Phase-2; Could not select any protocols from IPSEC SA %d", []string{"n"}},
	{57, "B.3.2", LevelNotice, "IKE Quick-Mode negotiation between %s <-> %s failed: %s", []string{"id", "id", "reason"}},
	{58, "B.3.2", LevelNotice, "Phase-2 [%s] for %s and %s failed; %s.", []string{"role", "id", "id", "reason"}},
	{59, "B.3.2", LevelWarning, "Phase-2 lifetime is too short, reset to min (prop=%d, min=%d)", []string{"n", "n"}},
	{60, "B.3.2", LevelNotice, "QM notification %d (%s) (size %d bytes) from %s for protocol=%d spi(%d)=%s", []string{"n", "reason", "n", "remote-address", "n", "n", "spi-value"}},
	{61, "B.3.2", LevelWarning, "Received responder lifetime notification: \"life_secs=%d, life_kbytes=%d", []string{"n", "n"}},
	{62, "B.3.2", LevelInfo, "Requested to delete SA %s[%s]", []string{"protocol", "spi-value"}},
	{63, "B.3.2", LevelNotice, "SA-per-host specified and the remote requested addresses range or subnet -> rejecting connection.", nil},
	{64, "B.3.2", LevelNotice, "SA-per-host specified without remote addresses given and the remote did not request QM for itself -> rejecting connection.", nil},
	{65, "B.3.2", LevelNotice, "The bundle %d to be installed does not contain any inbound SA's. Not installing it.", []string{"n"}},
	{66, "B.3.2", LevelNotice, "The bundle %d to be installed does not contain any outbound SA's. Not installing it.", []string{"n"}},
	{67, "B.3.2", LevelNotice, "Tunnel endpoints not specified for Connection %s", []string{"id"}},
	{68, "B.4", LevelWarning, "ssh_send_to_ipm: queue full, priority message dropped, len=%d type=%d queue_size=%d", []string{"n", "n", "n"}},
	{69, "B.4", LevelWarning, "ssh_send_to_ipm: dropping entry to make space for important packet", nil},
	{70, "B.4", LevelWarning, "ssh_send_to_ipm: WARNING: queue full, important packet dropped len = 0x%x, type = %d", []string{"n", "n"}},
}

func msg(num int, args ...any) Message { return catalog[num-1].make(args...) }

// B.1 Normal status.

// EngineInitializing is logged when the daemon opens the packet processing engine.
func EngineInitializing() Message { return msg(1) }

// EngineAttached is logged when the engine's policies are installed.
func EngineAttached() Message { return msg(2) }

// EngineDetached is logged when the engine stops processing packets.
func EngineDetached() Message { return msg(3) }

// B.2.1 General start-up errors.

// EngineOpenFailed is logged when the engine cannot be opened.
func EngineOpenFailed() Message { return msg(4) }

// ConfigUnreadable is logged when a reload cannot read the policy file.
func ConfigUnreadable(file string) Message { return msg(5, file) }

// CryptoStartFailed is logged when the crypto self-test fails.
func CryptoStartFailed() Message { return msg(6) }

// DroppingPacket is logged for a packet of a protected range that arrived
// without IPsec and was dropped, when log-unmatched is on
// (engine/xfrm/unmatched). ipProtocol is "IPv4" or "IPv6"; proto a
// protocol name or number.
func DroppingPacket(ipProtocol, source, dest, proto string, srcPort, dstPort int) Message {
	return msg(7, ipProtocol, source, dest, proto, strconv.Itoa(srcPort), strconv.Itoa(dstPort))
}

// SPDCertDecode is logged when a certificate file is not a valid certificate.
func SPDCertDecode(name string, code int) Message { return msg(8, name, code) }

// SPDLocalAddressDecode is logged when a local-address cannot be decoded.
func SPDLocalAddressDecode(conn string) Message { return msg(9, conn) }

// SPDRemoteAddressDecode is logged when a remote-address cannot be decoded.
func SPDRemoteAddressDecode(conn string) Message { return msg(10, conn) }

// SPDLocalAddressType is logged for a local-address of an ID type that cannot be a selector.
func SPDLocalAddressType(idType int, conn string) Message { return msg(11, idType, conn) }

// SPDRemoteAddressType is logged for a remote-address of an ID type that cannot be a selector.
func SPDRemoteAddressType(idType int, conn string) Message { return msg(12, idType, conn) }

// SPDCertRead is logged when a connection's certificate file cannot be read.
func SPDCertRead(cert, conn string) Message { return msg(13, cert, conn) }

// SPDCRLRead is logged when a CRL file cannot be read.
func SPDCRLRead(name string) Message { return msg(14, name) }

// SPDPrivateKeyRead is logged when a private key file cannot be read.
func SPDPrivateKeyRead(name string) Message { return msg(15, name) }

// SPDInvalidLocalGW is logged when local-gw is not an IP address.
func SPDInvalidLocalGW(id string) Message { return msg(16, id) }

// SPDInvalidRemoteGW is logged when remote-gw is not an IP address.
func SPDInvalidRemoteGW(id string) Message { return msg(17, id) }

// SPDMixedFamilies warns that a connection pairs an IPv4 side with an IPv6 side and is skipped.
func SPDMixedFamilies(conn string) Message { return msg(18, conn) }

// SPDNoCertFile is logged for a certificate definition without a file name.
func SPDNoCertFile(name string) Message { return msg(19, name) }

// SPDNoPrivateKeyFile is logged for an authentication certificate without a private key file.
func SPDNoPrivateKeyFile(name string) Message { return msg(20, name) }

// SPDNotInstantiated closes the report of a policy with serious errors.
func SPDNotInstantiated() Message { return msg(21) }

// SPDPortsIgnored warns that port selectors were given for a protocol other than TCP or UDP.
func SPDPortsIgnored(proto, conn string) Message { return msg(22, proto, conn) }

// SPDUntrustedCA warns that a CA certificate not marked trusted is not configured.
func SPDUntrustedCA(name string) Message { return msg(23, name) }

// SPDPrivateKeyBroken is logged when a private key file holds no valid key.
func SPDPrivateKeyBroken(name string) Message { return msg(24, name) }

// SPDTrustedNoBasicConstraints warns that a trusted certificate lacks Basic Constraints.
func SPDTrustedNoBasicConstraints(name string) Message { return msg(25, name) }

// B.2.2 Manually keyed connections.

// ManualAuthKeyShort is logged when a manual HMAC key is too short.
func ManualAuthKeyShort(conn string) Message { return msg(26, conn) }

// ManualCipherKeyShort is logged when a manual cipher key is too short (lengths in bits as the caller chooses; iked uses bits).
func ManualCipherKeyShort(conn string, got, minimum int) Message { return msg(27, conn, got, minimum) }

// ManualNoAlgorithms is logged when a manual connection's proposal list is missing or not one proposal.
func ManualNoAlgorithms(conn string) Message { return msg(28, conn) }

// ManualCipherCount is logged when a manual proposal names not exactly one cipher or HMAC.
func ManualCipherCount(proposal, conn string) Message { return msg(29, proposal, conn) }

// ManualCompressionCount is logged when a manual proposal names not exactly one compression algorithm.
func ManualCompressionCount(proposal, conn string) Message { return msg(30, proposal, conn) }

// ManualHMACCount is logged when a manual proposal names not exactly one HMAC.
func ManualHMACCount(proposal, conn string) Message { return msg(31, proposal, conn) }

// ManualProposalCount is logged when a manual connection's proposal list has not exactly one proposal.
func ManualProposalCount(list, conn string) Message { return msg(32, list, conn) }

// ManualTransformType is logged for a transform of an invalid type in a manual proposal.
func ManualTransformType(transform, conn string) Message { return msg(33, transform, conn) }

// ManualKeyCount is logged when the number of manual key entries differs from the protocol count.
func ManualKeyCount(keys int, conn string, protocols int) Message {
	return msg(34, keys, conn, protocols)
}

// ManualTooFewKeys is logged when a protocol lacks its inbound or outbound key.
func ManualTooFewKeys(conn string) Message { return msg(35, conn) }

// ManualSPI is logged when a manual SPI is missing or below 256.
func ManualSPI(conn string) Message { return msg(36, conn) }

// ManualNoEndpoints is logged when a manual connection lacks its transport endpoints.
func ManualNoEndpoints(conn string) Message { return msg(37, conn) }

// ManualKeyTruncated warns that a manual key longer than the algorithm uses is cut.
func ManualKeyTruncated(key string, gotBits, requiredBits int) Message {
	return msg(38, key, gotBits, requiredBits)
}

// B.3.1 Phase 1.

// CertBERDecode is logged when a certificate cannot be decoded.
func CertBERDecode() Message { return msg(39) }

// CRLBERDecode is logged when a CRL cannot be decoded.
func CRLBERDecode() Message { return msg(40) }

// NoPolicyFor is logged when a peer started phase 1 and no policy matches it.
func NoPolicyFor(local, remote string) Message { return msg(41, local, remote) }

// CASubjectMissing is logged for a CA certificate without a subject name.
func CASubjectMissing() Message { return msg(42) }

// CertBadIPAddress is logged for a subjectAltName iPAddress of a bad length.
func CertBadIPAddress(length int) Message { return msg(43, length) }

// CRLIssuerMissing is logged when a CRL's issuer name does not match its CA.
func CRLIssuerMissing() Message { return msg(44) }

// CRLIssuerKeyMissing is logged when the CA of a CRL is not configured.
func CRLIssuerKeyMissing() Message { return msg(45) }

// Phase1Failed is logged when a phase 1 negotiation fails. role is "initiator" or "responder".
func Phase1Failed(role, local, remote, reason string) Message {
	return msg(46, role, local, remote, reason)
}

// Phase1LifetimeShort warns that a proposed phase 1 lifetime was raised to the minimum.
func Phase1LifetimeShort(proposed, minimum int) Message { return msg(47, proposed, minimum) }

// Phase1Notify is logged for a notify that refuses or changes phase 1.
// spi is printed in hex.
func Phase1Notify(notifyType string, size int, peer string, port int, protocol int, spi []byte) Message {
	return msg(48, notifyType, size, peer, strconv.Itoa(port), protocol, len(spi), hexString(spi))
}

// NoPrivateKey is logged when no private key matches the local certificate.
func NoPrivateKey() Message { return msg(49) }

// NoPublicKey is logged when nothing can verify the peer's signature.
func NoPublicKey() Message { return msg(50) }

// ReceivedErrorNotify is logged when the peer's error notify deletes the ISAKMP SA.
func ReceivedErrorNotify(remote netip.AddrPort, reason string) Message {
	return msg(51, RemoteAddress(remote), reason)
}

// SendingNotification is logged when iked refuses or changes a negotiation
// and tells the peer. An ordinary Delete (terminate, shutdown, an SA's
// lifetime) is not one: it is logged as the Delete it is, outside the
// catalog.
func SendingNotification(remote netip.AddrPort, reason string) Message {
	return msg(52, RemoteAddress(remote), reason)
}

// NoPolicyLoaded is logged when a message arrives while no valid policy is loaded.
//
// Phase 1 logs it when the policy in force has no IKE connection, as after
// a reload to a file without connections (phase1/start.go). A message
// cannot arrive before the first policy: the daemon opens its sockets
// only once a policy is in force and a refused reload keeps the running
// one, so the daemon's own check (daemon/satable.go) is a guard.
func NoPolicyLoaded() Message { return msg(53) }

// SPDRejected is logged when no policy matches a negotiation's remote address.
func SPDRejected(local, remote string) Message { return msg(54, local, remote) }

// RemoteIDNotAddress is logged when a configured peer or gateway is not an IP address.
func RemoteIDNotAddress() Message { return msg(55) }

// B.3.2 Phase 2.

// Phase2NoProtocols is logged when no proposal is common to both policies.
func Phase2NoProtocols(sa int) Message { return msg(56, sa) }

// QuickModeFailed is logged when a Quick Mode negotiation fails.
func QuickModeFailed(local, remote, reason string) Message { return msg(57, local, remote, reason) }

// Phase2Failed is logged when phase 2 fails for a role ("initiator" or "responder").
func Phase2Failed(role, local, remote, reason string) Message {
	return msg(58, role, local, remote, reason)
}

// Phase2LifetimeShort warns that a phase 2 lifetime was reset to the minimum.
func Phase2LifetimeShort(proposed, minimum int) Message { return msg(59, proposed, minimum) }

// QMNotification is logged when the peer refuses or changes phase 2 with a notify.
func QMNotification(notifyType int, reason string, size int, remote netip.AddrPort, protocol int, spi []byte) Message {
	return msg(60, notifyType, reason, size, RemoteAddress(remote), protocol, len(spi), hexString(spi))
}

// ResponderLifetime is logged when the responder chose other phase 2 lifetimes.
func ResponderLifetime(secs, kbytes int) Message { return msg(61, secs, kbytes) }

// DeleteRequested is logged when the peer asks to delete an SA; protocol is
// "ESP", "AH", "IPCOMP" or "ISAKMP", spi the SPI (both cookies for ISAKMP).
func DeleteRequested(protocol string, spi []byte) Message {
	return msg(62, protocol, hexString(spi))
}

// SAName names an SA as message 62 does, protocol[spi-value]: for the
// lines outside the catalog that speak of the same SAs.
func SAName(protocol string, spi []byte) string { return protocol + "[" + hexString(spi) + "]" }

// SAPerHostRange is logged when SA-per-host meets a peer asking for a range or subnet.
func SAPerHostRange() Message { return msg(63) }

// SAPerHostNotSelf is logged when SA-per-host meets a peer negotiating for another address.
func SAPerHostNotSelf() Message { return msg(64) }

// BundleNoInbound is logged when a bundle to install has no inbound SA.
//
// The engine checks every bundle it is asked to install (Bundle.Validate
// in engine/sa.go), and its tests submit one-sided bundles. No
// configuration reaches that check with one: Quick Mode always keys both
// directions, and a manually keyed connection with a protocol lacking its
// inbound or outbound SPI or key is refused when the policy loads
// (messages 35 and 36), before any bundle exists.
func BundleNoInbound(bundle int) Message { return msg(65, bundle) }

// BundleNoOutbound is logged when a bundle to install has no outbound SA.
// It is reached as BundleNoInbound is.
func BundleNoOutbound(bundle int) Message { return msg(66, bundle) }

// NoTunnelEndpoints is logged when no secure gateway addresses could be chosen.
func NoTunnelEndpoints(conn string) Message { return msg(67, conn) }

// B.4 The queue to the engine.

// QueueOrdinaryDropped is logged when the full queue drops an ordinary entry.
func QueueOrdinaryDropped(length, typ, queueSize int) Message {
	return msg(68, length, typ, queueSize)
}

// QueueMadeSpace is logged when an ordinary entry is dropped for an important one.
func QueueMadeSpace() Message { return msg(69) }

// QueueImportantDropped is logged when a queue full of important entries drops a new one.
func QueueImportantDropped(length, typ int) Message { return msg(70, length, typ) }

// RemoteAddress fills the `remote address' placeholder: the peer's IP
// address, followed by [port] when the peer does not use the IKE port 500
// (a NAT-T peer on 4500, a NAT's mapped port), as strongSwan prints
// endpoints.
func RemoteAddress(peer netip.AddrPort) string {
	a := peer.Addr().Unmap().String()
	if p := peer.Port(); p != 500 && p != 0 {
		a += "[" + strconv.Itoa(int(p)) + "]"
	}
	return a
}

// hexString prints an SPI as 0x followed by lower-case hex digits, the way
// ip xfrm and strongSwan show SPIs.
func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2, 2+2*len(b))
	out[0], out[1] = '0', 'x'
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
