#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make test-kernels: boot each kernel ctaccel is proven on in a qemu virtual
# machine (scripts/vm/) and run the core suite (suite.sh) inside it, against
# this checkout's build. Prints each kernel's TAP, its tests named
# "[KERNEL] file: test", then one line per kernel "KERNEL: N passed, N
# failed", then the plan. KERNELS (default "6.1 6.12") picks the kernels;
# CTACCEL_KERNEL_SUITE the files (suite.sh).
set -u
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-.output}
kernels=${KERNELS:-6.1 6.12}
# Under TCG a kernel's suite takes minutes; this bounds a hung guest.
limit=${CTACCEL_VM_TIMEOUT:-1500}
# What each kernel must get (kernel.bats): learned from its BTF at load,
# known here from its release.
declare -A paths=(
	[6.1]=checksum_status=helpers,route_memo=none,fib_lookup=skip_neigh,expiry=timer,tc_attach=clsact
	[6.12]=checksum_status=kern_ctx,route_memo=rt_genid,fib_lookup=skip_neigh,expiry=workqueue,tc_attach=tcx
)
n=0
summary=()
for k in $kernels; do
	export CTACCEL_EXPECT_PATHS=${paths[$k]:-}
	dir=$OUTPUT/vm/$k
	rm -rf "$dir"
	mkdir -p "$dir"
	if ! kdir=$(bash scripts/vm/kernel.sh "$k" "$OUTPUT/kernels" 2>"$dir/fetch.err"); then
		n=$((n + 1))
		# every try's own reason, as apt gave it (kernel.sh)
		echo "not ok $n [$k] the kernel package could not be fetched:"
		sed 's/^/#   /' "$dir/fetch.err"
		summary+=("$k: 0 passed, 1 failed (no kernel)")
		continue
	fi
	start=$SECONDS
	bash scripts/vm/run.sh "$kdir" "$dir" tests/kernels/suite.sh "$limit" >/dev/null 2>"$dir/run.err"
	rc=$?
	ok=0
	bad=0
	while IFS= read -r line; do
		case $line in
		"ok "*)
			n=$((n + 1))
			ok=$((ok + 1))
			echo "$line" | sed -E "s/^ok [0-9]+ /ok $n [$k $(cat "$kdir/version")] /"
			;;
		"not ok "*)
			n=$((n + 1))
			bad=$((bad + 1))
			echo "$line" | sed -E "s/^not ok [0-9]+ /not ok $n [$k $(cat "$kdir/version")] /"
			;;
		1..*) ;;
		*) echo "$line" ;;
		esac
	done < <(cat "$dir/log" 2>/dev/null)
	# suite.sh itself ends with 0: anything else is a guest that stopped
	# or hung (124: CTACCEL_VM_TIMEOUT), whose remaining tests never ran
	if ((rc != 0)); then
		n=$((n + 1))
		bad=$((bad + 1))
		echo "not ok $n [$k] the virtual machine did not finish its suite (exit $rc):" \
			"$(tail -n3 "$dir/run.err" | tr '\n' ' ')"
	fi
	summary+=("$k ($(cat "$kdir/version")): $ok passed, $bad failed, $((SECONDS - start)) s")
done
for s in "${summary[@]}"; do
	echo "# $s"
done
echo "1..$n"
