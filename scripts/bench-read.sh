#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Reading a full table: 1,000,000 flows in a pinned ctaccel (filled through the
# pinned ingress program), read with ctaccel's batch lookups, with bpftool, and
# with a get_next_key + lookup loop; alternating rounds, medians. Also the
# memory per tracked flow, beside nf_conntrack's object size, and what the
# kernel charges any hash map layout per element (memfloor).
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${FLOWS:-1000000}
ROUNDS=${ROUNDS:-3}
OUT=${OUTPUT:-.output}
PIN=/sys/fs/bpf/ctaccel-bench-$$

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
cleanup() { ./ctaccel --pin-path "$PIN" unload >/dev/null 2>&1 || true; rm -rf "$PIN"; }
trap cleanup EXIT

# flowfill makes flows without a reply: let them have the whole table
./ctaccel --pin-path "$PIN" load max-flows $((FLOWS + 1024)) unreplied-max $((FLOWS + 1024)) >/dev/null
echo "filling $FLOWS flows through the pinned ingress program..."
"$OUT/flowfill" fill "$PIN" "$FLOWS"

us() { date +%s%N; }
declare -a t_count t_show t_bpftool t_loop
for ((r = 0; r < ROUNDS; r++)); do
	a=$(us); n_count=$(./ctaccel --pin-path "$PIN" -j flow count | jq .flows); b=$(us)
	t_count+=($(((b - a) / 1000000)))
	a=$(us); ./ctaccel --pin-path "$PIN" -j flow show >/dev/null; b=$(us)
	t_show+=($(((b - a) / 1000000)))
	a=$(us); bpftool -j map dump pinned "$PIN/ctaccel_flows" >/dev/null; b=$(us)
	t_bpftool+=($(((b - a) / 1000000)))
	a=$(us); n_loop=$("$OUT/flowfill" loop "$PIN"); b=$(us)
	t_loop+=($(((b - a) / 1000000)))
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
m_count=$(med "${t_count[@]}"); m_show=$(med "${t_show[@]}")
m_bpftool=$(med "${t_bpftool[@]}"); m_loop=$(med "${t_loop[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a / (b ? b : 1)}'; }

memlock=$(bpftool -j map show pinned "$PIN/ctaccel_flows" | jq .bytes_memlock)
ct_obj=$(awk '$1 == "nf_conntrack" {print $4}' /proc/slabinfo 2>/dev/null || true)

echo
echo "Reading $FLOWS flows ($ROUNDS alternating rounds, medians, $(date -u +%F), kernel $(uname -r))"
printf '| %-44s | %8s | %12s | %12s |\n' reader ms "bpftool / it" "loop / it"
row() { printf '| %-44s | %8s | %12s | %12s |\n' "$1" "$2" "$(ratio "$m_bpftool" "$2")" "$(ratio "$m_loop" "$2")"; }
row "ctaccel -j flow count (batch)" "$m_count"
row "ctaccel -j flow show > /dev/null (batch)" "$m_show"
row "bpftool -j map dump pinned" "$m_bpftool"
row "get_next_key + lookup loop" "$m_loop"
echo "counts: ctaccel $n_count, loop $n_loop (expected $FLOWS)"
echo
echo "Memory: flow table memlock $memlock bytes for $FLOWS flows = $((memlock / FLOWS)) B per flow" \
	"(key 40 + value 96 + hash element and allocator overhead)"
# The floor of any hash map layout, asked of the kernel: is the goal (<= 128 B
# per IPv4 flow) within reach of the fields that exact accounting needs?
echo
"$OUT/memfloor" "$FLOWS"
echo "goal (cost issue): <= 128 B per tracked IPv4 flow at 1 M flows (memlock)"
if [[ -n $ct_obj ]]; then
	# Both tuple directions live inside the one object; the table's hash is
	# one 8-byte hlist_nulls_head per bucket, sized by nf_conntrack_buckets.
	ct_buckets=$(sysctl -n net.netfilter.nf_conntrack_buckets 2>/dev/null || echo 0)
	echo "nf_conntrack: $ct_obj B per object in its slab + hash $((ct_buckets * 8)) B" \
		"($ct_buckets buckets x 8 B) = $((ct_obj + ct_buckets * 8 / FLOWS)) B per flow at $FLOWS flows"
fi
