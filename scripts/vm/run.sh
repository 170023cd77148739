#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# run.sh KDIR OUT SCRIPT [TIMEOUT]: boot the kernel unpacked in KDIR (kernel.sh)
# in a qemu virtual machine over this machine's own root, read-only, with a
# tmpfs over it, and run the bash SCRIPT there as root (guest-init.sh). OUT
# (created) receives the guest's console (console.log), what SCRIPT printed
# (log) and its exit status (rc); SCRIPT starts in the current directory,
# with the CTACCEL_* variables of the environment; run.sh exits with that status, or 124 when
# the guest did not finish within TIMEOUT seconds (default 1200).
#
# No image is built: the guest sees this checkout, its build and the test
# tools at the same paths as here. The guest gets 2 CPUs (per-CPU code is
# exercised on both) under TCG: KVM guests failed on these machines (see
# docs/kernels.md).
set -euo pipefail
kdir=$(realpath "$1")
out=$2
script=$3
limit=${4:-1200}
here=$(dirname "$(realpath "$0")")
version=$(cat "$kdir/version")

mkdir -p "$out"
out=$(realpath "$out")
rm -f "$out/rc" "$out/log" "$out/console.log"
# guest-init.sh keeps this directory reachable over its own mounts
echo "$PWD" >"$out/checkout"
# The guest starts in this directory, with this shell's CTACCEL_* variables.
{
	printf 'cd %q || exit 1\n' "$PWD"
	export -p | grep -E '^declare -x CTACCEL_[A-Z_]*=' || true
	printf 'exec bash %q\n' "$(realpath "$script")"
} >"$out/cmd"

# The initramfs: busybox and the modules that reach the root (virtio, 9p,
# overlay), in modprobe's order; the guest's modprobe does the rest.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/mod" "$work/proc" "$work/sys" "$work/dev" "$work/lower" "$work/upper" "$work/new"
cp /usr/bin/busybox "$work/bin/busybox"
for a in sh mount mkdir insmod switch_root cat echo sleep; do ln -s busybox "$work/bin/$a"; done
i=0
: >"$work/mod/order"
declare -A seen
while read -r _ ko _; do
	[[ -z ${seen[$ko]:-} ]] || continue
	seen[$ko]=1
	i=$((i + 1))
	case $ko in
	*.xz) xz -dc "$ko" >"$work/mod/$i.ko" ;;
	*.zst) zstd -qdc "$ko" >"$work/mod/$i.ko" ;;
	*) cp "$ko" "$work/mod/$i.ko" ;;
	esac
	echo "$i.ko" >>"$work/mod/order"
done < <(modprobe -d "$kdir/root" -S "$version" --show-depends -a virtio_pci 9pnet_virtio 9p overlay |
	awk '$1 == "insmod"')
cat >"$work/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in \$(cat /mod/order); do insmod /mod/\$m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose root /lower || exec sh
mount -t tmpfs -o mode=0755 upper /upper
mkdir /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w root /new || exec sh
mkdir -p /new/lib/modules
mount -t 9p -o trans=virtio,version=9p2000.L,ro modules /new/lib/modules
mkdir -p /new/run/ctaccel-vm
mount -t 9p -o trans=virtio,version=9p2000.L out /new/run/ctaccel-vm
exec switch_root /new /bin/bash $here/guest-init.sh
INIT
chmod +x "$work/init"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd"

rc=0
timeout "$limit" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 3072 \
	-nographic -no-reboot -serial "file:$out/console.log" -monitor none \
	-kernel "$kdir/vmlinuz" -initrd "$work/initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4" \
	-virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$kdir/root/lib/modules,mount_tag=modules,security_model=none,readonly=on" \
	-virtfs "local,path=$out,mount_tag=out,security_model=none" \
	-nic none </dev/null >/dev/null 2>"$out/qemu.err" || rc=$?
if ((rc == 124)); then
	echo "ctaccel: vm $version: no answer within $limit s" >&2
	exit 124
fi
if [[ ! -s $out/rc ]]; then
	echo "ctaccel: vm $version: the guest stopped before its script ended (qemu: $rc); console:" >&2
	tail -n 30 "$out/console.log" >&2
	exit 1
fi
exit "$(cat "$out/rc")"
