#!/usr/bin/env bash
# Fixture (ctest FIXTURES_CLEANUP cluster): first, while the cluster runs, a second `up` is a
# no-op and an `up` after a crash (kubelet and containerd killed) cleans up and starts again;
# then `hack/cluster.sh down`, and checks that it really left nothing: no process, mount,
# network namespace, bridge, iptables chain, cgroup or state.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="${OSMOSIS_CLUSTER_DIR:-/tmp/osmosis-cluster}"
CLEANUPS+=("'$CLUSTER' down >/dev/null 2>&1") # whatever happens below

if "$CLUSTER" status >/dev/null 2>&1; then
  # A second `up` on a running node changes nothing.
  kubelet_pid="$(<"$dir/kubelet.pid")"
  out="$("$CLUSTER" up 2>&1)" || fail "a second up failed: $out"
  grep -q 'already running' <<<"$out" || fail "a second up did not say 'already running': $out"
  [[ "$(<"$dir/kubelet.pid")" == "$kubelet_pid" ]] || fail "a second up replaced the kubelet"
  # A crashed node (kubelet and containerd killed, pods' shims and containers orphaned):
  # the next `up` cleans it all and starts afresh.
  kill -KILL "$kubelet_pid" "$(<"$dir/containerd.pid")"
  t=$SECONDS
  out="$("$CLUSTER" up 2>&1)" || fail "up after a crash failed: $out"
  grep -q 'cleaning up what an earlier run left' <<<"$out" || fail "up after a crash did not clean up: $out"
  eval "$(grep '^export KUBECONFIG=' <<<"$out")"
  [[ "$(kubectl get node osmosis-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]] ||
    fail "node not Ready after up following a crash"
  info "second up: already running; after kill -9 of kubelet and containerd, up cleaned up and was Ready again in $((SECONDS - t)) s"
fi

t=$SECONDS
"$CLUSTER" down || fail "hack/cluster.sh down failed"
info "down in $((SECONDS - t)) s"

left=()
# Processes of this cluster: their command line names its state dir (etcd, apiserver,
# controllers, kubelet, kube-proxy, containerd and its shims), or they ran in a pod (cgroup
# kubepods: coredns, nats-server, the workers).
# The dir as a whole path (not /tmp/osmosis-cluster.lock, the lock sessions hold around ctest).
pids="$(pgrep -f -- "$dir(/| |\$)" | grep -vx "$$" || true)"
[[ -z "$pids" ]] || left+=("processes: $(ps -o comm= -p "${pids//$'\n'/,}" | sort -u | tr '\n' ' ')")
in_pods="$(grep -l kubepods /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 | tr '\n' ' ' || true)"
[[ -z "$in_pods" ]] || left+=("processes in pod cgroups: $in_pods")
pgrep -x coredns >/dev/null && left+=("coredns")
grep -q " $dir" /proc/self/mountinfo && left+=("mounts: $(grep " $dir" /proc/self/mountinfo | awk '{print $5}' | head -3)")
ip link show osmo0 >/dev/null 2>&1 && left+=("bridge osmo0")
ip -o link show type veth 2>/dev/null | grep -q "master osmo0" && left+=("veths on osmo0")
for cmd in iptables ip6tables; do
  chains="$("$cmd"-save 2>/dev/null | grep -E '^:(KUBE-|OSMOSIS-|CNI-HOSTPORT-|CNI-DN-)' | tr '\n' ' ' || true)"
  [[ -z "$chains" ]] || left+=("$cmd chains: $chains")
done
if command -v nft >/dev/null && nft list tables 2>/dev/null | grep -q kube-proxy; then left+=("nft table kube-proxy"); fi
for ns in /run/netns/cni-*; do
  [[ -e "$ns" ]] && left+=("network namespace $ns")
done
ls -d /sys/fs/cgroup/*/kubepods >/dev/null 2>&1 && left+=("cgroups kubepods")
[[ -e "$dir" ]] && left+=("state dir $dir")
cache="$(find /var/lib/cni/results -maxdepth 1 \( -name 'osmosis-*' -o -name 'cni-loopback-*' \) 2>/dev/null | head -3)"
[[ -z "$cache" ]] || left+=("CNI result cache: $cache")
((${#left[@]} == 0)) || fail "down left: ${left[*]}"
"$CLUSTER" status >/dev/null 2>&1 && fail "status exits 0 after down"
"$CLUSTER" env >/dev/null 2>&1 && fail "env exits 0 after down"
"$CLUSTER" down >/dev/null || fail "a second down failed"
info "nothing left: no process, mount, netns, bridge, veth, iptables chain, cgroup, CNI cache or state dir"
