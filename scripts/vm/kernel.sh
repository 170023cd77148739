#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# kernel.sh NAME DIR: fetch one of the kernels ctaccel is proven on from
# Debian's archive and unpack it under DIR/NAME (vmlinuz, config, modules with
# their modules.dep). Prints that directory. NAME is:
#   6.1   Debian 12's own kernel (bookworm, bookworm-security)
#   6.12  Debian 12's backported kernel (bookworm-backports; Debian 13's series)
# The package is the newest the suite's linux-image-amd64 depends on. apt runs
# with a private state under DIR, so the host's sources and lists are not
# touched; the mirror is the host's own (its debian.sources), else
# deb.debian.org. A kernel already unpacked is reused.
set -euo pipefail
name=$1
top=$2

mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security
if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
	m=$(awk '$1 == "URIs:" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	s=$(awk '$1 == "URIs:" && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	mirror=${m:-$mirror}
	security=${s:-$security}
fi
case $name in
6.1) lists="deb $mirror bookworm main
deb $security bookworm-security main" ;;
6.12) lists="deb $mirror bookworm-backports main" ;;
*)
	echo "ctaccel: kernel $name: unknown (6.1, 6.12)" >&2
	exit 2
	;;
esac

dir=$top/$name
apt=$top/.apt-$name
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir"
echo "$lists" >"$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root
	-o Debug::NoLocking=1 -qq)

if [[ ! -e $dir/ready ]]; then
	apt-get "${opts[@]}" update >&2
	pkg=$(apt-cache "${opts[@]}" depends linux-image-amd64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
	[[ -n $pkg ]] || {
		echo "ctaccel: kernel $name: no linux-image package in: $lists" >&2
		exit 1
	}
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$apt" && rm -f ./*.deb && apt-get "${opts[@]}" download "$pkg" >&2)
	dpkg-deb -x "$apt"/"$pkg"_*.deb "$dir/root"
	rm -f "$apt"/*.deb
	version=$(ls "$dir/root/lib/modules")
	depmod -b "$dir/root" "$version"
	ln -s "root/boot/vmlinuz-$version" "$dir/vmlinuz"
	echo "$version" >"$dir/version"
	echo "$pkg" >"$dir/package"
	touch "$dir/ready"
fi
echo "$dir"
