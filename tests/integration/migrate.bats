#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Migrations of the flow table (docs/upgrading.md): `ctaccel set max-flows`
# moves every entry to a table of the new size while connections run through
# the gateway on both CPUs, and nothing is lost or counted twice: every flow
# equals nf_conntrack's (state, packets and bytes each way), every packet
# counted is in a flow or in the ended flows' totals, the gauges equal the
# table, and the traffic generators saw no failure.

load lib

setup_file() {
	topo_names "mg$$"
	topo_up
	oracle_on
	ctaccel_g load max-flows 4096
	ctaccel_g attach vgc vgs
}

teardown() {
	traffic_end
}

teardown_file() {
	rm -f "$BATS_FILE_TMPDIR/run"
	topo_down
}

counter() { ctaccel_g -j stats | jq ".counters.$1"; }

# gauges_equal_table: the per-state gauges add up to the table's entries, in a
# snapshot the gauges bracket unchanged (kernel expiry removes flows between
# the reads).
gauges_equal_table() {
	local before after flows
	before=$(ctaccel_g -j stats | jq -c .states)
	flows=$(ctaccel_g -j flow count | jq .flows)
	after=$(ctaccel_g -j stats | jq -c .states)
	[[ $before == "$after" ]] && jq -e --argjson n "$flows" '[.[]] | add == $n' <<<"$after" >/dev/null
}

@test "max-flows grows and shrinks under traffic on both CPUs: every flow kept, equal to nf_conntrack's" {
	local size moved0 busy0
	busy0=$(ctaccel_g -j stats | jq '.counters | .flow_busy + .cas_exhausted + .quiesce_timeouts')
	moved0=$(counter flows_migrated)
	# at most 1,000 connections of churn: shrinking below the flows
	# tracked is refused
	traffic_start 5
	# Flows in the table before the first migration.
	wait_until 100 '(( $(ctaccel_g -j flow count | jq .flows) > 50 ))'
	# Each size with the unreplied ring's: auto (a quarter, at least 64),
	# kept, or a number. Under emulation (CTACCEL_TEST_SCALE, tests/kernels),
	# where each migration verifies two program sets for half a minute, a
	# grow and a shrink.
	local sizes=(8192:auto:2048 4096:-:2048 65536:300:300 2048:auto:512)
	((${CTACCEL_TEST_SCALE:-1} > 1)) && sizes=(8192:auto:2048 2048:auto:512)
	for size in "${sizes[@]}"; do
		IFS=: read -r size ring slots <<<"$size"
		if [[ $ring == - ]]; then
			run ctaccel_g set max-flows "$size"
		else
			run ctaccel_g set max-flows "$size" unreplied-max "$ring"
		fi
		echo "$output"
		[[ $status -eq 0 ]]
		[[ $output == *"max-flows "*" -> $size flows"* && $output != *"not applied"* ]]
		[[ $output == *"migrated "*" flows to a table of $size"* ]]
		grep -o "migrated .*" <<<"$output" | sed 's/^/# /' >&3
		[[ $(ctaccel_g -j status | jq .max_flows) -eq $size ]]
		[[ $(ctaccel_g -j status | jq .unreplied_max) -eq $slots ]]
	done
	traffic_stop
	# The migrations moved the live flows, and lost none on the way.
	(($(counter flows_migrated) > moved0))
	echo "# packets that waited for their entry's move: $(counter migrate_waits)" >&3
	[[ $(counter migrations) -eq ${#sizes[@]} ]]
	[[ $(counter migrate_conflicts) -eq 0 ]]
	[[ $(ctaccel_g -j stats | jq '.counters | .flow_busy + .cas_exhausted + .quiesce_timeouts') -eq $busy0 ]]
	equal_to_conntrack
	wait_until 20 counted_once
	wait_until 20 gauges_equal_table
}

@test "max-flows below the flows tracked now is refused with the numbers, and nothing changes" {
	local flows
	flows=$(ctaccel_g -j flow count | jq .flows)
	((flows > 1))
	run ctaccel_g set max-flows 10 unreplied-max auto
	echo "$output"
	[[ $status -ne 0 ]]
	[[ $output =~ "max-flows 10 is below the "[0-9]+" flows tracked now" ]]
	[[ $(ctaccel_g -j status | jq .max_flows) -eq 2048 ]]
	equal_to_conntrack
}

@test "bpftool reads the migrated table under its pin" {
	[[ $(bpftool -j map show pinned "$PIN/ctaccel_flows" | jq .max_entries) -eq 2048 ]]
	# with its types: every entry formatted by field
	bpftool -j map dump pinned "$PIN/ctaccel_flows" | jq -e 'length > 0 and all(.[]; .formatted.value.ct != null)'
	# the same entries as ctaccel reads, in a snapshot expiry left alone
	wait_until 20 '[[ $(bpftool -j map dump pinned "$PIN/ctaccel_flows" | jq length) -eq $(ctaccel_g -j stats | jq "[.states[]] | add") ]]'
}

@test "a migration that cannot record itself rolls back: the old programs and table in place, every flow kept, and it says why" {
	local progs before started
	run in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20
	[[ $output == "ok 20 fail 0" ]]
	progs=$(ctaccel_g -j status | jq -c .programs)
	before=$(ctaccel_flows)
	started=$(counter migrations_started)
	# the record's name taken by a pin that is no record
	bpftool map pin pinned "$PIN/ctaccel_monitor" "$PIN/migration"
	run ctaccel_g set max-flows 8192
	echo "$output"
	[[ $status -ne 0 ]]
	[[ $output == *"record the migration in $PIN/migration: File exists"* ]]
	[[ $(ctaccel_g -j status | jq .max_flows) -eq 2048 ]]
	[[ $(ctaccel_g -j status | jq -c .programs) == "$progs" ]]
	[[ $(counter migrations_started) -eq $started ]]
	[[ $(ctaccel_flows) == "$before" ]]
	equal_to_conntrack
	# the name free again, the same change goes through
	rm "$PIN/migration"
	run ctaccel_g set max-flows 8192
	[[ $status -eq 0 ]]
	[[ ! -e $PIN/migration ]]
	[[ $(ctaccel_flows) == "$before" ]]
}

# A migration whose process is killed (CTACCEL_MIGRATE_STOP: right after
# the step it names) leaves its programs counting and its record; the next
# migration finishes it.
@test "a migration killed after any of its steps is finished by the next command, under traffic on both CPUs: every flow equal to nf_conntrack's, every packet counted once" {
	local step finish size done0 started0 busy0 outcome
	done0=$(counter migrations)
	started0=$(counter migrations_started)
	busy0=$(ctaccel_g -j stats | jq '.counters | .flow_busy + .cas_exhausted + .quiesce_timeouts')
	traffic_start 5
	wait_until 100 '(( $(ctaccel_g -j flow count | jq .flows) > 50 ))'
	for step in swapped:set moved:replace repinned:replace; do
		IFS=: read -r step finish <<<"$step"
		size=$(($(ctaccel_g -j status | jq .max_flows) == 4096 ? 8192 : 4096))
		CTACCEL_MIGRATE_STOP=$step run ctaccel_g set max-flows "$size"
		echo "$step: $output"
		[[ $status -eq 137 ]]
		[[ -d $PIN/migration ]]
		ctaccel_g -j status | jq -e 'any(.problems[]; startswith("a migration of the table runs, or was interrupted"))'
		# its programs go on counting: new connections are tracked
		outcome=$(counter tracked_packets)
		wait_until 50 '(( $(counter tracked_packets) > outcome ))'
		if [[ $finish == set ]]; then
			run ctaccel_g set max-flows "$size"
		else
			run ctaccel_g replace
		fi
		echo "$output"
		[[ $status -eq 0 ]]
		[[ $output == *"finishing a migration to a table of $size that was interrupted"* ]]
		[[ $output == *"finished the interrupted migration: "* ]]
		[[ ! -e $PIN/migration ]]
		[[ $(ctaccel_g -j status | jq .max_flows) -eq $size ]]
		ctaccel_g -j status | jq -e '[.problems[] | select(contains("migration"))] | length == 0'
	done
	traffic_stop
	# each migration counted begun and done once, whoever finished it
	[[ $(counter migrations_started) -eq $((started0 + 3)) ]]
	[[ $(counter migrations) -eq $((done0 + 3)) ]]
	[[ $(counter migrate_conflicts) -eq 0 ]]
	[[ $(ctaccel_g -j stats | jq '.counters | .flow_busy + .cas_exhausted + .quiesce_timeouts') -eq $busy0 ]]
	equal_to_conntrack
	wait_until 20 counted_once
	wait_until 20 gauges_equal_table
	# the killed processes' programs and tables are gone: one table
	wait_until 50 '[[ $(bpftool -j map show | jq "[.[] | select(.name == \"ctaccel_flows\")] | length") -eq 1 ]]'
}
