#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The Kubernetes scrape path and the Grafana dashboard against a real
# Prometheus server (Debian's): the daemon runs with the manifest's own
# configuration and flags in the gateway namespace, the gateway's address as
# the node's (status.hostIP), and is scraped there, as a scraper reaches a
# hostNetwork pod on its node's address;
# every dashboard query then returns the series its legend names.

load lib

PORT=9474

setup_file() {
	topo_names "pm$$"
	topo_up
	local conf="$BATS_FILE_TMPDIR/ctaccel.conf" cg flags
	cg=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
	# the manifest's configuration, with this machine's devices, pins and cgroup
	/usr/bin/python3 -c 'import sys, yaml; d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x["kind"] == "ConfigMap"][0]; print(d["data"]["ctaccel.conf"])' \
		"$ROOT/deploy/k8s/ctaccel.yaml" |
		sed "s/^devices = .*/devices = vgc vgs/; s|^pin-path = .*|pin-path = $PIN|; s|^cgroup = .*|cgroup = $cg|; s|unix:/run/ctaccel/|unix:$BATS_FILE_TMPDIR/|" >"$conf"
	# the container's flags after its --config, $(HOST_IP) the node's address
	mapfile -t flags < <(/usr/bin/python3 -c 'import sys, yaml; d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x["kind"] == "DaemonSet"][0]; c = [c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "ctaccel"][0]["command"]; print("\n".join(a.replace("$(HOST_IP)", "198.18.0.1") for a in c[c.index("--config") + 2:]))' "$ROOT/deploy/k8s/ctaccel.yaml")
	[[ ${flags[*]} == "--listen 198.18.0.1:$PORT" ]]
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --config "$conf" "${flags[@]}" --expiry-interval 1 \
		>"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	cat >"$BATS_FILE_TMPDIR/prometheus.yml" <<-EOF
		global:
		  scrape_interval: 1s
		scrape_configs:
		  - job_name: ctaccel
		    static_configs:
		      - targets: ["198.18.0.1:$PORT"]
	EOF
	ip netns exec "$G" /usr/bin/prometheus --config.file="$BATS_FILE_TMPDIR/prometheus.yml" \
		--storage.tsdb.path="$BATS_FILE_TMPDIR/tsdb" --web.listen-address=127.0.0.1:9090 \
		>"$BATS_FILE_TMPDIR/prometheus.log" 2>&1 3>&- &
	# traffic, so that the rates move and every state has a series
	for i in $(seq 50); do url -o /dev/null "http://198.18.0.1:$PORT/readyz" && break; sleep 0.1; done
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20 >/dev/null
	in_ns "$C" "$TCPGEN" client 198.18.1.2 7 x 2 >/dev/null
	# scraped at least once (bounded: 20 s)
	for i in $(seq 100); do
		[[ $(query 'up{job="ctaccel"}' | jq -r '.data.result[0].value[1] // empty') == 1 ]] && break
		sleep 0.2
	done
}

teardown_file() {
	daemon_stop
	topo_down
}

# query EXPR: Prometheus' JSON answer for an instant query.
query() {
	nsenter --net="/run/netns/$G" curl -sf --max-time 5 -G \
		--data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query
}

@test "the manifest's configuration is scraped on the node's address: target up, metrics valid" {
	[[ $(query 'up{job="ctaccel"}' | jq -r '.data.result[0].value[1]') == 1 ]]
	url "http://198.18.0.1:$PORT/metrics" | promtool check metrics
	# bound to the node's address alone: not its other addresses
	ip -n "$G" -4 -o addr show | grep -q ' 198.18.1.1/'
	run url -o /dev/null "http://198.18.1.1:$PORT/healthz"
	[[ $status -eq 7 ]] # connection refused
	# the control API is not served there
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "http://198.18.0.1:$PORT/v1/gc") == 403 ]]
}

@test "every Grafana panel query returns the series its legend names" {
	sleep 4 # a few scrapes after the traffic, for the rates
	local expr legend ans n label
	while IFS=$'\t' read -r expr legend; do
		expr=${expr//\$instance/.*}
		ans=$(query "$expr")
		n=$(jq '.data.result | length' <<<"$ans")
		echo "$expr -> $n series (legend '$legend')"
		[[ $(jq -r .status <<<"$ans") == success && $n -ge 1 ]]
		# {{label}} in the legend: every series carries that label
		for label in $(grep -o '{{[a-z_]*}}' <<<"$legend" | tr -d '{}'); do
			jq -e --arg l "$label" '.data.result | all(.metric[$l] != null and .metric[$l] != "")' <<<"$ans"
		done
	done < <(jq -r '.panels[].targets[] | [.expr, .legendFormat] | @tsv' "$ROOT/deploy/grafana/ctaccel-dashboard.json")
	# the states panel has a series for each state: nine TCP, three UDP
	[[ $(query 'sum by (state) (ctaccel_flows)' | jq '.data.result | length') -eq 12 ]]
}
