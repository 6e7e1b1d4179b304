package modecfg

import "fmt"

// AttrType is a Mode Config attribute type: those of
// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2 and the Cisco Unity ones
// (the numbers vpnc and strongSwan's unity plugin use). The XAUTH types
// (16520-16529) are package isakmp's.
type AttrType uint16

// draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2.
const (
	InternalIP4Address    AttrType = 1
	InternalIP4Netmask    AttrType = 2
	InternalIP4DNS        AttrType = 3
	InternalIP4NBNS       AttrType = 4
	InternalAddressExpiry AttrType = 5
	InternalIP4DHCP       AttrType = 6
	ApplicationVersion    AttrType = 7
	InternalIP6Address    AttrType = 8
	InternalIP6Netmask    AttrType = 9
	InternalIP6DNS        AttrType = 10
	InternalIP6NBNS       AttrType = 11
	InternalIP6DHCP       AttrType = 12
	InternalIP4Subnet     AttrType = 13
	SupportedAttributes   AttrType = 14
	InternalIP6Subnet     AttrType = 15
)

// Cisco Unity (private range 28672-32767 of the draft, 3.2).
const (
	UnityBanner        AttrType = 28672
	UnitySavePasswd    AttrType = 28673
	UnityDefDomain     AttrType = 28674
	UnitySplitDNSName  AttrType = 28675
	UnitySplitInclude  AttrType = 28676
	UnityNATTPort      AttrType = 28677
	UnityLocalLAN      AttrType = 28678
	UnityPFS           AttrType = 28679
	UnityFWType        AttrType = 28680
	UnityBackupServers AttrType = 28681
	UnityDDNSHostname  AttrType = 28682
	// UnityUnknown is sent by Cisco ASAs; vpnc names it "unknown seen on
	// ASA".
	UnityUnknown AttrType = 28683
)

var attrNames = map[AttrType]string{
	InternalIP4Address:    "INTERNAL_IP4_ADDRESS",
	InternalIP4Netmask:    "INTERNAL_IP4_NETMASK",
	InternalIP4DNS:        "INTERNAL_IP4_DNS",
	InternalIP4NBNS:       "INTERNAL_IP4_NBNS",
	InternalAddressExpiry: "INTERNAL_ADDRESS_EXPIRY",
	InternalIP4DHCP:       "INTERNAL_IP4_DHCP",
	ApplicationVersion:    "APPLICATION_VERSION",
	InternalIP6Address:    "INTERNAL_IP6_ADDRESS",
	InternalIP6Netmask:    "INTERNAL_IP6_NETMASK",
	InternalIP6DNS:        "INTERNAL_IP6_DNS",
	InternalIP6NBNS:       "INTERNAL_IP6_NBNS",
	InternalIP6DHCP:       "INTERNAL_IP6_DHCP",
	InternalIP4Subnet:     "INTERNAL_IP4_SUBNET",
	SupportedAttributes:   "SUPPORTED_ATTRIBUTES",
	InternalIP6Subnet:     "INTERNAL_IP6_SUBNET",
	UnityBanner:           "UNITY_BANNER",
	UnitySavePasswd:       "UNITY_SAVE_PASSWD",
	UnityDefDomain:        "UNITY_DEF_DOMAIN",
	UnitySplitDNSName:     "UNITY_SPLITDNS_NAME",
	UnitySplitInclude:     "UNITY_SPLIT_INCLUDE",
	UnityNATTPort:         "UNITY_NATT_PORT",
	UnityLocalLAN:         "UNITY_LOCAL_LAN",
	UnityPFS:              "UNITY_PFS",
	UnityFWType:           "UNITY_FW_TYPE",
	UnityBackupServers:    "UNITY_BACKUP_SERVERS",
	UnityDDNSHostname:     "UNITY_DDNS_HOSTNAME",
	UnityUnknown:          "UNITY_UNKNOWN",
}

// String returns the type's name as the draft and strongSwan's logs write
// it.
func (t AttrType) String() string {
	if n, ok := attrNames[t]; ok {
		return n
	}
	return fmt.Sprintf("MODECFG_ATTRIBUTE(%d)", uint16(t))
}
