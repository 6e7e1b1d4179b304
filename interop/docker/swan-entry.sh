#!/bin/sh
# swan-entry: the strongSwan container's entry point. charon-systemd runs
# as a plain process with /etc/strongswan.conf (mounted read-only from the
# setup: its log goes to standard error at ike=4 chd=4, the keys
# scripts/interop-docker.sh compares); then swanctl loads
# /etc/swanctl/swanctl.conf. INNER (an address with prefix) is added to lo:
# kernel-libipsec installs a child SA only when the host has an address
# inside its local traffic selector. ROUTE_VIA makes that address the
# default gateway (a peer behind the setup's NAT router). A setup with
# certificates has /certs (Dockerfile.certs): swanctl loads private keys
# only from its own folder, so peer.key is copied there.
set -e
[ ! -f /certs/peer.key ] || install -m 600 /certs/peer.key /etc/swanctl/private/peer.key
[ -z "${INNER:-}" ] || ip addr add "$INNER" dev lo
[ -z "${ROUTE_VIA:-}" ] || ip route replace default via "$ROUTE_VIA"
/usr/sbin/charon-systemd &
pid=$!
trap 'kill -TERM $pid' TERM INT
i=0
until swanctl --stats >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "swan-entry: charon does not answer on vici" >&2; exit 1; }
	sleep 0.1
done
swanctl --load-all --file /etc/swanctl/swanctl.conf >&2
wait $pid
