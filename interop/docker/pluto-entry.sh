#!/bin/sh
# pluto-entry: the libreswan container's entry point. It makes pluto's NSS
# database, imports /certs/peer.p12 when the setup has certificates, starts
# pluto in the foreground with /etc/ipsec.conf and /etc/ipsec.secrets
# (mounted read-only from the setup; its log on standard error, where
# plutodebug's crypt level writes the keys scripts/interop-docker.sh
# compares) and adds the connections.
set -e
[ -z "${INNER:-}" ] || ip addr add "$INNER" dev lo
[ -z "${ROUTE_VIA:-}" ] || ip route replace default via "$ROUTE_VIA"
mkdir -p /run/pluto /var/lib/ipsec/nss
ipsec initnss >/dev/null 2>&1 || true
if [ -f /certs/peer.p12 ]; then
	# No password on the file nor on the database (ipsec import would ask).
	pk12util -i /certs/peer.p12 -d sql:/var/lib/ipsec/nss -W "" -K "" >&2
	certutil -A -d sql:/var/lib/ipsec/nss -n ca -t CT,, -a -i /certs/ca.crt >&2
	certutil -L -d sql:/var/lib/ipsec/nss >&2
fi
ipsec pluto --config /etc/ipsec.conf --nofork --stderrlog &
pid=$!
trap 'kill -TERM $pid' TERM INT
i=0
until ipsec whack --status >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "pluto-entry: pluto does not answer" >&2; exit 1; }
	sleep 0.1
done
ipsec addconn --config /etc/ipsec.conf --autoall >&2
ipsec whack --listen >&2
wait $pid
