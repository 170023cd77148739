#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The container image, built here and offline from this build: buildah from
# scratch, the ctaccel binary with the shared libraries it links (as ldd
# resolves them on this machine) and the dynamic loader, and busybox for the
# shell tools the Kubernetes init container runs (sh, grep, mount).
#
#   scripts/image.sh [TAG]      (default ctaccel:VERSION)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's/^#define CTACCEL_VERSION "\(.*\)"/\1/p' include/ctaccel.h)
TAG=${1:-ctaccel:$VERSION}
[[ -x ctaccel ]] || { echo "ctaccel: image: build first (make)" >&2; exit 1; }

c=$(buildah from scratch)
trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$c")
install -D -m 0755 ctaccel "$mnt/usr/local/sbin/ctaccel"
# Every library and the loader under the path the binary asks for.
ldd ctaccel | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
	while read -r lib; do
		install -D -m 0755 "$(readlink -f "$lib")" "$mnt$lib"
	done
install -D -m 0755 /bin/busybox "$mnt/bin/busybox"
for tool in sh grep mount ls cat; do
	ln -sf busybox "$mnt/bin/$tool"
done
install -d -m 0755 "$mnt/etc/ctaccel" "$mnt/run" "$mnt/tmp" "$mnt/sys/fs/bpf" "$mnt/proc"
install -m 0644 docs/ctaccel.conf.example "$mnt/etc/ctaccel/ctaccel.conf.example"
buildah umount "$c" >/dev/null
buildah config --entrypoint '["/usr/local/sbin/ctaccel"]' \
	--cmd '["daemon", "--config", "/etc/ctaccel/ctaccel.conf"]' \
	--label "org.opencontainers.image.version=$VERSION" \
	--label "org.opencontainers.image.title=ctaccel" "$c"
buildah commit --quiet "$c" "$TAG" >/dev/null
echo "ctaccel: image $TAG built"
