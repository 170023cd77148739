#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Faults: a full table, kill -9 in the middle of a policy update and around a
# GC pass, bpffs read-only or gone, the nft table or a device removed behind
# ctaccel's back, two daemons at once. Traffic always passes; afterwards the
# state is consistent and the daemon repairs what it can.

load lib

PORT=9484

setup_file() {
	topo_names "ft$$"
	topo_up
	oracle_on
}

teardown_file() {
	daemon_stop -KILL 2>/dev/null || true
	topo_down
	if [[ -n ${MNT:-} ]]; then umount -l "$MNT" 2>/dev/null || true; fi
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/daemon.pid ]] && daemon_stop -KILL
	in_ns "$G" ip link del vx0 2>/dev/null || true
	local m
	for m in "$BATS_TEST_TMPDIR"/mnt-*; do
		[[ -d $m ]] && umount -l "$m" 2>/dev/null
	done
	ctaccel_g unload >/dev/null 2>&1 || true
}

# The id of the trie in the policy slot (what the datapath uses); bpftool
# prints an ARRAY_OF_MAPS value as little-endian bytes.
slot_id() {
	echo $((16#$(bpftool -j map lookup pinned "$PIN/ctaccel_policy" key 0 0 0 0 |
		jq -r '.value | reverse | map(ltrimstr("0x")) | join("")')))
}

# A repair counter of the daemon: ctaccel_repairs_total{what="$1"}.
# A rule for mark 0x04000000 in both chains, in one transaction.
old_mark_add() {
	printf 'add rule inet ctaccel %s meta mark and 0x04000000 == 0x04000000 notrack\n' prerouting output |
		in_ns "$G" nft -f -
}

repairs() {
	url "http://127.0.0.1:$PORT/metrics" | awk -v k="ctaccel_repairs_total{what=\"$1\"}" '$1 == k {print $2}'
}

# Wait up to 3 s for `ctaccel -j status` to satisfy a jq filter, then assert it
# (the daemon repairs once a second in these tests).
status_until() {
	local i
	for i in $(seq 30); do
		ctaccel_g -j status | jq -e "$1" >/dev/null && return 0
		sleep 0.1
	done
	ctaccel_g -j status | jq -e "$1"
}

# Gauges equal the table by state, and present + removed = created.
consistent() {
	local st table
	st=$(ctaccel_g -j stats)
	table=$(ctaccel_g -j flow show | jq -c 'group_by(.state) | map({(.[0].state): length}) | add // {}')
	[[ $(jq -c '.states | with_entries(select(.value != 0))' <<<"$st") == "$table" ]] || {
		echo "gauges $(jq -c .states <<<"$st") table $table"
		return 1
	}
	local created removed n
	created=$(jq .counters.flows_created <<<"$st")
	removed=$(jq '.counters | .flows_expired + .flows_reopened + .flows_killed + .flows_deleted + .unreplied_evicted' <<<"$st")
	n=$(ctaccel_g -j flow count | jq .flows)
	[[ $((created - removed)) -eq $n ]] || {
		echo "created $created - removed $removed != $n in the table"
		return 1
	}
}

@test "table full under churn: traffic passes, every refusal counted, GC makes room again" {
	ctaccel_g load max-flows 64 timeout-time-wait 1 timeout-close 1 >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 300
	[[ $output == *"ok 300 fail 0"* ]]
	local full created
	full=$(ctaccel_g -j stats | jq .counters.table_full)
	created=$(ctaccel_g -j stats | jq .counters.flows_created)
	[[ $full -gt 0 ]]
	[[ $(ctaccel_g -j flow count | jq .flows) -le 64 ]]
	consistent
	sleep 1.5
	ctaccel_g gc >/dev/null
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 0 ]]
	consistent
	# room again: the next 20 connections are all tracked, none refused
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20 >/dev/null
	[[ $(ctaccel_g -j stats | jq .counters.flows_created) -eq $((created + 20)) ]]
	[[ $(ctaccel_g -j stats | jq .counters.table_full) -eq $full ]]
	consistent
}

@test "kill -9 during policy updates: the policy in use is the old or the new one, whole; a restart finishes it" {
	local delay in_use n seen_new=0 seen_old=0
	# 4000 rules (163 KB): parsing and building the trie aside take about
	# 25 ms here, so the kills below land before, during and after
	jq -cn '{rules: [range(4000) | {prefix: "198.19.\(. / 250 | floor).\(. % 250)/32", port: 8080}]}' >"$BATS_TEST_TMPDIR/big.json"
	daemon_start --policy '198.18.1.0/24 port 80'
	for delay in 0.002 0.008 0.015 0.022 0.03 0.045 1.0; do
		url -o /dev/null -H 'Content-Type: application/json' -X PUT --data-binary @"$BATS_TEST_TMPDIR/big.json" "http://127.0.0.1:$PORT/v1/policy" &
		sleep "$delay"
		daemon_stop -KILL
		wait || true
		# what the datapath uses: the trie in the slot, whole (a rule
		# for TCP and UDP is two keys)
		n=$(bpftool map dump id "$(slot_id)" | sed -n 's/^Found \([0-9]*\) element.*/\1/p')
		[[ $n -eq 2 || $n -eq 8000 ]]
		# the restart finishes an update the kill interrupted
		daemon_start
		[[ $(slot_id) -eq $(bpftool -j map show pinned "$PIN/ctaccel_policy_rules" | jq .id) ]]
		n=$(ctaccel_g -j policy show | jq length)
		[[ $n -eq 1 || $n -eq 4000 ]]
		[[ $(ctaccel_g -j status | jq '.problems | length') -eq 0 ]]
		if [[ $n -eq 4000 ]]; then seen_new=$((seen_new + 1)); else seen_old=$((seen_old + 1)); fi
		echo "# kill after ${delay}s: $n rules in use after the restart" >&3
		# back to the old policy for the next round
		url -o /dev/null -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"198.18.1.0/24","port":80}]}' "http://127.0.0.1:$PORT/v1/policy"
		[[ $(ctaccel_g -j policy show | jq length) -eq 1 ]]
	done
	# a second is long enough for the update to finish before the kill
	[[ $n -eq 4000 ]]
	echo "# $seen_old rounds kept the old policy, $seen_new had the new one" >&3
}

@test "an interrupted policy update (pinned, not swapped in) is reported, and the daemon finishes it" {
	ctaccel_g load >/dev/null
	ctaccel_g policy add 198.18.1.0/24 port 80 >/dev/null
	# what a writer killed between pinning a new trie and swapping it in leaves
	rm "$PIN/ctaccel_policy_rules"
	bpftool map create "$PIN/ctaccel_policy_rules" type lpm_trie key 24 value 8 entries 16 \
		name ctaccel_policy flags 1
	ctaccel_g -j status | jq -e '.problems | any(test("interrupted"))'
	# readers see the policy in use, not the pin
	[[ $(ctaccel_g -j policy show | jq length) -eq 1 ]]
	daemon_start
	ctaccel_g -j status | jq -e '(.problems | length) == 0'
	grep -q "finished an update that was interrupted" "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(repairs policy) -eq 1 ]]
	# finished means the pinned (empty) trie is now the one in use
	[[ $(ctaccel_g -j policy show | jq length) -eq 0 ]]
}

@test "kill -9 during GC passes: a pass is whole or not begun, the table stays consistent; a restart finishes" {
	# flowfill makes flows without a reply: let them have the whole table.
	# Kernel expiry's timer waits an hour, so that the daemon's passes
	# (POST /v1/gc) are what remove the flows.
	local settings=(max-flows 300000 unreplied-max 300000 timeout-syn-sent 1
		expiry-interval 3600) same=() k
	ctaccel_g load "${settings[@]}" >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
	"$OUT/flowfill" fill "$PIN" 100000 >/dev/null
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 100000 ]]
	sleep 1.5
	# the daemon asks for the state's own settings, as flags: with its
	# defaults it would apply them at start (a migration to a ring of
	# max-flows / 4 evicts the oldest unreplied flows, and SYN_SENT goes
	# back to 120 s)
	for ((k = 0; k < ${#settings[@]}; k += 2)); do
		same+=("--${settings[k]}" "${settings[k + 1]}")
	done
	local i n removed
	daemon_start "${same[@]}"
	for i in 1 2 3 4 5; do
		url -o /dev/null -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$PORT/v1/gc" &
		sleep "0.0$((i * 2))"
		daemon_stop -KILL
		wait || true
		# A pass is one run of the kernel's expiry program, which a kill
		# cannot split: every flow is still there, or none is.
		n=$(ctaccel_g -j flow count | jq .flows)
		echo "# kill $i: $n flows left" >&3
		((n == 0 || n == 100000))
		consistent
		daemon_start "${same[@]}"
		[[ $n -eq 0 ]] && break
	done
	url -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$PORT/v1/gc" | jq -e '.deleted >= 0'
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 0 ]]
	consistent
	# every flow left by a removal that counts as deleted or expired;
	# the removal counters are shown if not
	removed=$(ctaccel_g -j stats | jq -c '.counters | {flows_created, flows_deleted,
		flows_expired, flows_killed, flows_reopened, unreplied_evicted}')
	echo "$removed"
	[[ $(jq '.flows_deleted + .flows_expired' <<<"$removed") -eq 100000 ]]
}

@test "bpffs read-only, or not bpffs at all: a clear refusal, nothing attached or leaked" {
	local ro="$BATS_TEST_TMPDIR/mnt-ro" plain="$BATS_TEST_TMPDIR/plain" progs links
	mkdir -p "$ro" "$plain"
	mount -t bpf -o ro bpf "$ro"
	progs=$(bpftool -j prog show | jq '[.[] | select(.name | startswith("ctaccel"))] | length')
	links=$(bpftool -j link show | jq length)
	run nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$ro/ctaccel" attach vgc
	[[ $status -eq 1 && $output == *"Read-only file system"* ]]
	[[ -z $(hook_progs vgc ingress) ]]
	run nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$plain/ctaccel" attach vgc
	[[ $status -eq 1 && $output == *"not on a bpf filesystem"* ]]
	[[ -z $(hook_progs vgc ingress) ]]
	[[ $(bpftool -j prog show | jq '[.[] | select(.name | startswith("ctaccel"))] | length') -eq $progs ]]
	[[ $(bpftool -j link show | jq length) -eq $links ]]
}

# Attach vgc and vgs on a bpffs of their own, unmount it under the running
# datapath, and check that traffic still passes; then the state's status.
attach_then_unmount() {
	local m="$BATS_TEST_TMPDIR/mnt-gone"
	mkdir -p "$m"
	mount -t bpf bpf "$m"
	nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$m/ctaccel" attach vgc vgs >/dev/null
	hook_progs vgc ingress | grep -q "ctaccel_ingress"
	umount "$m"
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
	[[ $output == *"ok 20 fail 0"* ]]
	run nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$m/ctaccel" -j status
	[[ $status -eq 0 ]]
}

# tcx links live in their pins: with the mount gone, so are the programs.
@test "bpffs unmounted under a running datapath: the tcx links go with it; traffic passes" {
	attach_then_unmount
	jq -e '.loaded == false and (.orphaned_devices | length) == 0' <<<"$output"
	[[ -z $(hook_progs vgc ingress) && -z $(hook_progs vgs egress) ]]
}

# tc filters outlive their pins: status names them, detach takes them off.
@test "clsact: bpffs unmounted under a running datapath: traffic passes; status says what is left; detach still cleans up" {
	CTACCEL_HOOK=clsact attach_then_unmount
	jq -e '.loaded == false and (.orphaned_devices | sort) == ["vgc", "vgs"]' <<<"$output"
	nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$BATS_TEST_TMPDIR/mnt-gone/ctaccel" detach vgc vgs
	[[ -z $(hook_progs vgc ingress) ]]
	[[ -z $(hook_progs vgs egress) ]]
}

@test "nft table deleted or changed behind ctaccel's back: status reports it, the daemon (or the next policy add) restores it" {
	daemon_start --policy all
	in_ns "$G" nft list table inet ctaccel >/dev/null
	# removed while no daemon runs: the report cannot race the repair
	daemon_stop
	in_ns "$G" nft delete table inet ctaccel
	ctaccel_g -j status | jq -e '.nft_table == false and (.problems[0] | test("nft table inet ctaccel is missing"))'
	daemon_start --repair-interval 1
	in_ns "$G" nft list table inet ctaccel | grep -q notrack
	ctaccel_g -j status | jq -e '.nft_table and (.problems | length) == 0'
	grep -q "nft table inet ctaccel was missing: restored" "$BATS_FILE_TMPDIR/daemon.log"
	# and again while it runs
	in_ns "$G" nft delete table inet ctaccel
	status_until '.nft_table and (.problems | length) == 0'
	# both restores are this daemon's (one at its start, one while running):
	# its counter and its log agree
	[[ $(grep -c "nft table inet ctaccel was missing: restored" "$BATS_FILE_TMPDIR/daemon.log") -eq 2 ]]
	[[ $(repairs nft_table) -eq 2 ]]
	# bypass works again: new flows stay out of nf_conntrack
	in_ns "$G" conntrack -F >/dev/null 2>&1 || true
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 10 >/dev/null
	[[ $(in_ns "$G" conntrack -L -p tcp 2>/dev/null | grep -c 198.18.0.2) -eq 0 ]]
	# the table still there, its rule gone: the same, told apart
	in_ns "$G" nft flush chain inet ctaccel prerouting
	status_until '.nft_table and (.problems | length) == 0'
	grep -q "nft table inet ctaccel was changed behind ctaccel's back: restored" "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(repairs nft_table) -eq 3 ]]
	in_ns "$G" nft list table inet ctaccel | grep -q "meta mark & 0x01000000 == 0x01000000 notrack"
	# with no daemon: a rule added there is a problem until the next policy add
	daemon_stop
	in_ns "$G" nft add rule inet ctaccel output counter
	ctaccel_g -j status | jq -e '.nft_table and any(.problems[]; startswith("nft table inet ctaccel is not as ctaccel makes it for the mark in force (0x01000000/0x01000000"))'
	ctaccel_g policy add 198.18.9.0/24 >/dev/null
	ctaccel_g -j status | jq -e '.nft_table and (.problems | length) == 0'
	[[ $(in_ns "$G" nft list table inet ctaccel | grep -c notrack) -eq 2 ]]
	! in_ns "$G" nft list table inet ctaccel | grep -q counter
	# an older mark in both chains, as a mark change leaves it while sockets
	# hold it (bypass.bats): a problem, not a changed table; the daemon's
	# repair retires it once no socket holds it (here at once)
	ctaccel_g -j status | jq -e '(.problems | length) == 0'
	daemon_start --repair-interval 1
	old_mark_add
	status_until '(.problems | length) == 0'
	grep -q "nft table inet ctaccel: 1 older marks retired, no socket holds them; 0 kept" "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(repairs nft_table) -eq 1 ]]
	! grep -q "nft table inet ctaccel was changed behind ctaccel's back: restored" "$BATS_FILE_TMPDIR/daemon.log"
	in_ns "$G" nft list table inet ctaccel >"$BATS_TEST_TMPDIR/table"
	[[ $(grep -c notrack "$BATS_TEST_TMPDIR/table") -eq 2 && $(grep -c 0x04000000 "$BATS_TEST_TMPDIR/table") -eq 0 ]]
	daemon_stop
	# with no daemon: the problem says so
	old_mark_add
	ctaccel_g -j status | jq -e '[.problems[] | select(test("still matches the old mark 0x04000000/0x04000000"))] | length == 1'
	ctaccel_g set mark 0x01000000/0x01000000 2>&1 | grep -q "no longer matches mark 0x4000000/0x4000000: no socket holds it"
	ctaccel_g -j status | jq -e '(.problems | length) == 0'
	ctaccel_g policy del 198.18.9.0/24 >/dev/null
}

@test "a device deleted while attached: reported, forgotten, traffic on the others unharmed; programs put back" {
	in_ns "$G" ip link add vx0 type veth peer name vx1
	in_ns "$G" ip link set vx0 up
	ctaccel_g attach vgc vgs vx0 >/dev/null
	local ifx
	ifx=$(in_ns "$G" cat /sys/class/net/vx0/ifindex)
	in_ns "$G" ip link del vx0
	ctaccel_g -j status | jq -e --argjson i "$ifx" '.problems | any(test("ifindex \($i) is gone"))'
	daemon_start --repair-interval 1
	ctaccel_g -j status | jq -e '(.devices | length) == 2 and (.problems | length) == 0'
	grep -q "forgot 1 device record" "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(repairs device_record) -eq 1 ]]
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 10
	[[ $output == *"ok 10 fail 0"* ]]
	# a configured device that lost its programs (its links' pins removed)
	# gets them back
	rm "$PIN/link_tcx_$(in_ns "$G" cat /sys/class/net/vgs/ifindex)_"*
	status_until '.devices | all(.ingress and .egress)'
	grep -q "device vgs: programs re-attached" "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(repairs device) -eq 1 ]]
}

@test "two daemons started at once: one runs, the other refuses" {
	ctaccel_g unload >/dev/null 2>&1 || true
	local a b
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc --listen 127.0.0.1:9485 >"$BATS_TEST_TMPDIR/a.log" 2>&1 3>&- &
	a=$!
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc --listen 127.0.0.1:9486 >"$BATS_TEST_TMPDIR/b.log" 2>&1 3>&- &
	b=$!
	# the second refuses at once, not after the first one's load
	local alive=0 i
	sleep 1
	kill -0 "$a" 2>/dev/null && alive=$((alive + 1))
	kill -0 "$b" 2>/dev/null && alive=$((alive + 1))
	[[ $alive -le 1 ]]
	# the first is ready once it has loaded and attached (a load takes
	# seconds on a busy machine)
	for i in $(seq 150); do
		alive=0
		kill -0 "$a" 2>/dev/null && alive=$((alive + 1))
		kill -0 "$b" 2>/dev/null && alive=$((alive + 1))
		if ((alive == 1)) && { in_ns "$G" curl -sf -o /dev/null http://127.0.0.1:9485/readyz ||
			in_ns "$G" curl -sf -o /dev/null http://127.0.0.1:9486/readyz; }; then
			break
		fi
		sleep 0.1
	done
	[[ $alive -eq 1 ]]
	cat "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log" | grep -q "another ctaccel daemon"
	kill "$a" "$b" 2>/dev/null || true
	wait "$a" "$b" 2>/dev/null || true
	[[ $(ctaccel_g -j status | jq '.devices | length') -eq 1 ]]
}
