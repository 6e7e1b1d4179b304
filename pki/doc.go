// Package pki is iked's certificate manager: it loads the certificates,
// CRLs and private keys the policy file names, decides which certificates
// are points of trust, validates a peer's certificate chain and matches the
// peer's ISAKMP identity against it, and makes and checks IKEv1 signatures.
//
// The package returns the catalog messages (package notify) it finds rather
// than logging them, so that the policy manager can log them in the order
// the policy file reads and decide whether the policy is instantiated
// (notify.Message.Serious). It never logs private key material.
package pki
