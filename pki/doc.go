// Package pki is iked's certificate manager: it loads the certificates,
// CRLs and private keys the policy file names, decides which certificates
// are points of trust, validates a peer's certificate chain and matches the
// peer's ISAKMP identity against it, and makes and checks IKEv1 signatures.
//
// The package returns the catalog messages (package notify) it finds rather
// than logging them, so that the policy manager can log them in the order
// the policy file reads and decide whether the policy is instantiated
// (notify.Message.Serious). It never logs, and never puts key material in
// a message or a detail.
//
// What Load gives, per certificate item:
//
//	19        no file name                                  serious
//	13        file unreadable, once per connection using it serious
//	8 (6)     file unreadable, no connection uses it        serious
//	8 (1)     file larger than MaxFileSize                  serious
//	8 (2)     neither PEM CERTIFICATE nor DER               serious
//	39, 8 (3) DER that crypto/x509 cannot decode            notice, serious
//	43, 8 (4) subjectAltName iPAddress not 4 or 16 bytes    notice, serious
//	8 (5)     authentication key neither RSA nor ECDSA      serious
//	42        CA (or trusted) with an empty subject: skipped warning (notice level)
//	23        CA not marked trusted: skipped                warning
//	25        trusted without Basic Constraints: forced     warning
//	20        used by a connection, no private-key given    serious
//	15        key unreadable, mode lets group/others read,  serious
//	          or owner neither root nor the daemon's user
//	24        key does not decode, is encrypted, or is not the certificate's serious
//	14        CRL unreadable                                serious
//	40, 14    CRL does not decode                           notice, serious
//	45        CRL of a certificate that is not configured   notice (the CA is skipped anyway)
//	44, 14    CRL issued by another name than the CA        notice, serious
//	14        CRL signature does not verify with the CA     serious
//	0         CRL past its nextUpdate (still used)          warning
//
// A message with number 0 is not in the catalog; it names its item as the
// catalog does (`name'), so that the policy manager places it.
//
// VerifyPeer (and VerifyPeerCA, for a connection's ike.ca) never takes a
// CA certificate as the peer's, checks each CA's CRL in force, re-reading
// its file when it changed (crlState), and refuses the CA's peers while
// the CRL is expired if the item has crl-strict.
//
// The number in 8 is a DecodeCode. LoadDetailed pairs each message with a
// plain detail (file, error, what to do, e.g. "chmod 600 FILE").
package pki
