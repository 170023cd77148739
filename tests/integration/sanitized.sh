#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The CLI, daemon and agent suites again, against the ASan/UBSan build of ctaccel
# (.output/fuzz/ctaccel), in TAP; one more test at the end passes only if no
# process of that build reported anything (leaks included).
set -u
cd "$(dirname "$0")/../.."
OUT=${OUTPUT:-.output}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export CTACCEL=$PWD/$OUT/fuzz/ctaccel
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
tap=$(bats --tap tests/integration/cli.bats tests/integration/daemon.bats tests/integration/agent.bats)
plan=$(sed -n 's/^1\.\.\([0-9]\+\)$/\1/p' <<<"$tap" | head -n1)
echo "1..$((${plan:-0} + 1))"
grep -v '^1\.\.' <<<"$tap" | sed 's/^\(\(not \)\?ok [0-9]* \)/\1[asan] /'
if compgen -G "$logs/*" >/dev/null; then
	echo "not ok $((${plan:-0} + 1)) [asan] no sanitizer reports"
	head -n 40 "$logs"/* | sed 's/^/# /'
else
	echo "ok $((${plan:-0} + 1)) [asan] no sanitizer reports"
fi
