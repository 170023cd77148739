#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The gateway benchmark's own tool (tests/bench/gwcost.c): its arithmetic on
# rows whose answer is known, and its client and server on a namespace's
# loopback. The memory floor's tool (tests/bench/memfloor.c) against a loaded
# ctaccel's table. The benchmarks themselves are never part of make test.

load lib

# Named once, in setup_file: each test and teardown_file run in a process
# of their own, with a $$ of their own.
setup_file() {
	export NS=ctacc-bt$$
	export PIN=/sys/fs/bpf/ctaccel-test-bt$$
}

teardown_file() {
	ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	"$CTACCEL" --pin-path "$PIN" unload force >/dev/null 2>&1 || true
	rm -rf "$PIN"
}

# Rows of 9 cycles in which the machine runs at speed 1, 2 or 4 (every path's
# time per transaction scales with it): path a's gateway costs 2 units, b's 4.
rows() {
	local c f
	for c in 0 1 2 3 4 5 6 7 8; do
		f=$((1 << (c % 3)))
		echo "us $c direct $((10 * f))"
		echo "us $c a $((12 * f))"
		echo "us $c b $((14 * f))"
	done
	echo "tx direct 900 9.0 0"
	echo "tx a 750 9.0 0"
	echo "tx b 600 7.5 1"
}

@test "gwcost stats: costs are differences from the direct path within a cycle" {
	run "$OUT/gwcost" stats < <(rows)
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"cycles 9"* ]]
	# medians over cycles of 2f and 4f, f in {1, 2, 4}
	[[ $output == *"path a tx 750 fail 0 tps 83 gw_us 4.000"* ]]
	[[ $output == *"path b tx 600 fail 1 tps 80 gw_us 8.000"* ]]
	# the speed cancels within each cycle: the ratio is exact, and so is
	# every bootstrap resample of it
	[[ $output == *"ratio a b 0.500 ci 0.500 0.500"* ]]
	[[ $output == *"ratio b a 2.000 ci 2.000 2.000"* ]]
}

@test "gwcost stats: paths are paired within a cycle, not by their own medians" {
	# paired differences 20, 2, 2: median 2; the medians of each path
	# apart (30 - 20) would say 10
	run "$OUT/gwcost" stats <<-EOF
		us 0 direct 10
		us 0 a 30
		us 1 direct 20
		us 1 a 22
		us 2 direct 40
		us 2 a 42
	EOF
	echo "$output"
	[[ $output == *"path a tx 0 fail 0 tps 0 gw_us 2.000"* ]]
}

@test "gwcost stats: a cycle without the direct path counts for nothing" {
	run "$OUT/gwcost" stats < <(
		rows
		echo "us 99 a 1000"
	)
	[[ $output == *"cycles 10"* ]]
	[[ $output == *"path a tx 750 fail 0 tps 83 gw_us 4.000"* ]]
	run "$OUT/gwcost" stats <<<"us 0 a 5"
	[[ $status -ne 0 ]]
}

@test "gwcost runs rr, bulk and crr against its own server, every transaction answered" {
	local wl
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	ip -n "$NS" addr add 198.18.0.1/32 dev lo
	ip -n "$NS" addr add 198.18.0.2/32 dev lo
	ip netns exec "$NS" "$OUT/gwcost" serve 90 3>&- &
	sleep 0.3
	for wl in rr bulk crr; do
		run ip netns exec "$NS" "$OUT/gwcost" "$wl" 90 20 1 2 direct=198.18.0.1 other=198.18.0.2
		echo "$wl: $output"
		[[ $status -eq 0 ]]
		# slices of both paths, and transactions on both, none failed
		grep -q '^us [0-9]* direct ' <<<"$output"
		grep -q '^us [0-9]* other ' <<<"$output"
		grep -Eq '^tx direct [1-9][0-9]* [0-9.]+ 0$' <<<"$output"
		grep -Eq '^tx other [1-9][0-9]* [0-9.]+ 0$' <<<"$output"
		grep -q "^busy $wl " <<<"$output"
	done
	# a path nobody answers on fails, and says so
	run ip netns exec "$NS" "$OUT/gwcost" rr 91 20 1 1 direct=198.18.0.1 other=198.18.0.2
	[[ $status -ne 0 ]]
	[[ $output == *"gwcost: direct: connect"* ]]
}

# The row named $1 of memfloor's output $2: key and value bytes, then the
# figures without and with preallocation.
floor_row() {
	awk -F'|' -v l="$1" '{n = $2; gsub(/^ +| +$/, "", n)} n == l {print $3 + 0, $4 + 0, $5 + 0, $6 + 0}' <<<"$2"
}

@test "memfloor: ctaccel's layout costs what a loaded ctaccel table with as many flows costs" {
	local flows=20000 mem ours t e
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	# sized as memfloor sizes its maps: the flows and 1,024 more
	"$CTACCEL" --pin-path "$PIN" load max-flows $((flows + 1024)) unreplied-max $((flows + 1024)) >/dev/null
	"$OUT/flowfill" fill "$PIN" "$flows"
	[[ $("$CTACCEL" --pin-path "$PIN" -j flow count | jq .flows) -eq $flows ]]
	mem=$(bpftool -j map show pinned "$PIN/ctaccel_flows" | jq .bytes_memlock)
	ours=$(awk -v m="$mem" -v n="$flows" 'BEGIN {printf "%.1f", m / n}')
	run "$OUT/memfloor" "$flows"
	echo "$output"
	[[ $status -eq 0 ]]
	read -ra t <<<"$(floor_row "ctaccel's flow table today" "$output")"
	read -ra e <<<"$(floor_row "IPv4 key, the fields exact accounting needs" "$output")"
	echo "loaded table: $ours B per flow; memfloor: today ${t[*]}, IPv4 exact ${e[*]}"
	[[ ${t[2]} == "$ours" ]]
	# same element count and buckets: the rows differ by their key and
	# value bytes alone
	[[ $(awk -v a="${t[2]}" -v b="${e[2]}" 'BEGIN {print a - b}') -eq \
		$((t[0] + t[1] - e[0] - e[1])) ]]
}
