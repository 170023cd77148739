#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Install the Debian packages ctaccel builds and tests with. Idempotent: apt is
# only called when a package is missing, so repeated runs are quick and offline.
set -euo pipefail

pkgs=(
	make gcc clang llvm pkg-config libclang-rt-14-dev
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libcmocka-dev
	iproute2 nftables conntrack bats jq util-linux curl python3-yaml python3 python3-scapy hping3 tmux strace procps
	libnftables-dev libjansson-dev libmicrohttpd-dev libinih-dev
	buildah busybox-static systemd prometheus
	coccinelle clang-tools binutils tcpdump
	qemu-system-x86 cpio kmod xz-utils
)

# `deps.sh bench` adds what only the benchmarks need (the chart); `deps.sh profile`
# what scripts/profile-gateway.sh needs (perf).
if [[ ${1:-} == bench ]]; then
	pkgs+=(gnuplot-nox)
fi
if [[ ${1:-} == profile ]]; then
	pkgs+=(linux-perf)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: deps: missing packages (${missing[*]}); run as root" >&2
	exit 1
fi

echo "ctaccel: deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
