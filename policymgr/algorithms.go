package policymgr

import "github.com/iked/iked/isakmp"

// The algorithm names of the policy file (docs/policy-file.md, transforms) and
// the IANA IKEv1 registry values they stand for. The numbers are isakmp's
// typed constants, so a transform prints its RFC names.

// GroupCurve25519 is Curve25519 as strongSwan numbers it for IKEv1 (the
// IANA "Transform Type 4" value 31 of RFC 8031, which strongSwan also
// uses in the IKEv1 Group Description attribute). isakmp has no constant
// for it yet.
const GroupCurve25519 isakmp.GroupDescription = 31

// ikeCipher is a phase 1 cipher: the Encryption Algorithm attribute and,
// for AES, the Key Length attribute (RFC 2409, Appendix A; RFC 3602).
type ikeCipher struct {
	alg    isakmp.EncryptionAlgorithm
	keyLen int // bits; 0: the algorithm has a fixed key and no attribute
}

var ikeCiphers = map[string]ikeCipher{
	"des":      {isakmp.EncDESCBC, 0},
	"3des":     {isakmp.Enc3DESCBC, 0},
	"aes128":   {isakmp.EncAESCBC, 128},
	"aes192":   {isakmp.EncAESCBC, 192},
	"aes256":   {isakmp.EncAESCBC, 256},
	"blowfish": {isakmp.EncBlowfishCBC, 128},
	"cast128":  {isakmp.EncCASTCBC, 128},
}

var ikeHashes = map[string]isakmp.HashAlgorithm{
	"md5":    isakmp.HashMD5,
	"sha1":   isakmp.HashSHA,
	"sha256": isakmp.HashSHA2256,
	"sha384": isakmp.HashSHA2384,
	"sha512": isakmp.HashSHA2512,
}

var dhGroups = map[string]isakmp.GroupDescription{
	"modp768":      isakmp.GroupMODP768,
	"modp1024":     isakmp.GroupMODP1024,
	"modp1536":     isakmp.GroupMODP1536,
	"modp2048":     isakmp.GroupMODP2048,
	"modp3072":     isakmp.GroupMODP3072,
	"modp4096":     isakmp.GroupMODP4096,
	"modp6144":     isakmp.GroupMODP6144,
	"modp8192":     isakmp.GroupMODP8192,
	"ecp256":       isakmp.GroupECP256,
	"ecp384":       isakmp.GroupECP384,
	"ecp521":       isakmp.GroupECP521,
	"modp1024s160": isakmp.GroupMODP1024S160,
	"modp2048s224": isakmp.GroupMODP2048S224,
	"modp2048s256": isakmp.GroupMODP2048S256,
	"curve25519":   GroupCurve25519,
}

// espCipher is an ESP cipher: its transform ID, the Key Length attribute
// where the algorithm has a variable key, and the keying material a
// manual key must hold (RFC 3686, 5.1 and RFC 4106, 8.1: CTR and GCM keys
// carry a 32-bit nonce or salt after the key).
type espCipher struct {
	id      isakmp.ESPTransformID
	keyLen  int  // Key Length attribute in bits; 0: none sent
	keyBits int  // manual key material in bits
	aead    bool // combined mode: no separate HMAC
}

var espCiphers = map[string]espCipher{
	"null":        {isakmp.ESPNull, 0, 0, false},
	"des":         {isakmp.ESPDES, 0, 64, false},
	"3des":        {isakmp.ESP3DES, 0, 192, false},
	"aes128":      {isakmp.ESPAES, 128, 128, false},
	"aes192":      {isakmp.ESPAES, 192, 192, false},
	"aes256":      {isakmp.ESPAES, 256, 256, false},
	"aes128ctr":   {isakmp.ESPAESCTR, 128, 160, false},
	"aes256ctr":   {isakmp.ESPAESCTR, 256, 288, false},
	"aes128gcm8":  {isakmp.ESPAESGCM8, 128, 160, true},
	"aes192gcm8":  {isakmp.ESPAESGCM8, 192, 224, true},
	"aes256gcm8":  {isakmp.ESPAESGCM8, 256, 288, true},
	"aes128gcm12": {isakmp.ESPAESGCM12, 128, 160, true},
	"aes192gcm12": {isakmp.ESPAESGCM12, 192, 224, true},
	"aes256gcm12": {isakmp.ESPAESGCM12, 256, 288, true},
	"aes128gcm16": {isakmp.ESPAESGCM16, 128, 160, true},
	"aes192gcm16": {isakmp.ESPAESGCM16, 192, 224, true},
	"aes256gcm16": {isakmp.ESPAESGCM16, 256, 288, true},
}

// hmac is an IPsec integrity algorithm: the ESP Authentication Algorithm
// attribute, the AH transform ID, and the manual key length (RFC 2403,
// 2404, 4868: the key is the hash's output size).
type hmac struct {
	auth    isakmp.AuthAlgorithm
	ah      isakmp.AHTransformID
	keyBits int
}

// hmacNone is `none`: only with a combined-mode (GCM) ESP cipher.
const hmacNone = "none"

var hmacs = map[string]hmac{
	"md5":    {isakmp.AuthHMACMD5, isakmp.AHMD5, 128},
	"sha1":   {isakmp.AuthHMACSHA, isakmp.AHSHA, 160},
	"sha256": {isakmp.AuthHMACSHA2256, isakmp.AHSHA2_256, 256},
	"sha384": {isakmp.AuthHMACSHA2384, isakmp.AHSHA2_384, 384},
	"sha512": {isakmp.AuthHMACSHA2512, isakmp.AHSHA2_512, 512},
}

// compressions are the IPComp algorithms (RFC 2394 deflate, RFC 2395 LZS,
// RFC 3051 LZJH) Linux's XFRM implements.
var compressions = map[string]isakmp.IPCOMPTransformID{
	"deflate": isakmp.IPCOMPDeflate,
	"lzs":     isakmp.IPCOMPLZS,
	"lzjh":    isakmp.IPCOMPLZJH,
}

// names returns a table's keys for an error message, in a fixed order.
func names[V any](order []string, _ map[string]V) string {
	s := ""
	for i, n := range order {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

var (
	ikeCipherOrder   = []string{"des", "3des", "aes128", "aes192", "aes256", "blowfish", "cast128"}
	ikeHashOrder     = []string{"md5", "sha1", "sha256", "sha384", "sha512"}
	groupOrder       = []string{"modp768", "modp1024", "modp1536", "modp2048", "modp3072", "modp4096", "modp6144", "modp8192", "ecp256", "ecp384", "ecp521", "modp1024s160", "modp2048s224", "modp2048s256", "curve25519"}
	espCipherOrder   = []string{"null", "des", "3des", "aes128", "aes192", "aes256", "aes128ctr", "aes256ctr", "aes128gcm8", "aes192gcm8", "aes256gcm8", "aes128gcm12", "aes192gcm12", "aes256gcm12", "aes128gcm16", "aes192gcm16", "aes256gcm16"}
	hmacOrder        = []string{"none", "md5", "sha1", "sha256", "sha384", "sha512"}
	compressionOrder = []string{"deflate", "lzs", "lzjh"}
)

// weakAlgorithms are the algorithm names that load with a warning, with
// why each is weak: a 56-bit key (DES), a 64-bit block (3DES: birthday
// bounds on long SAs), MD5's collisions, MODP groups under 2048 bits
// (RFC 8247, 2.4 and RFC 8221, 5 list them as MUST NOT or SHOULD NOT), and
// ESP without encryption.
var weakAlgorithms = map[string]string{
	"des":          "56-bit key",
	"3des":         "64-bit block",
	"md5":          "MD5",
	"modp768":      "768-bit group",
	"modp1024":     "1024-bit group",
	"modp1024s160": "1024-bit group",
	"null":         "no encryption",
}

// weakIn returns the weak names of a list, each with why, in list order.
func weakIn(list []string) []string {
	var out []string
	for _, a := range list {
		if why, weak := weakAlgorithms[a]; weak {
			out = append(out, a+" ("+why+")")
		}
	}
	return out
}
