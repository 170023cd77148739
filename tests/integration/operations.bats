#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Where operators run it: the tools around ctaccel (ip netns exec, ...).

load lib

PORT=9482

setup_file() {
	topo_names "op$$"
	topo_up
}

teardown_file() {
	topo_down
}

teardown() {
	daemon_teardown
	in_ns "$G" nft delete table inet ctacc_oracle 2>/dev/null || true
}

# ip netns exec remounts /sys in a mount namespace of its own, hiding the
# host's bpffs and cgroup2: ctaccel must still use the host's.
@test "ip netns exec: the same pins and cgroup as nsenter --net" {
	ip netns exec "$G" "$CTACCEL" --pin-path "$PIN" load
	ip netns exec "$G" "$CTACCEL" --pin-path "$PIN" attach vgc
	[[ -e $PIN/ctaccel_flows && -e $PIN/link_sockops ]]
	ctaccel_g -j status | jq -e '.sockops and (.devices | length) == 1 and .devices[0].name == "vgc"'
	ip netns exec "$G" "$CTACCEL" --pin-path "$PIN" -j status | jq -e '.loaded and .devices[0].name == "vgc"'
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 5 | grep -q "ok 5 fail 0"
	[[ $(ip netns exec "$G" "$CTACCEL" --pin-path "$PIN" -j stats | jq .counters.flows_created) -eq 5 ]]
}

@test "ip netns exec: the daemon adopts the host's pinned state and serves it" {
	ctaccel_g attach vgc vgs
	ip netns exec "$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc --devices vgs \
		--listen "127.0.0.1:$PORT" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	for i in $(seq 50); do http -o /dev/null /readyz && break; sleep 0.1; done
	http /v1/status | jq -e --arg p "$PIN" '.pin_path == $p and (.devices | length) == 2'
	grep -q "using the host's mount namespace" "$BATS_FILE_TMPDIR/daemon.log"
	# starting over devices that already have a clsact prints no libbpf noise
	[[ $(grep -c "Exclusivity flag" "$BATS_FILE_TMPDIR/daemon.log") -eq 0 ]]
	daemon_stop
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	ip netns exec "$G" "$CTACCEL" --pin-path "$PIN" unload
	[[ ! -e $PIN ]]
}

# A container sees its own cgroup at /sys/fs/cgroup; the host's is mounted
# elsewhere, and sock_ops must go there (the manifest's `cgroup` key).
@test "load cgroup PATH attaches sock_ops to that cgroup v2 root, and refuses anything else" {
	local cg
	cg=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
	[[ -n $cg ]]
	run ctaccel_g load cgroup /tmp
	[[ $status -eq 1 && $output == *"cgroup /tmp: not a cgroup v2 hierarchy"* ]]
	[[ ! -e $PIN ]]
	ctaccel_g load cgroup "$cg"
	[[ -e $PIN/link_sockops ]]
	bpftool cgroup show "$cg" | grep -q ctaccel_sockops
	ctaccel_g unload
	[[ $(bpftool cgroup show "$cg" | grep -c ctaccel_sockops) -eq 0 ]]
}

# On tcx (Linux 6.6+) a device's programs are links, pinned beside the maps:
# no qdisc, and nothing left once the pins go.
@test "attach puts tcx links on the devices and no qdisc; unload takes them off" {
	ctaccel_g attach vgc vgs >/dev/null
	[[ -e $PIN/link_tcx_$(in_ns "$G" cat /sys/class/net/vgc/ifindex)_ingress ]]
	hook_progs vgc ingress | grep -q "name ctaccel_ingress"
	hook_progs vgs egress | grep -q "name ctaccel_egress"
	[[ -z $(in_ns "$G" tc qdisc show dev vgc | grep clsact) ]]
	[[ -z $(in_ns "$G" tc filter show dev vgc ingress) ]]
	ctaccel_g -j status | jq -e '.devices | length == 2 and all(.hook == "tcx" and .ingress and .egress)'
	ctaccel_g unload
	[[ -z $(hook_progs vgc ingress) && -z $(hook_progs vgs egress) ]]
}

# A device an older ctaccel attached has a tc filter: attaching again and a
# live upgrade keep that filter (replaced in place), never add a tcx link
# beside it, which would count every packet twice.
@test "clsact: a device attached with a tc filter stays on it through attach and replace" {
	local id ours theirs
	CTACCEL_HOOK=clsact ctaccel_g attach vgc vgs >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	ctaccel_g replace force >/dev/null
	[[ -z $(in_ns "$G" "$OUT/tcxprogs" vgc ingress) ]]
	id=$(bpftool -j prog show pinned "$PIN/prog_ingress" | jq .id)
	in_ns "$G" tc filter show dev vgc ingress | grep -q "id $id "
	ctaccel_g -j status | jq -e '.devices | length == 2 and all(.hook == "clsact" and .ingress)'
	# one count per packet: every flow equal to the gateway's nf_conntrack
	oracle_on
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 10 | grep -q "ok 10 fail 0"
	ours=$(ctaccel_flows)
	theirs=$(conntrack_flows)
	diff <(echo "$ours") <(echo "$theirs")
	[[ $(echo "$ours" | wc -l) -eq 10 ]]
	ctaccel_g unload >/dev/null
	[[ -z $(hook_progs vgc ingress) && -z $(in_ns "$G" tc qdisc show dev vgc | grep clsact) ]]
}

# What ctaccel made goes with unload, what it found stays: after a daemon
# started the way an operator starts it (global --pin-path), on tc filters
# (CTACCEL_HOOK=clsact: what a kernel without tcx gets).
@test "clsact: unload removes the clsact qdisc ctaccel made and keeps one it found" {
	in_ns "$G" tc qdisc add dev vgs clsact
	CTACCEL_HOOK=clsact nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" daemon \
		--devices vgc --devices vgs --listen "127.0.0.1:$PORT" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	for i in $(seq 50); do http -o /dev/null /readyz && break; sleep 0.1; done
	in_ns "$G" tc filter show dev vgc ingress | grep -q ctaccel_ingress
	[[ -z $(in_ns "$G" "$OUT/tcxprogs" vgc ingress) ]]
	ctaccel_g -j status | jq -e '.devices | all(.hook == "clsact")' 
	daemon_stop
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	ctaccel_g unload
	[[ -z $(in_ns "$G" tc qdisc show dev vgc | grep clsact) ]]
	[[ -n $(in_ns "$G" tc qdisc show dev vgs | grep clsact) ]]
	[[ -z $(hook_progs vgs ingress) ]]
	in_ns "$G" tc qdisc del dev vgs clsact
}

# Only sock_ops needs cgroup v2: without it anywhere, the rest loads.
@test "no cgroup v2 anywhere: load leaves sock_ops out, says so once, status shows it" {
	# a private mount namespace without the cgroup2 mounts (the host keeps its)
	run unshare -m --propagation private sh -c '
		for m in $(awk "\$3 == \"cgroup2\" {print \$2}" /proc/self/mounts); do umount -l "$m"; done
		exec nsenter --net="$1" "$2" --pin-path "$3" load' sh "/run/netns/$G" "$CTACCEL" "$PIN"
	[[ $status -eq 0 && $output == *"no cgroup v2 hierarchy mounted: sock_ops not attached"* ]]
	[[ $(grep -c "cgroup v2" <<<"$output") -eq 1 ]]
	[[ ! -e $PIN/link_sockops && -e $PIN/ctaccel_flows ]]
	ctaccel_g -j status | jq -e '.loaded and .sockops == false and (.problems | length) == 0'
}
