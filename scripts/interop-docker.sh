#!/usr/bin/env bash
# interop-docker.sh: iked against strongSwan and libreswan in Docker
# containers, with no container registry (make interop-docker).
#
# 1. Images: a Debian 12 base from `debootstrap --variant=minbase bookworm`
#    (scripts/minbase.sh, the tarball cached in $IKED_DOCKER_CACHE) with
#    this machine's apt sources, imported with `docker import`; on it the
#    images of interop/docker/Dockerfile.* (strongswan, libreswan, client,
#    router, certs, iked-debug); iked itself FROM scratch with the static
#    binaries (CGO_ENABLED=0). IKED_DOCKER_BASE=debian:bookworm-slim builds
#    on a registry's image instead.
# 2. Every case of interop/docker/cases (setup, peer, iked's role): the
#    setup's compose file up, the initiator told to start, both sides
#    polled until their ISAKMP SA and IPsec SA are up (ikectl list-sas,
#    swanctl --list-sas, ipsec whack --trafficstatus), the keys both logged
#    compared (interop/cmd/keycompare), the setup's extra check (DPD,
#    rekey, NAT, the road warriors' leases) and, on a kernel with ESP
#    (esp_probe; IKED_DOCKER_ESP=0 or 1 overrides it), a ping through the
#    tunnel with iked's engine xfrm (esp_override), then the project taken
#    down with its networks and volumes.
#    Up to IKED_DOCKER_JOBS setups run at once (the roles of one setup one
#    after the other: they share its addresses).
# 3. A table: setup, peer, iked role, result, seconds to establish; logs of
#    every case in bin/interop-docker/logs. Exit status 1 if a case failed.
#
# Root (or the docker group), docker with compose (v2 plugin or
# docker-compose 1.29), debootstrap, Go. Arguments: case patterns
# (grep -E on "setup peer role"); none runs every case. IKED_DOCKER_CASES
# (make interop-docker IKED_DOCKER_CASES=rw-) does the same, patterns
# separated by commas or blanks.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH

top=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
cd "$top"
. scripts/minbase.sh

cache=${IKED_DOCKER_CACHE:-/var/cache/iked-ci-fresh}
base=${IKED_DOCKER_BASE:-iked-interop/debian:bookworm}
jobs=${IKED_DOCKER_JOBS:-3}
out=${IKED_DOCKER_OUT:-$top/bin/interop-docker}
prefix=${IKED_DOCKER_PREFIX:-ikeddock}
GO=${GO:-go}
dir=interop/docker

if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null; then
	compose=(docker-compose)
else
	echo "interop-docker: no docker compose (Debian: docker-compose)" >&2
	exit 1
fi
docker info >/dev/null 2>&1 || {
	echo "interop-docker: the Docker engine does not answer" >&2
	exit 1
}

rm -rf "$out/logs"
mkdir -p "$out/logs" "$out/stage"
# git keeps no file modes: iked refuses a policy holding a PSK that others
# can read (as `make check-examples` does, made owner-only first).
chmod 600 "$dir"/*/iked*.yaml
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

# --- images ----------------------------------------------------------------

# base_image imports the cached minbase root with this machine's apt
# sources (only those of its Debian mirror) and apt settings.
base_image() {
	local tar extra t0=$(now)
	tar=$(minbase_tar "$cache" /var/tmp)
	extra=$(mktemp -d /var/tmp/iked-docker-base.XXXXXX)
	mkdir -p "$extra/etc/apt/sources.list.d" "$extra/etc/apt/apt.conf.d"
	local host f
	host=$(minbase_mirror | awk -F/ '{print $3}')
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
		[ -f "$f" ] && grep -q "$host" "$f" && cp "$f" "$extra$f"
	done
	# debootstrap's sources.list names the same mirror: apt warns of doubles.
	[ -f "$extra/etc/apt/sources.list" ] || : >"$extra/etc/apt/sources.list"
	cp -a /etc/apt/apt.conf.d/. "$extra/etc/apt/apt.conf.d/" 2>/dev/null || true
	# The cached root as it is, then a layer with the apt settings.
	docker import "$tar" iked-interop/debian:minbase >/dev/null
	printf 'FROM iked-interop/debian:minbase\nCOPY etc /etc/\nCMD ["/bin/bash"]\n' >"$extra/Dockerfile"
	docker build -q -t "$base" "$extra" >/dev/null
	docker rmi iked-interop/debian:minbase >/dev/null
	rm -rf "$extra"
	echo "interop-docker: base image $base imported in $(since "$t0") s"
}

build() { # build NAME DOCKERFILE CONTEXT
	local log="$out/logs/build-$1.log" old
	old=$(docker image inspect -f '{{.Id}}' "iked-interop/$1" 2>/dev/null || true)
	if ! docker build --build-arg "BASE=$base" -t "iked-interop/$1" -f "$2" "$3" >"$log" 2>&1; then
		echo "interop-docker: building iked-interop/$1 failed:" >&2
		tail -n 30 "$log" >&2
		return 1
	fi
	# The image this one replaced (new binaries of iked; the legacy
	# builder never caches certs' ENTRYPOINT []), if nothing else uses it:
	# no untagged images pile up run after run.
	if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "iked-interop/$1")" ]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
}

images() {
	local t0=$(now)
	if [ "$base" = iked-interop/debian:bookworm ] && ! docker image inspect "$base" >/dev/null 2>&1; then
		base_image
	fi
	# iked and ikectl static, and the tool that compares the keys.
	local ld="-X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)"
	CGO_ENABLED=0 $GO build -trimpath -ldflags "$ld" -o "$out/stage/iked" ./cmd/iked
	CGO_ENABLED=0 $GO build -trimpath -ldflags "$ld" -o "$out/stage/ikectl" ./cmd/ikectl
	$GO build -o "$out/keycompare" ./interop/cmd/keycompare
	cp /etc/ssl/certs/ca-certificates.crt "$out/stage/" 2>/dev/null || : >"$out/stage/ca-certificates.crt"
	build iked "$dir/Dockerfile.iked" "$out/stage"
	build iked-debug "$dir/Dockerfile.iked-debug" "$out/stage"
	local img pids=()
	for img in strongswan libreswan router client; do
		build "$img" "$dir/Dockerfile.$img" "$dir" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || return 1; done
	build certs "$dir/Dockerfile.certs" "$dir"
	echo "interop-docker: images built in $(since "$t0") s"
}

# --- one case ----------------------------------------------------------------

# The containers of the case running, by compose's labels (asking
# docker-compose 1 takes seconds each time); "" for a service the setup
# lacks.
cid() {
	docker ps -aq --filter "label=com.docker.compose.project=$project" \
		${1:+--filter "label=com.docker.compose.service=$1"}
}
in_iked() { docker exec "$ikedc" /usr/sbin/ikectl -json "$@"; }
in_peer() { docker exec "$peerc" "$@"; }
# in_peer_bg CMD: started in the peer's container, its output in the
# container's log (docker logs: the standard output of its process 1).
in_peer_bg() { docker exec -d "$peerc" sh -c "exec $* >/proc/1/fd/1 2>&1"; }

# iked_up [N]: iked has an established ISAKMP SA and N installed IPsec
# SA bundles (default 1; 0: phase 1 only).
iked_up() {
	local j
	j=$(in_iked list-sas 2>/dev/null) || return 1
	grep -q '"established": true' <<<"$j" && [ "$(grep -c '"state": "installed"' <<<"$j")" -ge "${1:-1}" ]
}
# peer_up [N]: likewise on the peer's side.
peer_up() {
	local s
	case $peer in
	strongswan)
		s=$(in_peer swanctl --list-sas 2>/dev/null) || return 1
		grep -q ESTABLISHED <<<"$s" && [ "$(grep -c INSTALLED <<<"$s")" -ge "${1:-1}" ]
		;;
	libreswan)
		s=$(in_peer ipsec whack --status 2>/dev/null) || return 1
		grep -q 'ISAKMP SA established\|IKE SA established' <<<"$s" &&
			[ "$(grep -c 'IPsec SA established' <<<"$s")" -ge "${1:-1}" ]
		;;
	vpnc)
		# vpnc ran its script's connect step: Quick Mode done, keys set.
		in_peer test -s /run/vpnc-env 2>/dev/null
		;;
	esac
}
# established_at T0: seconds from T0 to iked's first IPsec SA bundle
# installed (its list-sas), or with want=0 to its first "ISAKMP SA
# established" (its log): the time to establish, free of the polling.
established_at() {
	local ts
	if [ "$want" -gt 0 ]; then
		ts=$(in_iked list-sas | grep -o '"installed": "[^"]*"' | head -n 1 | cut -d'"' -f4)
	else
		ts=$(docker logs "$ikedc" 2>&1 | grep '"msg":"ISAKMP SA established"' | head -n 1 | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
	fi
	[ -n "$ts" ] && awk -v a="$1" -v b="$(date -d "$ts" +%s.%N)" 'BEGIN {printf "%.1f", b - a}'
}

wait_for() { # wait_for SECONDS CMD...
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

initiate() {
	if [ "$role" = initiator ]; then
		in_iked initiate peer >/dev/null
	else
		case $peer in
		strongswan) in_peer swanctl --initiate --child c --timeout 30 >/dev/null ;;
		libreswan) in_peer ipsec whack --name peer --initiate --asynchronous >/dev/null ;;
		vpnc) in_peer_bg vpnc --no-detach --debug 3 --script /etc/vpnc/record-env /etc/vpnc/rw.conf ;;
		esac
	fi
}

# run_case SETUP PEER ROLE FILE: one line of the table in $out/results.
run_case() {
	setup=$1 peer=$2 role=$3 file=$dir/$4 containers="" ikedc="" peerc=""
	project=$prefix-$setup-$role
	local log=$out/logs/$setup-$role result=fail why="" secs=- t0 want=1 limited=""
	# libreswan has no data plane of its own: on a kernel without ESP it
	# cannot install an IPsec SA and stops the Quick Mode there. Then only
	# phase 1 is required, and the keys both derived are compared.
	if [ "$peer" = libreswan ] && [ "$esp" = 0 ]; then
		want=0 limited="kernel without ESP: libreswan's Quick Mode stops at its SA installation"
		case $setup in *rekey*)
			printf '%-14s %-10s %-9s %-4s %6s  %s\n' "$setup" "$peer" "$role" skip - "needs a kernel with ESP: make kernel-test, scenario 17" >>"$out/results"
			return ;;
		esac
	fi
	mkdir -p "$log"
	# A setup with one configuration per role (rw-charon) names it by
	# ${IKED_ROLE} in its compose file.
	export IKED_ROLE=$role
	# On a kernel with ESP, iked gets its data plane (esp_override).
	local files=(-f "$file") ping_src="" ping_dst="" noping
	if noping=$(ping_addrs); then
		read -r ping_src ping_dst <<<"$noping"
		noping=""
		files+=(-f "$(esp_override "$log")")
	fi
	"${compose[@]}" -p "$project" "${files[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
	if ! "${compose[@]}" -p "$project" "${files[@]}" up -d >"$log/up.log" 2>&1; then
		why="compose up failed (logs/$setup-$role/up.log)"
	elif ! containers=$(cid) ||
		! ikedc=$(cid iked) || ! peerc=$(cid peer) || ! wait_for 30 healthy; then
		why="containers not healthy"
	else
		t0=$(now)
		if ! initiate 2>"$log/initiate.log"; then
			why="initiate failed"
		elif ! wait_for 30 iked_up "$want" || ! wait_for 10 peer_up "$want"; then
			why="no SAs after 30 s (both sides' lists in logs/$setup-$role)"
		else
			secs=$(established_at "$t0") || secs=$(since "$t0")
			why=$(extra_checks 2>&1) && result=pass
		fi
	fi
	collect "$log"
	if [ "$result" = pass ]; then
		local kc
		if kc=$("$out/keycompare" ${limited:+-phase1-only} -iked "$log/iked.log" -$peer "$log/peer.log" 2>&1); then
			why="${why:+$why; }$kc"
		else
			result=fail why=$kc
		fi
		[ -z "$limited" ] || result=part why="$why; $limited"
		why=${why#; }
	fi
	"${compose[@]}" -p "$project" "${files[@]}" down -v --remove-orphans -t 2 >"$log/down.log" 2>&1 || {
		result=fail why="$why; compose down failed"
	}
	printf '%-14s %-10s %-9s %-4s %6s  %s\n' "$setup" "$peer" "$role" "$result" "$secs" "$why" >>"$out/results"
}

healthy() {
	local c s
	for c in $containers; do
		s=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$c")
		case $s in healthy | running | exited) ;; *) return 1 ;; esac
	done
}

collect() {
	local c
	for c in $containers; do
		docker logs "$c" >"$1/$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$c").log" 2>&1 || true
	done
	in_iked list-sas >"$1/iked-sas.json" 2>&1 || true
	case $peer in
	strongswan) in_peer swanctl --list-sas >"$1/peer-sas.txt" 2>&1 || true ;;
	libreswan) in_peer ipsec whack --status >"$1/peer-sas.txt" 2>&1 || true ;;
	vpnc) in_peer cat /run/vpnc-env >"$1/vpnc-env.txt" 2>&1 || true ;;
	esac
	in_iked list-leases >"$1/iked-leases.json" 2>&1 || true
}

# extra_checks: per setup, after both sides are up. It prints what it
# found (the table's last column) and fails when a check does.
extra_checks() {
	local notes=()
	case $setup in
	*nat*)
		# NAT-T: iked's ISAKMP SA on 4500, and the peer sees iked at the
		# router's outside address (its OUTSIDE_ADDR in the compose file),
		# not at its own.
		in_iked list-sas | grep -q '"local": "[0-9.]*:4500"' || { echo "NAT: iked's SA is not on port 4500"; return 1; }
		local outside
		outside=$(sed -n 's/^ *OUTSIDE_ADDR: \([0-9.]*\)$/\1/p' "$file" | head -n 1)
		[ -n "$outside" ] || { echo "NAT: no OUTSIDE_ADDR in $file"; return 1; }
		outside=${outside//./\\.}
		case $peer in
		strongswan) in_peer swanctl --list-sas | grep -q "remote .* @ $outside\\[4500\\]" ;;
		libreswan)
			local st
			st=$(in_peer ipsec whack --status)
			grep -q "\\.\\.\\.$outside\\[" <<<"$st" && grep -q '"peer":4500 STATE_' <<<"$st"
			;;
		esac || { echo "NAT: the peer does not see iked behind the router on 4500"; return 1; }
		notes+=("NAT-T on 4500 via the router")
		;;
	esac
	case $setup in
	rw-vpnc)
		# vpnc's script was handed the pool's first address and the rest
		# of the pool; iked leased it to alice and made it vpnc's only
		# remote selector; vpnc came through the router's NAT (4500).
		local env w
		env=$(in_peer cat /run/vpnc-env)
		for w in INTERNAL_IP4_ADDRESS=203.0.113.218 INTERNAL_IP4_DNS=198.51.100.173 CISCO_DEF_DOMAIN=example.net \
			CISCO_SPLIT_INC=1 CISCO_SPLIT_INC_0_ADDR=198.51.100.160 CISCO_SPLIT_INC_0_MASK=255.255.255.240 \
			'CISCO_BANNER=Authorised use only'; do
			grep -qxF "$w" <<<"$env" || { echo "vpnc's script lacks $w (logs/$setup-$role/vpnc-env.txt)"; return 1; }
		done
		leased 203.0.113.218 || return 1
		in_iked list-sas | grep -q '"remote_ts": "203\.0\.113\.218[/"]' || { echo "iked's IPsec SA is not for the lease 203.0.113.218"; return 1; }
		in_iked list-sas | grep -q '"remote": "192\.0\.2\.254:4500"' || { echo "NAT: iked does not see vpnc at the router's address on 4500"; return 1; }
		notes+=("vpnc got 203.0.113.218, DNS, domain, banner, split 198.51.100.160/28, iked's SA for 203.0.113.218, NAT-T via the router")
		;;
	rw-charon)
		local sas
		sas=$(in_peer swanctl --list-sas)
		if [ "$role" = responder ]; then
			# iked the gateway: alice's lease, charon's virtual IP (and the
			# DNS server), which is its child SA's local selector and iked's
			# remote one.
			leased 203.0.113.234 || return 1
			local pl
			pl=$(docker logs "$peerc" 2>&1)
			grep -q 'installing new virtual IP 203\.0\.113\.234' <<<"$pl" || { echo "charon did not install the virtual IP 203.0.113.234"; return 1; }
			grep -q 'installing DNS server 198\.51\.100\.189 ' <<<"$pl" || { echo "charon was not given the DNS server 198.51.100.189"; return 1; }
			grep -q 'local \+203\.0\.113\.234/32' <<<"$sas" || { echo "charon's child SA is not from 203.0.113.234/32"; return 1; }
			in_iked list-sas | grep -q '"remote_ts": "203\.0\.113\.234/32"' || { echo "iked's IPsec SA is not for the lease 203.0.113.234"; return 1; }
			notes+=("charon got 203.0.113.234 and DNS from iked's pool (lease: alice), the SAs' selector")
		else
			# iked the client: charon's pool gave it 203.0.113.234 (and the
			# DNS server), its local selector and charon's remote one.
			grep -q '"msg":"Mode Config address assigned".*"address":"203\.0\.113\.234".*"dns":\["203\.0\.113\.173"\]' <<<"$(docker logs "$ikedc" 2>&1)" ||
				{ echo "iked was not assigned 203.0.113.234 and the DNS server 203.0.113.173"; return 1; }
			grep -q 'assigning virtual IP 203\.0\.113\.234 to peer' <<<"$(docker logs "$peerc" 2>&1)" || { echo "charon did not assign 203.0.113.234"; return 1; }
			grep -q 'remote \+203\.0\.113\.234/32' <<<"$sas" || { echo "charon's child SA is not for 203.0.113.234/32"; return 1; }
			in_iked list-sas | grep -q '"local_ts": "203\.0\.113\.234/32"' || { echo "iked's IPsec SA is not from 203.0.113.234/32"; return 1; }
			notes+=("iked got 203.0.113.234 and DNS from charon's pool, the SAs' selector")
		fi
		;;
	esac
	case $setup in
	*dpd*)
		# DPD: iked's R-U-THERE answered (libreswan's log, iked's ACKs),
		# and where libreswan has an IPsec SA (it sends R-U-THERE only
		# then) its own answered too.
		wait_for 20 dpd_seen || { echo "DPD: R-U-THERE not answered"; return 1; }
		notes+=("DPD: iked's R-U-THERE answered${limited:+ (libreswan sends none without an IPsec SA)}")
		;;
	*rekey*)
		# Rekey: a second IPsec SA negotiated before the first expires.
		wait_for 90 iked_up 2 || { echo "rekey: no second IPsec SA in 90 s"; return 1; }
		wait_for 10 peer_up 2 || { echo "rekey: the peer has no second IPsec SA"; return 1; }
		notes+=("rekeyed")
		;;
	esac
	if [ -n "$limited" ]; then
		:
	elif [ -n "$ping_dst" ]; then
		in_peer ping -c 3 -W 2 -I "$ping_src" "$ping_dst" >"$log/ping.txt" 2>&1 ||
			{ echo "no ping crossed from $ping_src to $ping_dst (logs/$setup-$role/ping.txt)"; return 1; }
		notes+=("ping $ping_src to $ping_dst: $(grep -o '[0-9]* received' "$log/ping.txt") of 3")
	else
		notes+=("no ping: $noping")
	fi
	local IFS=';'
	echo "${notes[*]}" | sed 's/;/; /g'
}

# leased ADDRESS: iked lists ADDRESS as alice's lease, held by a live
# ISAKMP SA.
leased() {
	local l
	l=$(in_iked list-leases | tr -d '\n ')
	grep -q "\"address\":\"$1\"" <<<"$l" && grep -q '"user":"alice"' <<<"$l" && grep -q '"online":true' <<<"$l" ||
		{ echo "iked lists no live lease of $1 to alice: $l"; return 1; }
}

dpd_seen() {
	local pl il
	pl=$(docker logs "$peerc" 2>&1) il=$(docker logs "$ikedc" 2>&1)
	[ "$(grep -c 'DPD: received R_U_THERE seq' <<<"$pl")" -ge 2 ] &&
		[ "$(grep -c 'R-U-THERE-ACK' <<<"$il")" -ge 2 ] &&
		{ [ -n "$limited" ] || grep -q 'received R_U_THERE_ACK' <<<"$pl"; }
}

# ping_addrs prints the addresses of the case's ping through the tunnel,
# "SOURCE DESTINATION" (from the peer's side into iked's local selector),
# or why there is none (status 1). iked has no ESP of its own: its data
# plane is the kernel's (engine xfrm), so only a kernel with ESP carries
# a ping; strongSwan carries ESP in user space (kernel-libipsec), vpnc too
# (its tun device), libreswan in the kernel. The addresses are the first
# host of the selectors in iked's policy: its local-address (iked's side,
# 198.51.100.0/24 cut into /28s) and remote-address (the peer's,
# 203.0.113.0/24 likewise); the road warriors' own address is their lease.
ping_addrs() {
	local lnet rnet
	[ "$esp" = 1 ] || { echo "kernel without ESP, and iked has no user-space ESP (engine none)"; return 1; }
	lnet=$(sed -n 's/^ *local-address: \([0-9.]*\)\/[0-9]*$/\1/p' "$(policy_file)" | head -n 1)
	rnet=$(sed -n 's/^ *remote-address: \([0-9.]*\)\/[0-9]*$/\1/p' "$(policy_file)" | head -n 1)
	case $setup-$role in
	rw-vpnc-*) echo "203.0.113.218 198.51.100.161" ;;
	rw-charon-responder) echo "203.0.113.234 198.51.100.177" ;;
	rw-charon-initiator)
		echo "iked as Mode Config client puts its lease on no interface here"
		return 1
		;;
	*)
		[ -n "$lnet" ] && [ -n "$rnet" ] || { echo "no local-address and remote-address network in $(policy_file)"; return 1; }
		echo "$(first_host "$rnet") $(first_host "$lnet")"
		;;
	esac
}

# first_host NETWORK: the address after NETWORK (an IPv4 network address).
first_host() {
	echo "${1%.*}.$((${1##*.} + 1))"
}

# policy_file: iked's policy file of the case (rw-charon: one per role).
policy_file() {
	local d
	d=$(dirname "$file")
	if [ -f "$d/iked-$role.yaml" ]; then echo "$d/iked-$role.yaml"; else echo "$d/iked.yaml"; fi
}

# esp_override LOGDIR writes a compose file laid over the setup's on a
# kernel with ESP and prints its path: iked's policy with engine xfrm
# (a copy, owner-only), NET_ADMIN for iked, its inner address on its
# loopback (the one-shot service iked-inner: the iked image has no
# tools) and the peer's (libreswan's entry point adds INNER too).
esp_override() {
	local d dst=${ping_dst} src=${ping_src}
	d=$(cd "$1" && pwd)
	install -m 600 /dev/null "$d/iked-xfrm.yaml"
	sed 's/^\(  engine:\) none$/\1 xfrm/' "$(policy_file)" >"$d/iked-xfrm.yaml"
	{
		echo "services:"
		echo "  iked:"
		echo "    cap_add: [NET_ADMIN]"
		echo "    volumes: [\"$d/iked-xfrm.yaml:/etc/iked/iked.yaml:ro\"]"
		echo "  iked-inner:"
		echo "    image: iked-interop/router"
		echo "    network_mode: \"service:iked\""
		echo "    cap_add: [NET_ADMIN]"
		echo "    depends_on: [iked]"
		echo "    entrypoint: [\"ip\", \"addr\", \"add\", \"$dst/32\", \"dev\", \"lo\"]"
		# The road warriors' address is their lease, which their client
		# puts on an interface itself.
		case $setup in rw-*) ;; *)
			echo "  peer:"
			echo "    environment: {INNER: $src/32}"
			;;
		esac
	} >"$d/esp-override.yml"
	echo "$d/esp-override.yml"
}

# esp_probe: 1 if this kernel installs an ESP state (in a container's own
# network namespace), else 0.
esp_probe() {
	docker run --rm --network none --cap-add NET_ADMIN --entrypoint ip iked-interop/iked-debug \
		xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 \
		enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff \
		auth-trunc 'hmac(sha256)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 128 \
		>/dev/null 2>&1 && echo 1 || echo 0
}

# --- main --------------------------------------------------------------------

# leftovers removes every container, network and volume of a project of
# ours (interrupted cases): compose labels them with their project.
leftovers() {
	local kind ids
	for kind in container network volume; do
		ids=$(docker $kind ls $([ $kind = container ] && echo -a) --filter label=com.docker.compose.project \
			--format "{{if eq \"$kind\" \"volume\"}}{{.Name}}{{else}}{{.ID}}{{end}} {{.Label \"com.docker.compose.project\"}}" |
			awk -v p="$prefix-" 'index($2, p) == 1 {print $1}')
		[ -z "$ids" ] || docker $kind rm -f $ids >/dev/null 2>&1 || docker $kind rm $ids >/dev/null 2>&1 || true
	done
}
trap 'kill $(jobs -p) 2>/dev/null; leftovers; exit 130' INT TERM

t_all=$(now)
before=$(docker ps -aq | wc -l) nets=$(docker network ls -q | wc -l) vols=$(docker volume ls -q | wc -l)
images
esp=${IKED_DOCKER_ESP:-$(esp_probe)}
echo "interop-docker: kernel ESP: $([ "$esp" = 1 ] && echo yes || echo "no (libreswan cases stop after phase 1)")"

pattern=${*:-${IKED_DOCKER_CASES:-.}}
pattern=${pattern//,/|}
pattern=${pattern// /|}
: >"$out/results"
running=0
while read -r setup peer cfile roles; do
	case $setup in '#'* | '') continue ;; esac
	(
		for role in ${roles//,/ }; do
			grep -qE "$pattern" <<<"$setup $peer $role" || continue
			run_case "$setup" "$peer" "$role" "$cfile"
		done
	) &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done <"$dir/cases"
wait

echo
printf '%-14s %-10s %-9s %-4s %6s  %s\n' setup peer "iked" result "s" notes
sort "$out/results"
if grep -q '^ls-[^ ]* *[^ ]* *[^ ]* *\(part\|skip\) ' "$out/results"; then
	echo "interop-docker: libreswan with an ESP data plane (pings, both roles, NAT-T, DPD, rekey): make kernel-test, scenarios 14-17 (interop/kernel_libreswan_test.go)"
fi
left="$(($(docker ps -aq | wc -l) - before)) containers, $(($(docker network ls -q | wc -l) - nets)) networks, $(($(docker volume ls -q | wc -l) - vols)) volumes"
echo "interop-docker: $(since "$t_all") s in all; left in docker: $left (images stay cached: docker images 'iked-interop/*')"
! grep -q '^[^ ]* *[^ ]* *[^ ]* *fail ' "$out/results" && [ "$left" = "0 containers, 0 networks, 0 volumes" ]
