package notify

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readCatalogFile reads testdata/messages.txt (number, section, text per
// line), the catalog as docs/messages.md prints it.
func readCatalogFile(t *testing.T, path string) map[int][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][2]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 {
			t.Fatalf("bad line in %s: %q", path, line)
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil {
			t.Fatalf("bad number in %s: %q", path, line)
		}
		out[n] = [2]string{parts[1], parts[2]}
	}
	return out
}

func TestCatalogMatchesSpec(t *testing.T) {
	want := readCatalogFile(t, filepath.Join("testdata", "messages.txt"))
	if len(want) != 70 || len(catalog) != 70 {
		t.Fatalf("spec has %d messages, catalog %d; both must have 70", len(want), len(catalog))
	}
	for i := range catalog {
		e := &catalog[i]
		if e.num != i+1 {
			t.Errorf("catalog entry %d has number %d", i+1, e.num)
		}
		w, ok := want[e.num]
		if !ok {
			t.Errorf("message %d is not in messages.txt", e.num)
			continue
		}
		if e.section != w[0] {
			t.Errorf("message %d: section %q, spec %q", e.num, e.section, w[0])
		}
		if got := e.text(); got != w[1] {
			t.Errorf("message %d:\n got %q\nwant %q", e.num, got, w[1])
		}
		if strings.Count(e.format, "%")-2*strings.Count(e.format, "%%") != len(e.holders) {
			t.Errorf("message %d: %d placeholders for its verbs", e.num, len(e.holders))
		}
	}
}

// TestConstructors fills every constructor and checks the number, the level
// and the exact text an operator will grep for.
func TestConstructors(t *testing.T) {
	spi := []byte{0x12, 0x34, 0xab, 0xcd}
	cases := []struct {
		m    Message
		num  int
		want string
	}{
		{EngineInitializing(), 1, "IPSEC: Initializing engine"},
		{EngineAttached(), 2, "IPSEC: Attaching to the TCP/IP stack"},
		{EngineDetached(), 3, "IPSEC: Detaching from the TCP/IP stack"},
		{EngineOpenFailed(), 4, "Can not open connection with the packet processing engine.Check that the engine module is loaded into kernel, thedevice used on communication exists, and you havepermission to open that device. This process must be runon super-user privileges."},
		{ConfigUnreadable("/etc/iked/iked.yaml"), 5, "Could not read configuration file `/etc/iked/iked.yaml': not reconfiguring"},
		{CryptoStartFailed(), 6, "Could not start the cryptography system"},
		{DroppingPacket("IPv4", "192.0.2.1", "192.0.2.2", "udp", 1234, 53), 7, "Dropping IPv4 packet 192.0.2.1->192.0.2.2 udp:1234->53"},
		{SPDCertDecode("gw", 3), 8, "SPD: could not decode certificate `gw': 3"},
		{SPDLocalAddressDecode("branch"), 9, "SPD: Could not decode local-address of connection `branch'"},
		{SPDRemoteAddressDecode("branch"), 10, "SPD: Could not decode remote-address of connection `branch'"},
		{SPDLocalAddressType(2, "branch"), 11, "SPD: Could not handle local-address of type 2 for connection `branch'"},
		{SPDRemoteAddressType(2, "branch"), 12, "SPD: Could not handle remote-address of type 2 for connection `branch'"},
		{SPDCertRead("gw", "branch"), 13, "SPD: could not read certificate `gw' of the connection `branch'"},
		{SPDCRLRead("root-ca"), 14, "SPD: could not read CRL `root-ca'"},
		{SPDPrivateKeyRead("gw"), 15, "SPD: could not read private key `gw'"},
		{SPDInvalidLocalGW("branch"), 16, "SPD: Invalid local-gw specification branch"},
		{SPDInvalidRemoteGW("branch"), 17, "SPD: Invalid remote-gw specification branch"},
		{SPDMixedFamilies("branch"), 18, "SPD: local and remote selectors specify different IP protocol ID. Skipping connection `branch'"},
		{SPDNoCertFile("gw"), 19, "SPD: no certificate file name specified for the certificate `gw'"},
		{SPDNoPrivateKeyFile("gw"), 20, "SPD: no private key file specified for the authentication certificate `gw'"},
		{SPDNotInstantiated(), 21, "SPD: Policy not instantiated due to errors."},
		{SPDPortsIgnored("icmp", "branch"), 22, "SPD: port selectors specified for protocol `icmp' which is not TCP or UPD: port selectors ignored for connection `branch'"},
		{SPDUntrustedCA("root-ca"), 23, "SPD: the certificate `root-ca' is a CA certificate but is not marked as trusted. The certificate is not configured in the certificate manager."},
		{SPDPrivateKeyBroken("gw"), 24, "SPD: the private key `gw' is broken"},
		{SPDTrustedNoBasicConstraints("old-ca"), 25, "SPD: the trusted certificate `old-ca' does not contain the Basic Constraints extension. This is against RFC-2459. However, forcing the certificate as a point of trust because of the flag `trusted'."},
		{ManualAuthKeyShort("legacy"), 26, "AH or ESP authentication key is not long enough for the specified algorithm at connection legacy"},
		{ManualCipherKeyShort("legacy", 64, 128), 27, "ESP cipher key is not long enough for the specified algorithm at Connection legacy: got 64, minimum 128"},
		{ManualNoAlgorithms("legacy"), 28, "SPD: Algorithms for manually keyed connection legacy can not be determined. The proposal-list is missing, or it does not contain exactly one proposal."},
		{ManualCipherCount("p", "legacy"), 29, "SPD: invalid number of cipher or HMAC algorithm names in proposal `p' for manually keyed connection `legacy'"},
		{ManualCompressionCount("p", "legacy"), 30, "SPD: invalid number of compression algorithm names in proposal `p' for manually keyed connection `legacy'"},
		{ManualHMACCount("p", "legacy"), 31, "SPD: invalid number of HMAC names in proposal `p' for manually keyed connection `legacy'"},
		{ManualProposalCount("l", "legacy"), 32, "SPD: invalid number of proposals in the proposal list `l' of the manually keyed connection `legacy'"},
		{ManualTransformType("t", "legacy"), 33, "SPD: invalid transform type in transform `t' for manually keyed connection `legacy'"},
		{ManualKeyCount(1, "legacy", 2), 34, "SPD: The number of keys 1 for connection legacy does not match protocol count 2"},
		{ManualTooFewKeys("legacy"), 35, "SPD: too few keys for manually keyed connection `legacy'"},
		{ManualSPI("legacy"), 36, "SPI for connection legacy is not specified or is less than 256."},
		{ManualNoEndpoints("legacy"), 37, "Transport endpoints not specified for Connection legacy. For IKE these can be left out, but for manually keyed connection they must be present."},
		{ManualKeyTruncated("cipher-key-in", 256, 128), 38, "Truncating key cipher-key-in ciph len 256 to required 128 bits"},
		{CertBERDecode(), 39, "Can not decode certificate out from BER encoded blob. The certificate may be corrupt, or should be decoded to binary BER blob before inserting (file format may be wrong?)"},
		{CRLBERDecode(), 40, "Can not decode CRL out from BER encoded blob. The CRL input may be corrupted, or should be decoded to binary BER blob before inserting (file format may be wrong?)."},
		{NoPolicyFor("192.0.2.1", "192.0.2.2"), 41, "Can not get policy for 192.0.2.1 <-> 192.0.2.2"},
		{CASubjectMissing(), 42, "Can not get subject name from a CA certificate. This certificate is not usable as an IPsec authenticator, and is not inserted into local list of trusted roots."},
		{CertBadIPAddress(5), 43, "Certificate contains bad IP address: length=5"},
		{CRLIssuerMissing(), 44, "CRL issuer name does not appear at the CRL. Can not check the CRL validity. Discarding the CRL."},
		{CRLIssuerKeyMissing(), 45, "CRL issuer public key was not found from the local database. Can not check the CRL validity. Discarding the CRL."},
		{Phase1Failed("initiator", "192.0.2.1", "192.0.2.2", "AUTHENTICATION-FAILED"), 46, "Phase-1 [initiator] between 192.0.2.1 and 192.0.2.2 failed; AUTHENTICATION-FAILED"},
		{Phase1LifetimeShort(60, 300), 47, "Phase-1 lifetime is too short (prop=60, min=300)"},
		{Phase1Notify("NO-PROPOSAL-CHOSEN", 40, "192.0.2.2", 500, 1, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}), 48, `Phase-1 notify NO-PROPOSAL-CHOSEN "(size 40 bytes) from 192.0.2.2:500 for protocol=1 spi(16)=0x0102030405060708090a0b0c0d0e0f10"`},
		{NoPrivateKey(), 49, "Policy manager didn't find private key"},
		{NoPublicKey(), 50, "Policy manager didn't find public key"},
		{ReceivedErrorNotify(netip.MustParseAddrPort("192.0.2.2:500"), "INVALID-ID-INFORMATION"), 51, "Received error notify from 192.0.2.2 : INVALID-ID-INFORMATION. Deleting ISAKMP SA."},
		{SendingNotification(netip.MustParseAddrPort("[::ffff:192.0.2.2]:4500"), "NO-PROPOSAL-CHOSEN"), 52, "Sending notification to 192.0.2.2[4500] : NO-PROPOSAL-CHOSEN"},
		{NoPolicyLoaded(), 53, "SPD: Phase-1 policy; No security policy available."},
		{SPDRejected("192.0.2.1", "192.0.2.9"), 54, "SPD rejected conn using selectors 192.0.2.1 <-> 192.0.2.9"},
		{RemoteIDNotAddress(), 55, "The Phase-1 remote id is not an IP-address, check the peer/gw address."},
		{Phase2NoProtocols(1), 56, "IKE Phase-2; Could not select any protocols from IPSEC SA 1"},
		{QuickModeFailed("198.51.100.0/24", "203.0.113.0/24", "NO-PROPOSAL-CHOSEN"), 57, "IKE Quick-Mode negotiation between 198.51.100.0/24 <-> 203.0.113.0/24 failed: NO-PROPOSAL-CHOSEN"},
		{Phase2Failed("responder", "192.0.2.1", "192.0.2.2", "INVALID-ID-INFORMATION"), 58, "Phase-2 [responder] for 192.0.2.1 and 192.0.2.2 failed; INVALID-ID-INFORMATION."},
		{Phase2LifetimeShort(30, 120), 59, "Phase-2 lifetime is too short, reset to min (prop=30, min=120)"},
		{QMNotification(14, "NO-PROPOSAL-CHOSEN", 12, netip.MustParseAddrPort("[2001:db8::2]:1500"), 3, spi), 60, "QM notification 14 (NO-PROPOSAL-CHOSEN) (size 12 bytes) from 2001:db8::2[1500] for protocol=3 spi(4)=0x1234abcd"},
		{ResponderLifetime(3600, 0), 61, `Received responder lifetime notification: "life_secs=3600, life_kbytes=0`},
		{DeleteRequested("ESP", spi), 62, "Requested to delete SA ESP[0x1234abcd]"},
		{SAPerHostRange(), 63, "SA-per-host specified and the remote requested addresses range or subnet -> rejecting connection."},
		{SAPerHostNotSelf(), 64, "SA-per-host specified without remote addresses given and the remote did not request QM for itself -> rejecting connection."},
		{BundleNoInbound(7), 65, "The bundle 7 to be installed does not contain any inbound SA's. Not installing it."},
		{BundleNoOutbound(7), 66, "The bundle 7 to be installed does not contain any outbound SA's. Not installing it."},
		{NoTunnelEndpoints("branch"), 67, "Tunnel endpoints not specified for Connection branch"},
		{QueueOrdinaryDropped(120, 3, 64), 68, "ssh_send_to_ipm: queue full, priority message dropped, len=120 type=3 queue_size=64"},
		{QueueMadeSpace(), 69, "ssh_send_to_ipm: dropping entry to make space for important packet"},
		{QueueImportantDropped(255, 2), 70, "ssh_send_to_ipm: WARNING: queue full, important packet dropped len = 0xff, type = 2"},
	}
	seen := map[int]bool{}
	for _, c := range cases {
		if c.m.Num != c.num {
			t.Errorf("constructor for %d made message %d", c.num, c.m.Num)
		}
		if c.m.Text != c.want {
			t.Errorf("message %d:\n got %q\nwant %q", c.num, c.m.Text, c.want)
		}
		if c.m.Level != catalog[c.num-1].level {
			t.Errorf("message %d: level %v", c.num, c.m.Level)
		}
		seen[c.num] = true
	}
	for n := 1; n <= 70; n++ {
		if !seen[n] {
			t.Errorf("no constructor tested for message %d", n)
		}
	}
}

func TestSeriousness(t *testing.T) {
	// docs/policy-file.md: 18, 22, 23 and 25 are warnings, the other SPD errors serious.
	for _, n := range []int{18, 22, 23, 25} {
		if catalog[n-1].level == LevelError {
			t.Errorf("message %d must be a warning", n)
		}
	}
	for _, n := range []int{8, 9, 13, 21, 24, 28, 36} {
		if (Message{Level: catalog[n-1].level}).Serious() != true {
			t.Errorf("message %d must be serious", n)
		}
	}
}
