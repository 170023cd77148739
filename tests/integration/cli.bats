#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The CLI's lifecycle: idempotence, bad input, residue.

load lib

setup_file() {
	topo_names "cl$$"
	topo_up
}

teardown_file() {
	topo_down
}

pins_mode() {
	stat -c %a "$PIN"
	stat -c %a "$PIN"/* | sort -u
}

@test "load pins every map and program, 0600 in a 0700 directory" {
	ctaccel_g load max-flows 4096
	[[ -e $PIN/ctaccel_flows && -e $PIN/prog_ingress && -e $PIN/ctaccel_config ]]
	[[ "$(pins_mode | tr '\n' ' ')" == "700 600 " ]]
	run ctaccel_g load
	[[ $status -eq 0 ]]
	run ctaccel_g load max-flows 10
	[[ $status -eq 1 ]]
	[[ $(ctaccel_g -j status | jq .max_flows) -eq 4096 ]]
}

@test "attach is idempotent and a missing device changes nothing" {
	ctaccel_g attach vgc
	ctaccel_g attach vgc
	run ctaccel_g attach vgs nosuchdev0
	[[ $status -eq 1 ]]
	[[ $output == *"nosuchdev0"* ]]
	[[ -z $(hook_progs vgs ingress) ]]
	[[ $(ctaccel_g -j status | jq '.devices | length') -eq 1 ]]
	[[ -n $(hook_progs vgc ingress) ]]
	[[ -n $(hook_progs vgc egress) ]]
}

@test "bad input: exit code and one message naming the input" {
	run ctaccel_g flow show state NOPE
	[[ $status -eq 2 && $output == *NOPE* ]]
	run ctaccel_g flow show port 70000
	[[ $status -eq 2 && $output == *70000* ]]
	run ctaccel_g flow show addr 300.1.1.1
	[[ $status -eq 2 && $output == *300.1.1.1* ]]
	run ctaccel_g frobnicate
	[[ $status -eq 2 && $output == *frobnicate* ]]
	run ctaccel_g -j flow show state NOPE
	[[ $status -eq 2 ]]
	echo "$output" | jq -e '.error | test("NOPE")'
	run "$CTACCEL" --bogus-option
	[[ $status -eq 2 ]]
}

@test "settings: one spelling, decimal numbers, strict booleans; older spellings read with a warning" {
	ctaccel_g unload
	run ctaccel_g load max-flows 0x10
	[[ $status -eq 2 && $output == *"max-flows '0x10'"* && ${#lines[@]} -eq 1 ]]
	run ctaccel_g load local maybe
	[[ $status -eq 2 && $output == *"local 'maybe'"* ]]
	run ctaccel_g load m 5
	[[ $status -eq 2 && $output == *"ambiguous setting 'm'"* ]]
	run ctaccel_g load expiry-interval 0.0105
	[[ $status -eq 2 && $output == *"expiry-interval"* ]]
	[[ ! -e $PIN ]]
	# 010 is ten; an older spelling is read, and said once each
	run ctaccel_g load max-flows 010 timeout TIME_WAIT 30 timeout_close 7 local no expiry-interval 0.25
	[[ $status -eq 0 && $(grep -c warning <<<"$output") -eq 2 ]]
	[[ $output == *"'timeout' is an older spelling of 'timeout-STATE'"* ]]
	[[ $output == *"'timeout_close' is an older spelling of 'timeout-close'"* ]]
	ctaccel_g -j status |
		jq -e '.max_flows == 10 and .timeouts.TIME_WAIT == 30 and .timeouts.CLOSE == 7 and .local == false'
	[[ $(ctaccel_g -j expiry | jq .interval_ms) -eq 250 ]]
	run ctaccel_g expiry start interval 2
	[[ $status -eq 0 && $output == *"older spelling of 'expiry-interval'"* ]]
	[[ $(ctaccel_g -j expiry | jq .interval_ms) -eq 2000 ]]
	ctaccel_g unload
	ctaccel_g load max-flows 4096
}

@test "not root: a clear refusal, nothing read or changed" {
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTACCEL" --pin-path "$PIN" status
	[[ $status -eq 1 && $output == *"not permitted"* ]]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTACCEL" --pin-path "$PIN" unload
	[[ $status -eq 1 ]]
	[[ -e $PIN/ctaccel_flows ]]
	# and the pins themselves refuse a non-root reader
	run setpriv --reuid=65534 --regid=65534 --clear-groups bpftool map dump pinned "$PIN/ctaccel_flows"
	[[ $status -ne 0 ]]
}

@test "unique prefixes are accepted" {
	run ctaccel_g fl sh
	[[ $status -eq 0 ]]
	run ctaccel_g -j fl co
	[[ $status -eq 0 && $(echo "$output" | jq .flows) -eq 0 ]]
}

@test "unload removes filters and pins; twice is fine" {
	ctaccel_g attach vgs
	ctaccel_g unload
	[[ ! -e $PIN ]]
	[[ -z $(hook_progs vgc ingress) ]]
	[[ -z $(hook_progs vgs egress) ]]
	run ctaccel_g unload
	[[ $status -eq 0 ]]
}

@test "attach loads with defaults when nothing is loaded" {
	ctaccel_g attach vgc
	[[ $(ctaccel_g -j status | jq .max_flows) -eq 262144 ]]
	ctaccel_g unload
}
