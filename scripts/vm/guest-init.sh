#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# PID 1 of run.sh's guest, on the overlay of the host's root: mount what the
# host's own init would (bpffs, cgroup2, tmpfs), run /run/ctaccel-vm/cmd with
# its output in log and its status in rc, and power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
# A fresh /tmp; a checkout under it (CI may clone there) is carried over
# the new tmpfs, so SCRIPT still finds it at the same path.
src=$(cat /run/ctaccel-vm/checkout)
if [[ $src == /tmp/* ]]; then
	mkdir -p /run/ctaccel-checkout && mount --bind "$src" /run/ctaccel-checkout
fi
mount -t tmpfs -o mode=1777 tmp /tmp
if [[ $src == /tmp/* ]]; then
	mkdir -p "$src" && mount --move /run/ctaccel-checkout "$src"
fi
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# /run keeps the results' mount: a tmpfs beside it for the rest
for d in netns lock ctaccel; do mkdir -p "/run/$d"; done
mount -t tmpfs -o mode=0755 run /run/netns 2>/dev/null
echo /sbin/modprobe >/proc/sys/kernel/modprobe
# What the development machine's kernel has built in and the tests read
# before anything would load it (nf_conntrack's sysctls); the rest loads
# on demand.
modprobe -a nf_conntrack nf_conntrack_netlink veth sch_ingress inet_diag tcp_diag udp_diag
hostname ctaccel-vm
ip link set lo up
ulimit -l unlimited
cd /run/ctaccel-vm
rc=0
bash ./cmd >log 2>&1 || rc=$?
echo "$rc" >rc.tmp && mv rc.tmp rc
sync
echo o >/proc/sysrq-trigger
sleep 10
