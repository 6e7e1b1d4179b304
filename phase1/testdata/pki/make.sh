#!/bin/sh
# Regenerates the phase 1 test PKI with openssl (run from this folder):
# an RSA CA with two RSA gateways, an ECDSA P-256 CA with two P-256
# gateways and two P-384 gateways. Gateway "a" is 192.0.2.1 / a.example.org,
# gateway "b" is 192.0.2.2 / b.example.org (documentation addresses).
set -e
DAYS=7300
CNF=$(mktemp)
trap 'rm -f "$CNF" ./*.srl ./*.csr' EXIT
cat > "$CNF" <<EOC
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[a]
keyUsage = critical, digitalSignature
subjectAltName = DNS:a.example.org, IP:192.0.2.1
[b]
keyUsage = critical, digitalSignature
subjectAltName = DNS:b.example.org, IP:192.0.2.2
EOC
ca() { # name keyopts subject
	openssl genpkey $2 -out "$1.key" 2>/dev/null
	openssl req -new -x509 -config "$CNF" -extensions ca -key "$1.key" -days $DAYS -subj "$3" -out "$1.pem"
}
ee() { # name ca keyopts ext subject
	openssl genpkey $3 -out "$1.key" 2>/dev/null
	openssl req -new -config "$CNF" -key "$1.key" -subj "$5" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days $DAYS \
		-extfile "$CNF" -extensions "$4" -out "$1.pem" 2>/dev/null
}
RSA="-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
P256="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
P384="-algorithm EC -pkeyopt ec_paramgen_curve:P-384"
ca ca-rsa "$RSA" "/C=FI/O=Phase1 Test/CN=Phase1 RSA CA"
ee rsa-a ca-rsa "$RSA" a "/C=FI/O=Phase1 Test/CN=a.example.org"
ee rsa-b ca-rsa "$RSA" b "/C=FI/O=Phase1 Test/CN=b.example.org"
ca ca-ec "$P256" "/C=FI/O=Phase1 Test/CN=Phase1 ECDSA CA"
ee p256-a ca-ec "$P256" a "/C=FI/O=Phase1 Test/CN=a.example.org"
ee p256-b ca-ec "$P256" b "/C=FI/O=Phase1 Test/CN=b.example.org"
ee p384-a ca-ec "$P384" a "/C=FI/O=Phase1 Test/CN=a.example.org"
ee p384-b ca-ec "$P384" b "/C=FI/O=Phase1 Test/CN=b.example.org"
chmod 600 ./*.key
