#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# No cluster runs here: the deployment files are parsed and checked for what
# the daemon needs from them.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PY=/usr/bin/python3

@test "the DaemonSet manifest parses and has what the daemon needs" {
	$PY - "$ROOT/deploy/k8s/ctaccel.yaml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = {d["kind"]: d for d in docs}
assert set(kinds) == {"ConfigMap", "DaemonSet"}, kinds.keys()
spec = kinds["DaemonSet"]["spec"]["template"]["spec"]
assert spec["hostNetwork"] is True
assert spec["priorityClassName"] == "system-node-critical"
# privileged only for Bidirectional propagation, which Kubernetes allows
# privileged containers alone; its one job is the bpffs mount
init = spec["initContainers"]
assert len(init) == 1 and init[0]["securityContext"] == {"privileged": True}
assert [m["mountPropagation"] for m in init[0]["volumeMounts"]] == ["Bidirectional"]
assert "mount -t bpf" in " ".join(init[0]["command"])
main = [c for c in spec["containers"] if c["name"] == "ctaccel"][0]
# probes: their paths and explicit timeouts, on the listener's port
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    p = main[probe]
    assert p["httpGet"]["path"] == path and p["httpGet"]["port"] == 9474, p
    assert 1 <= p["timeoutSeconds"] < p["periodSeconds"], p
    assert "failureThreshold" in p
# the daemon container: only the capabilities it needs, nothing else
sc = main["securityContext"]
assert sc["capabilities"] == {"drop": ["ALL"], "add": ["BPF", "NET_ADMIN", "PERFMON"]}, sc
assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
assert "privileged" not in sc
# the sidecar: not root, no capabilities
side = [c for c in spec["containers"] if c["name"] == "policy-sidecar"][0]
ssc = side["securityContext"]
assert ssc["runAsUser"] != 0 and ssc["runAsNonRoot"] is True
assert ssc["capabilities"] == {"drop": ["ALL"]} and ssc["allowPrivilegeEscalation"] is False
assert ssc["readOnlyRootFilesystem"] is True and ssc["seccompProfile"] == {"type": "RuntimeDefault"}
# it reaches the 0660 socket through the pod's fsGroup, the volume's group
assert spec["securityContext"]["fsGroup"] == ssc["runAsGroup"]
assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
# the read listener binds the node's own address, not every address
env = {e["name"]: e for e in main.get("env", [])}
assert env["HOST_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
cmd = main["command"]
assert cmd[cmd.index("--listen") + 1] == "$(HOST_IP):9474", cmd
ann = kinds["DaemonSet"]["spec"]["template"]["metadata"]["annotations"]
assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9474"
assert "/v1/policy" in " ".join(side["command"])
# the sidecar changes policy through the control socket, not loopback TCP,
# with the Content-Type the daemon requires
assert "--unix-socket /run/ctaccel/api/control.sock" in " ".join(side["command"])
assert "Content-Type: application/json" in " ".join(side["command"])
conf = kinds["ConfigMap"]["data"]["ctaccel.conf"]
assert "control-listen = unix:/run/ctaccel/api/control.sock" in conf
assert "unix-group-access = on" in conf
vmounts = {m["name"]: m["mountPath"] for m in side["volumeMounts"]}
assert vmounts["control"] == "/run/ctaccel"
# the kubelet probes the pod's address, which on the host network is the node's
assert not any(l.strip().startswith("listen") for l in conf.splitlines())
assert all("host" not in main[p]["httpGet"] for p in ("livenessProbe", "readinessProbe"))
# sock_ops goes to the host's cgroup v2 root, not the container's
vols = {v["name"]: v for v in spec["volumes"]}
assert vols["cgroup"]["hostPath"]["path"] == "/sys/fs/cgroup"
mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
assert "cgroup = " + mounts["cgroup"] in conf
# live upgrade: the old pod's datapath stays, one daemon per node
ru = kinds["DaemonSet"]["spec"]["updateStrategy"]["rollingUpdate"]
assert ru["maxSurge"] == 0 and ru["maxUnavailable"] == 1
import json
json.loads(kinds["ConfigMap"]["data"]["policy.json"])
PYEOF
}

@test "the ConfigMap's daemon config is accepted by ctaccel" {
	local conf vol
	conf=$(mktemp)
	# the pod's control volume (/run/ctaccel), a directory that exists
	vol=$(mktemp -d)
	$PY -c 'import sys, yaml; d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x["kind"] == "ConfigMap"][0]; print(d["data"]["ctaccel.conf"])' "$ROOT/deploy/k8s/ctaccel.yaml" | sed "s/^devices = .*/devices = lo/; s|pin-path = .*|pin-path = /sys/fs/bpf/ctaccel-test-conf|; s|unix:/run/ctaccel/|unix:$vol/|" >"$conf"
	grep -q "^control-listen = unix:$vol/" "$conf"
	# every key is read and checked as the daemon would, and nothing starts
	run "$ROOT/ctaccel" daemon --config "$conf" --check-config
	rm -rf "$conf" "$vol"
	[[ $status -eq 0 && $output == "configuration ok" ]]
	[[ ! -e /sys/fs/bpf/ctaccel-test-conf ]]
}

@test "the Grafana dashboard parses and uses only metrics the daemon exports" {
	local m base
	jq -e '.panels | length > 0' "$ROOT/deploy/grafana/ctaccel-dashboard.json"
	for m in $(jq -r '.panels[].targets[].expr' "$ROOT/deploy/grafana/ctaccel-dashboard.json" | grep -Eo 'ctaccel_[a-z_]+' | sort -u); do
		base=${m#ctaccel_}
		base=${base%_total}
		# a datapath counter (X-macro in the shared header) or a name the daemon writes
		grep -q "X($base," "$ROOT/include/ctaccel.h" || grep -rq "\"$m[ {\"]" "$ROOT/user/daemon/" || {
			echo "the daemon exports no $m"
			return 1
		}
	done
}

@test "every dashboard query keeps the series its legend names" {
	# rate() drops the metric name and `a or b` keeps one series per label
	# set: a panel built so shows one blank-legend line
	jq -e '[.panels[].targets[] | select((.expr | test(" or ")) or (.legendFormat | test("__name__")))] | length == 0' \
		"$ROOT/deploy/grafana/ctaccel-dashboard.json"
	# the expiry panel's title promises the walk time and the lag: a query
	# for each
	jq -e '[.panels[] | select(.title | test("walk time")) | .targets[].expr | select(test("expiry_busy_seconds_total|expiry_last_pass_seconds"))] | length >= 1' \
		"$ROOT/deploy/grafana/ctaccel-dashboard.json"
	jq -e '[.panels[] | select(.title | test("since the last check")) | .targets[].expr | select(test("expiry_since_last_check_seconds"))] | length >= 1' \
		"$ROOT/deploy/grafana/ctaccel-dashboard.json"
}

@test "the example config is accepted, and starting with it fails only on its device names" {
	run "$ROOT/ctaccel" daemon --config "$ROOT/docs/ctaccel.conf.example" --check-config
	[[ $status -eq 0 && $output == "configuration ok" ]]
	run "$ROOT/ctaccel" daemon --config "$ROOT/docs/ctaccel.conf.example" --pin-path /sys/fs/bpf/ctaccel-test-ex
	[[ $status -ne 0 && $output == *"device eth"* ]]
	[[ ! -e /sys/fs/bpf/ctaccel-test-ex ]]
}

@test "make install: binary, unit and config; systemd-analyze verify is clean on the installed files" {
	local root
	root=$(mktemp -d)
	make -C "$ROOT" --no-print-directory install DESTDIR="$root" >/dev/null
	[[ -x $root/usr/local/sbin/ctaccel && -f $root/etc/ctaccel/ctaccel.conf ]]
	[[ -f $root/etc/ctaccel/ctaccel.conf.example ]]
	grep -q '^RuntimeDirectory=ctaccel$' "$root/usr/local/lib/systemd/system/ctaccel.service"
	# the targets and /bin/kill the unit refers to, under the same root
	mkdir -p "$root/usr/lib/systemd" "$root/bin"
	cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
	cp /bin/kill "$root/bin/"
	run systemd-analyze verify --man=no --root="$root" /usr/local/lib/systemd/system/ctaccel.service
	rm -rf "$root"
	echo "$output"
	[[ $status -eq 0 && -z $output ]]
}

@test "the unit is hardened: systemd-analyze security scores 2.0 or less, and it has a watchdog" {
	local unit="$ROOT/scripts/ctaccel.service" score
	run systemd-analyze security --offline=yes --no-pager "$unit"
	echo "$output" | tail -1
	[[ $status -eq 0 ]]
	score=$(sed -n 's/.*Overall exposure level for ctaccel.service: \([0-9.]*\) .*/\1/p' <<<"$output")
	[[ -n $score ]] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'
	# systemd's own threshold (tenths) agrees
	systemd-analyze security --offline=yes --no-pager --threshold=20 "$unit" >/dev/null
	# the daemon notifies (Type=notify) and is restarted when its loop stops
	# sending WATCHDOG=1; only the capabilities it needs, without new ones
	grep -qx 'Type=notify' "$unit"
	grep -Eqx 'WatchdogSec=[1-9][0-9]*' "$unit"
	grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON' "$unit"
	grep -qx 'NoNewPrivileges=yes' "$unit"
	grep -qx 'Restart=on-failure' "$unit"
}

@test "--check-config refuses a control socket whose directory the daemon cannot make" {
	# a read-only /run, as ProtectSystem=strict without RuntimeDirectory= gives
	run unshare -m sh -c 'mount -t tmpfs -o ro tmpfs /mnt && "$1" daemon --control-listen unix:/mnt/ctaccel/control.sock --check-config' sh "$ROOT/ctaccel"
	[[ $status -eq 2 && $output == *"/mnt/ctaccel is missing and cannot be made: Read-only file system"* ]]
	# where it can, the daemon makes it
	run "$ROOT/ctaccel" daemon --control-listen unix:/run/ctaccel-test-$$/control.sock --check-config
	[[ $status -eq 0 && $output == "configuration ok" ]]
}

# The image is built from this build, offline. No container runtime can run
# here (crun may not set rlimits in this sandbox), so the image's own binary
# runs from its mounted root with chroot: only its files are used.
@test "make image: a self-contained image whose ctaccel runs" {
	local tag=localhost/ctaccel-test:$$ c mnt
	run bash "$ROOT/scripts/image.sh" "$tag"
	[[ $status -eq 0 ]]
	c=$(buildah from "$tag")
	mnt=$(buildah mount "$c")
	run chroot "$mnt" /usr/local/sbin/ctaccel -V
	local version=$output
	# what the manifest's init container runs (the image has no /dev: the
	# runtime provides it)
	run chroot "$mnt" /bin/sh -c 'command -v grep && command -v mount && echo tools'
	local tools=${lines[2]:-}
	buildah umount "$c" >/dev/null
	buildah rm "$c" >/dev/null
	buildah inspect --type image "$tag" | jq -r '.OCIv1.config.Entrypoint[0]' >"$BATS_TEST_TMPDIR/ep"
	buildah rmi "$tag" >/dev/null
	[[ $version == "ctaccel 0.1.0 (abi "* ]]
	[[ $tools == tools ]]
	[[ $(cat "$BATS_TEST_TMPDIR/ep") == /usr/local/sbin/ctaccel ]]
}
