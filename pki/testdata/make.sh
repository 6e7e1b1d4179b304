#!/bin/sh
# make.sh regenerates pki's test data with real tools: openssl (Debian's
# openssl package) and strongSwan's pki (strongswan-pki). Run it from
# anywhere; it writes next to itself. Validity periods are 20 years; the
# tests use an injected clock derived from the certificates anyway.
set -eu
cd "$(dirname "$0")"
rm -f ./*.pem ./*.der ./*.crl ./*.bin ./*.txt ./*.key
DAYS=7300
CNF=$(mktemp)
trap 'rm -f "$CNF" ./*.srl ./*.csr ./san.der' EXIT
cat >"$CNF" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[nobc]
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[gw]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:gw.example.com, IP:192.0.2.1, IP:2001:db8::1, email:admin@example.com
[revoked]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
subjectAltName = DNS:revoked.example.com
[sub]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
subjectAltName = DNS:sub.example.com, IP:198.51.100.7
[noku]
basicConstraints = CA:false
keyUsage = critical, keyEncipherment
subjectAltName = DNS:noku.example.com
[other]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
subjectAltName = DNS:gw.example.com, IP:192.0.2.1
[badip]
basicConstraints = CA:false
keyUsage = critical, digitalSignature
# SEQUENCE { [7] iPAddress of 5 bytes: c0 00 02 01 01 } -- RFC 5280,
# 4.2.1.6 allows only 4 or 16; crypto/x509 rejects it, pki must say 43.
subjectAltName = DER:30:07:87:05:c0:00:02:01:01
CNF

# A self-signed CA (RSA) and an intermediate CA under it.
openssl genrsa -traditional -out ca-rsa.key 2048 2>/dev/null
openssl req -new -x509 -config "$CNF" -extensions ca -key ca-rsa.key -days $DAYS \
	-subj "/C=FI/O=Example/CN=Example RSA CA" -out ca-rsa.pem
openssl genrsa -traditional -out int-rsa.key 2048 2>/dev/null
openssl req -new -config "$CNF" -key int-rsa.key -subj "/C=FI/O=Example/OU=Sub/CN=Example Intermediate CA" -out int.csr
openssl x509 -req -in int.csr -CA ca-rsa.pem -CAkey ca-rsa.key -CAcreateserial -days $DAYS \
	-extfile "$CNF" -extensions intca -out int-rsa.pem 2>/dev/null

# End entities under the RSA CA: valid (gw), revoked, without
# digitalSignature, with a bad-length IP address; one under the intermediate.
ee() { # name ca cakey ext subject keyfile
	openssl req -new -config "$CNF" -key "$6" -subj "$5" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -days $DAYS \
		-extfile "$CNF" -extensions "$4" -out "$1.pem" 2>/dev/null
}
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out gw-rsa.pkcs8.pem 2>/dev/null
ee gw-rsa ca-rsa.pem ca-rsa.key gw "/C=FI/O=Example/CN=gw.example.com" gw-rsa.pkcs8.pem
openssl x509 -in gw-rsa.pem -outform DER -out gw-rsa.der
openssl genrsa -traditional -out revoked-rsa.key 2048 2>/dev/null
ee revoked-rsa ca-rsa.pem ca-rsa.key revoked "/C=FI/O=Example/CN=revoked.example.com" revoked-rsa.key
ee noku-rsa ca-rsa.pem ca-rsa.key noku "/C=FI/O=Example/CN=noku.example.com" revoked-rsa.key
ee badip-rsa ca-rsa.pem ca-rsa.key badip "/C=FI/O=Example/CN=badip.example.com" revoked-rsa.key
ee sub-gw int-rsa.pem int-rsa.key sub "/C=FI/O=Example/OU=Sub/CN=sub.example.com" revoked-rsa.key

# An Ed25519 end entity: a good certificate, but no IKEv1 authentication
# method exists for its key (message 8, code 5).
openssl genpkey -algorithm ed25519 -out ed25519.key
ee ed25519-gw ca-rsa.pem ca-rsa.key revoked "/C=FI/O=Example/CN=ed.example.com" ed25519.key

# A second intermediate CA that the RSA CA's CRL revokes, and an end entity
# under it: revocation is checked along the whole chain.
openssl req -new -config "$CNF" -key int-rsa.key -subj "/C=FI/O=Example/OU=Revoked/CN=Revoked Intermediate CA" -out int2.csr
openssl x509 -req -in int2.csr -CA ca-rsa.pem -CAkey ca-rsa.key -CAcreateserial -days $DAYS \
	-extfile "$CNF" -extensions intca -out int-revoked.pem 2>/dev/null
ee sub-revoked-int int-revoked.pem int-rsa.key sub "/C=FI/O=Example/OU=Revoked/CN=sub.example.com" revoked-rsa.key

# The same RSA key in every format: PKCS#1 and PKCS#8, PEM and DER.
openssl rsa -in gw-rsa.pkcs8.pem -traditional -out gw-rsa.pkcs1.pem 2>/dev/null
openssl rsa -in gw-rsa.pkcs8.pem -traditional -outform DER -out gw-rsa.pkcs1.der 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in gw-rsa.pkcs8.pem -outform DER -out gw-rsa.pkcs8.der

# A CA nobody trusts, and a gw certificate it issued (the wrong CA).
openssl genrsa -traditional -out other-ca.key 2048 2>/dev/null
openssl req -new -x509 -config "$CNF" -extensions ca -key other-ca.key -days $DAYS \
	-subj "/C=FI/O=Other/CN=Other CA" -out other-ca.pem
ee other-gw other-ca.pem other-ca.key other "/C=FI/O=Example/CN=gw.example.com" revoked-rsa.key

# A self-signed CA without Basic Constraints (message 25), and a CA
# certificate with an empty subject (message 42).
openssl req -new -x509 -config "$CNF" -extensions nobc -key other-ca.key -days $DAYS \
	-subj "/C=FI/O=Example/CN=No Basic Constraints CA" -out ca-nobc.pem
openssl req -new -x509 -config "$CNF" -extensions ca -key other-ca.key -days $DAYS \
	-subj "/" -out ca-empty.pem
ee nobc-gw ca-nobc.pem other-ca.key sub "/C=FI/O=Example/CN=nobc-gw.example.com" revoked-rsa.key

# Certificates with many attribute types and a multi-valued RDN, for the
# DN text form; dn-*.txt hold the subject as strongSwan's pki prints it.
openssl req -new -x509 -config "$CNF" -extensions nobc -key other-ca.key -days $DAYS \
	-subj "/C=FI/ST=Uusimaa/L=Espoo/street=Main 1/postalCode=02100/O=Example/OU=Unit/CN=host/emailAddress=a@example.com/serialNumber=123/DC=example/UID=jdoe/title=Boss/SN=Doe/GN=John/initials=JD/dnQualifier=q/pseudonym=ps/name=Nm/description=desc" \
	-out many-attrs.pem
UML=$(printf 'J\303\266rg')
openssl req -new -x509 -config "$CNF" -extensions nobc -key other-ca.key -days $DAYS -multivalue-rdn -utf8 \
	-subj "/CN=a+OU=b/O=x\\, y/CN=$UML" -out multi-rdn.pem

# An ECDSA P-256 CA and end entity, made with strongSwan's pki.
pki --gen --type ecdsa --size 256 --outform der >ca-ecdsa.sec1.der 2>/dev/null
pki --self --ca --lifetime $DAYS --in ca-ecdsa.sec1.der --type ecdsa \
	--dn "C=FI, O=Example, CN=Example ECDSA CA" --outform pem >ca-ecdsa.pem 2>/dev/null
pki --gen --type ecdsa --size 256 --outform pem >gw-ecdsa.sec1.pem 2>/dev/null
pki --issue --cacert ca-ecdsa.pem --cakey ca-ecdsa.sec1.der --type priv --in gw-ecdsa.sec1.pem \
	--dn "C=FI, O=Example, CN=gw-ec.example.com" --san gw-ec.example.com --san 192.0.2.2 \
	--san gw@example.com --lifetime $DAYS --outform pem >gw-ecdsa.pem 2>/dev/null
openssl ec -in gw-ecdsa.sec1.pem -outform DER -out gw-ecdsa.sec1.der 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in gw-ecdsa.sec1.pem -out gw-ecdsa.pkcs8.pem
openssl pkcs8 -topk8 -nocrypt -in gw-ecdsa.sec1.pem -outform DER -out gw-ecdsa.pkcs8.der

# CRLs, made with strongSwan's pki: the RSA CA's revokes revoked-rsa (PEM
# and DER), the ECDSA CA's is empty, one is signed by the other CA, one has
# a broken signature (last byte of the signature flipped).
pki --signcrl --cacert ca-rsa.pem --cakey ca-rsa.key --cert revoked-rsa.pem --cert int-revoked.pem \
	--reason key-compromise --lifetime $DAYS --outform der >ca-rsa.crl.der 2>/dev/null
openssl crl -inform DER -in ca-rsa.crl.der -out ca-rsa.crl.pem
pki --signcrl --cacert ca-ecdsa.pem --cakey ca-ecdsa.sec1.der --lifetime $DAYS \
	--outform pem >ca-ecdsa.crl.pem 2>/dev/null
pki --signcrl --cacert other-ca.pem --cakey other-ca.key --cert other-gw.pem \
	--lifetime $DAYS --outform der >other-ca.crl.der 2>/dev/null
# A CRL of the RSA CA past its nextUpdate: issued when the CA was made,
# valid one hour (the tests' clock is a day after the certificates' start).
# And a newer one that also revokes gw-rsa, to replace the CRL file with.
START=$(date -u -d "$(openssl x509 -in ca-rsa.pem -noout -startdate | cut -d= -f2)" '+%d.%m.%y %T')
END=$(date -u -d "$(openssl x509 -in ca-rsa.pem -noout -startdate | cut -d= -f2) + 1 hour" '+%d.%m.%y %T')
TZ=UTC pki --signcrl --cacert ca-rsa.pem --cakey ca-rsa.key --cert revoked-rsa.pem \
	--this-update "$START" --next-update "$END" --outform der >ca-rsa-expired.crl.der 2>/dev/null
TZ=UTC pki --signcrl --cacert ca-rsa.pem --cakey ca-rsa.key --cert revoked-rsa.pem --cert int-revoked.pem \
	--cert gw-rsa.pem --reason superseded --this-update "$START" --lifetime $DAYS --outform der >ca-rsa-gw.crl.der 2>/dev/null
python3 - <<'PY'
d = bytearray(open("ca-rsa.crl.der", "rb").read())
d[-1] ^= 0x01
open("crl-badsig.der", "wb").write(d)
PY

# Broken files.
echo "this is not a certificate" >not-a-cert.txt
head -c 300 gw-rsa.der | openssl base64 | sed '1i -----BEGIN CERTIFICATE-----' | sed '$a -----END CERTIFICATE-----' >cert-truncated.pem
head -c 200 gw-rsa.der >cert-truncated.der
printf -- '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n' >key-broken.pem
head -c 100 gw-rsa.pkcs1.der >key-truncated.der
openssl pkey -in gw-rsa.pkcs8.pem -aes128 -passout pass:secret -out key-encrypted.pem
echo "this is not a CRL" >crl-garbage.txt
head -c 150 ca-rsa.crl.der >crl-truncated.der

# Signatures made by openssl over fixed hashes, to check Verify against a
# real implementation: RSA PKCS#1 v1.5 of the raw 20-byte hash (no
# DigestInfo: pkeyutl with no digest), ECDSA of a 32-byte hash (DER).
printf 'iked pki test hash' | openssl dgst -sha1 -binary >hash20.bin
printf 'iked pki test hash' | openssl dgst -sha256 -binary >hash32.bin
openssl pkeyutl -sign -inkey gw-rsa.pkcs8.pem -in hash20.bin -out sig-rsa-openssl.bin
openssl pkeyutl -sign -inkey gw-ecdsa.pkcs8.pem -in hash32.bin -out sig-ecdsa-openssl.der

for c in gw-rsa ca-rsa int-rsa sub-gw gw-ecdsa ca-ecdsa many-attrs multi-rdn ca-empty; do
	pki --print --in $c.pem 2>/dev/null | sed -n 's/^  subject:  "\(.*\)"$/\1/p' >dn-$c.txt
done

chmod 600 ./*.key ./*.sec1.* ./*.pkcs1.* ./*.pkcs8.* key-*
