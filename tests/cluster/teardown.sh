#!/usr/bin/env bash
# Fixture (ctest FIXTURES_CLEANUP cluster): `hack/cluster.sh down`, then checks that it
# really left nothing: no process, mount, network namespace, bridge, iptables chain or state.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="${OSMOSIS_CLUSTER_DIR:-/tmp/osmosis-cluster}"
t=$SECONDS
"$CLUSTER" down || fail "hack/cluster.sh down failed"
info "down in $((SECONDS - t)) s"

left=()
# Processes of this cluster: their command line names its state dir (etcd, apiserver,
# controllers, kubelet, kube-proxy, containerd and its shims), or they ran in a pod (cgroup
# kubepods: coredns, nats-server, the workers).
pids="$(pgrep -f -- "$dir" | grep -vx "$$" || true)"
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
for ns in $(ls /run/netns 2>/dev/null); do
  [[ "$ns" == cni-* ]] && left+=("network namespace $ns")
done
ls -d /sys/fs/cgroup/*/kubepods >/dev/null 2>&1 && left+=("cgroups kubepods")
[[ -e "$dir" ]] && left+=("state dir $dir")
((${#left[@]} == 0)) || fail "down left: ${left[*]}"
"$CLUSTER" status >/dev/null 2>&1 && fail "status exits 0 after down"
"$CLUSTER" env >/dev/null 2>&1 && fail "env exits 0 after down"
"$CLUSTER" down >/dev/null || fail "a second down failed"
info "nothing left: no process, mount, netns, bridge, veth, iptables chain, cgroup or state dir"
