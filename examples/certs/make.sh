#!/bin/sh
# Makes the certificates the examples refer to, with strongSwan's pki
# (Debian package strongswan-pki). Run from this folder; the keys are
# written readable by their owner only, as iked requires (git does not keep
# the mode: chmod 600 *.key after a checkout, or let the examples test copy
# them). Documentation names and addresses only.
set -eu
umask 077
# The CA: ECDSA P-256, ten years.
pki --gen --type ecdsa --size 256 --outform pem > ca.key
pki --self --ca --lifetime 3650 --in ca.key --type ecdsa \
    --dn "C=FI, O=Example, CN=Example Root CA" --outform pem > ca.pem
# The VPN gateway: RSA 3072, its name and address as subjectAltNames.
pki --gen --type rsa --size 3072 --outform pem > gw.key
pki --pub --in gw.key --type rsa | pki --issue --lifetime 3650 \
    --cacert ca.pem --cakey ca.key \
    --dn "C=FI, O=Example, CN=vpn.example.com" \
    --san vpn.example.com --san 192.0.2.1 \
    --flag serverAuth --flag ikeIntermediate --outform pem > gw.pem
# A road warrior's laptop, for a peer's side of the example.
pki --gen --type ecdsa --size 256 --outform pem > laptop.key
pki --pub --in laptop.key --type ecdsa | pki --issue --lifetime 3650 \
    --cacert ca.pem --cakey ca.key \
    --dn "C=FI, O=Example, CN=ops@example.com" --san ops@example.com \
    --outform pem > laptop.pem
# The CA's CRL (empty: nothing revoked yet).
pki --signcrl --cacert ca.pem --cakey ca.key --lifetime 3650 --outform pem > ca.crl
chmod 644 ca.pem gw.pem laptop.pem ca.crl
# Only gw.key is used by the examples; the CA key stays with its owner.
rm -f ca.key laptop.key
