package isakmp

// CfgType is the type of an Attribute payload: what the message does in
// the ISAKMP Configuration Method (draft-ietf-ipsec-isakmp-mode-cfg-05,
// 3.2).
type CfgType uint8

// Attribute payload types (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.2).
const (
	CfgRequest CfgType = 1
	CfgReply   CfgType = 2
	CfgSet     CfgType = 3
	CfgAck     CfgType = 4
)

var cfgNames = map[CfgType]string{
	CfgRequest: "ISAKMP_CFG_REQUEST",
	CfgReply:   "ISAKMP_CFG_REPLY",
	CfgSet:     "ISAKMP_CFG_SET",
	CfgAck:     "ISAKMP_CFG_ACK",
}

// String returns the draft's name of the type, or CfgType(n).
func (t CfgType) String() string { return enumName(t, "CfgType", cfgNames) }

// CfgAttr is the type of a configuration attribute. Values 1-15 are Mode
// Config's (draft-ietf-ipsec-isakmp-mode-cfg-05, 3.3; their constants live
// with the package that hands out addresses), 16520-16529 XAUTH's
// (draft-beaulieu-ike-xauth-02, 6.2).
type CfgAttr uint16

// XAUTH attribute types (draft-beaulieu-ike-xauth-02, 6.2).
const (
	XAuthType         CfgAttr = 16520 // basic
	XAuthUserName     CfgAttr = 16521
	XAuthUserPassword CfgAttr = 16522
	XAuthPasscode     CfgAttr = 16523
	XAuthMessage      CfgAttr = 16524
	XAuthChallenge    CfgAttr = 16525
	XAuthDomain       CfgAttr = 16526
	XAuthStatus       CfgAttr = 16527 // basic
	XAuthNextPin      CfgAttr = 16528
	XAuthAnswer       CfgAttr = 16529
)

var cfgAttrNames = map[CfgAttr]string{
	XAuthType:         "XAUTH-TYPE",
	XAuthUserName:     "XAUTH-USER-NAME",
	XAuthUserPassword: "XAUTH-USER-PASSWORD",
	XAuthPasscode:     "XAUTH-PASSCODE",
	XAuthMessage:      "XAUTH-MESSAGE",
	XAuthChallenge:    "XAUTH-CHALLENGE",
	XAuthDomain:       "XAUTH-DOMAIN",
	XAuthStatus:       "XAUTH-STATUS",
	XAuthNextPin:      "XAUTH-NEXT-PIN",
	XAuthAnswer:       "XAUTH-ANSWER",
}

// String returns the draft's name of an XAUTH attribute, or CfgAttr(n).
func (a CfgAttr) String() string { return enumName(a, "CfgAttr", cfgAttrNames) }

// XAUTH-STATUS values (draft-beaulieu-ike-xauth-02, 6.2) and the one
// XAUTH-TYPE iked speaks: generic user name and password (6.2, 0).
const (
	XAuthStatusFail  uint16 = 0
	XAuthStatusOK    uint16 = 1
	XAuthTypeGeneric uint16 = 0
)
