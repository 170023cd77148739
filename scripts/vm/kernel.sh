#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# kernel.sh NAME DIR: fetch one of the kernels ctaccel is proven on from
# Debian's archive and unpack it under DIR/NAME (vmlinuz, config, modules with
# their modules.dep). Prints that directory. NAME is:
#   6.1   Debian 12's own kernel (bookworm, bookworm-security)
#   6.12  Debian 12's backported kernel (bookworm-backports; else Debian 13's)
# The package is the newest the suite's linux-image-amd64 depends on.
#
# The archive is reached the way this host's apt reaches it: its own sources
# (whatever files and format, and whatever mirror, proxy or credentials its
# apt.conf names), read back with `apt-get indextargets`, never a hard-coded
# mirror first; deb.debian.org is the last of the tries. apt runs with a
# private state under DIR/.apt-NAME, so the host's lists and cache are not
# touched. A try that yields no package says why (apt's own W:/E: lines) and
# the next one is taken. A kernel already unpacked is reused.
set -euo pipefail
name=$1
# apt reads a relative Dir:: path under its own /var/lib/apt or /etc/apt,
# not the working directory
top=$(realpath -m "$2")

case $name in
6.1 | 6.12) ;;
*)
	echo "ctaccel: kernel $name: unknown (6.1, 6.12)" >&2
	exit 2
	;;
esac
dir=$top/$name
apt=$top/.apt-$name
if [[ -e $dir/ready ]]; then
	echo "$dir"
	exit 0
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=
[[ -r $keyring ]] && signed="[signed-by=$keyring] "
# The host's archive URIs serving bookworm, as its apt reads them.
# shellcheck disable=SC2016 # apt expands $(FIELD), not the shell
host_uris=$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
	awk '$2 == "bookworm" {print $1}' | sort -u)

# Each try: a label, then the sources.list text ("" = the host's own sources).
tries=()
add_try() {
	tries+=("$1" "$2")
}
lines() { # lines SUITE [URI...]: one deb line per URI
	local suite=$1 u
	shift
	for u in "$@"; do
		echo "deb $signed$u $suite main"
	done
}
case $name in
6.1)
	add_try "this host's apt sources" ""
	add_try "deb.debian.org" "$(lines bookworm http://deb.debian.org/debian)
$(lines bookworm-security http://deb.debian.org/debian-security)"
	;;
6.12)
	# shellcheck disable=SC2086 # one URI per word
	[[ -n $host_uris ]] && add_try "bookworm-backports at this host's mirror" "$(lines bookworm-backports $host_uris)"
	# shellcheck disable=SC2086
	[[ -n $host_uris ]] && add_try "trixie at this host's mirror" "$(lines trixie $host_uris)"
	add_try "bookworm-backports at deb.debian.org" "$(lines bookworm-backports http://deb.debian.org/debian)"
	;;
esac

# The package names its series: linux-image-6.1.0-57-amd64,
# linux-image-6.12.95+deb12-amd64.
series="^linux-image-${name//./\\.}[.-]"
why=()
pkg=
for ((i = 0; i < ${#tries[@]}; i += 2)); do
	label=${tries[i]}
	src=${tries[i + 1]}
	rm -rf "$apt"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	opts=(-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o APT::Sandbox::User=root -o Debug::NoLocking=1)
	if [[ -n $src ]]; then
		echo "$src" >"$apt/sources.list"
		opts+=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null)
	fi
	apt-get "${opts[@]}" -q update >"$apt/update.log" 2>&1 || true
	cand=$(apt-cache "${opts[@]}" depends linux-image-amd64 2>>"$apt/update.log" |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}') || true
	if [[ $cand =~ $series ]]; then
		pkg=$cand
		break
	fi
	err=$(grep -E '^(W|E|Err):' "$apt/update.log" | head -n2 | tr '\n' ' ')
	why+=("$label: ${cand:+got $cand, not $name; }${err:-no linux-image-amd64}")
done
if [[ -z $pkg ]]; then
	for w in "${why[@]}"; do
		echo "ctaccel: kernel $name: $w" >&2
	done
	echo "ctaccel: kernel $name: no try reached a $name kernel package (${#why[@]} tried, above)" >&2
	exit 1
fi

rm -rf "$dir" && mkdir -p "$dir"
(cd "$apt" && rm -f ./*.deb && apt-get "${opts[@]}" -qq download "$pkg" >&2)
dpkg-deb -x "$apt"/"$pkg"_*.deb "$dir/root"
rm -f "$apt"/*.deb
version=$(ls "$dir/root/lib/modules")
depmod -b "$dir/root" "$version"
ln -s "root/boot/vmlinuz-$version" "$dir/vmlinuz"
echo "$version" >"$dir/version"
echo "$pkg" >"$dir/package"
touch "$dir/ready"
echo "$dir"
