#!/bin/sh
# router-entry: the NAT router of a setup. Forwarding on (compose sets
# net.ipv4.ip_forward), masquerade of what leaves by the interface that
# holds OUTSIDE_ADDR, and when FORWARD_TO is set the IKE and NAT-T ports
# of that address forwarded to FORWARD_TO (a responder behind the NAT).
set -e
out=$(ip -o -4 addr show | awk -v a="$OUTSIDE_ADDR" '$4 ~ "^"a"/" {print $2}')
[ -n "$out" ] || { echo "router-entry: no interface has $OUTSIDE_ADDR" >&2; exit 1; }
{
	echo "table ip nat {"
	echo " chain post { type nat hook postrouting priority srcnat; oifname \"$out\" masquerade;"
	echo " }"
	if [ -n "${FORWARD_TO:-}" ]; then
		echo " chain pre { type nat hook prerouting priority dstnat;"
		echo "  ip daddr $OUTSIDE_ADDR udp dport { 500, 4500 } dnat to $FORWARD_TO;"
		echo " }"
	fi
	echo "}"
} | nft -f -
nft list ruleset >&2
echo "router-entry: NAT out of $out ($OUTSIDE_ADDR)" >&2
trap 'exit 0' TERM INT
sleep infinity &
wait
