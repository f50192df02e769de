#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for tests and the demo: etcd and
# kube-apiserver (hack/control-plane.sh), kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy (all from the pinned k8s.io/kubernetes), containerd + runc (Debian), the CNI
# bridge plugin (Debian's containernetworking-plugins) and CoreDNS as a pod. Every image a
# pod uses is built here (hack/images.sh) and loaded into containerd: nothing is pulled.
#
# Usage:
#   hack/cluster.sh up [--watch-pid PID]  start (idempotent; cleans up a crashed earlier run)
#   hack/cluster.sh down                  stop everything and remove all traces (see below)
#   hack/cluster.sh env                   print `export KUBECONFIG=...` (exit 1 if down)
#   hack/cluster.sh status                what runs; exit 0 if the node is up and Ready
#   hack/cluster.sh load IMAGE...         put images into the node's containerd: OCI archives
#                                         (hack/images.sh's) or names of podman images
#   hack/cluster.sh logs [N]              the last N (40) lines of every component's log
#
#   eval "$(hack/cluster.sh up)"   # progress goes to stderr, the export line to stdout
#
# Network: a bridge of its own (osmo0, 10.244.0.1/24) is the node's address; pods get
# addresses from 10.244.0.0/24 on it, Services from 10.96.0.0/24 (DNS at 10.96.0.10).
# Servers bind 127.0.0.1 or the bridge's address only. Pods cannot reach anything but the
# bridge: an OSMOSIS-GUARD chain drops forwarding between osmo0 and any other interface,
# the bridge plugin does no masquerading, and CoreDNS has no upstream resolver.
#
# `down` leaves nothing behind: pods, containers and shims, network namespaces, mounts
# under the state dir, the bridge, the iptables chains (KUBE-*, OSMOSIS-*, CNI-HOSTPORT-*,
# CNI-DN-*) and nftables tables that were not there before `up`, the cgroups it made, and
# the kernel settings the kubelet and kube-proxy change (restored from before `up`).
#
# Environment:
#   OSMOSIS_CLUSTER_DIR      state dir (default /tmp/osmosis-cluster; short: socket paths)
#   OSMOSIS_CLUSTER_TIMEOUT  seconds for each step to be ready (default 180)
#   OSMOSIS_CLUSTER_WATCH_PID  like --watch-pid
#   OSMOSIS_TOOLS_BIN, OSMOSIS_NODE_BIN  tool dirs (default: from hack/tools/build.sh)
#   OSMOSIS_IMAGES_DIR       where hack/images.sh leaves the image archives `up` loads
#                            (default ~/.cache/osmosis/images/current)
set -euo pipefail

script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${OSMOSIS_CLUSTER_DIR:-/tmp/osmosis-cluster}"
timeout_s="${OSMOSIS_CLUSTER_TIMEOUT:-180}"
images_dir="${OSMOSIS_IMAGES_DIR:-${HOME:-/root}/.cache/osmosis/images/current}"
marker=".osmosis-cluster"

node_name=osmosis-node
bridge=osmo0
node_ip=10.244.0.1
pod_cidr=10.244.0.0/24
service_cidr=10.96.0.0/24
dns_ip=10.96.0.10
pause_image=localhost/osmosis/pause:dev
coredns_image=localhost/osmosis/coredns:dev
# Kernel settings the kubelet and kube-proxy may change, and the two the node needs.
sysctls=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet)
# Node components in start order (stopped in reverse); etcd and the apiserver belong to
# the control plane's own state dir.
components=(containerd kubelet kube-proxy kube-scheduler kube-controller-manager)
chain_pattern='^(KUBE-|OSMOSIS-|CNI-HOSTPORT-|CNI-DN-)'

log() { echo "cluster: $*" >&2; }
die() {
  echo "cluster: error: $*" >&2
  exit 1
}

export OSMOSIS_CP_DIR="$dir/control-plane"
export OSMOSIS_CP_ADDRESS="$node_ip"
export OSMOSIS_CP_SERVICE_CIDR="$service_cidr"
export OSMOSIS_CP_FOR_NODES=1
cp_script="$repo_root/hack/control-plane.sh"

tools_bin() { printf '%s\n' "${OSMOSIS_TOOLS_BIN:-$("$repo_root/hack/tools/build.sh" --print-bin-dir)}"; }
node_bin() { printf '%s\n' "${OSMOSIS_NODE_BIN:-$("$repo_root/hack/tools/build.sh" --print-node-bin-dir)}"; }

# ---- process bookkeeping (as hack/control-plane.sh) ------------------------------------

pid_of() {
  local f="$dir/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(<"$f")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] &&
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$dir"* ]]; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$f"
  return 1
}

stop_pid() {
  local name="$1" pid="$2" grace="${3:-10}" deadline
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  fi
  rm -f "$dir/$name.pid"
}

# stop_all NAME...: stop_pid for each running NAME, in parallel (each waits on its own).
stop_all() {
  local name pid waits=()
  for name in "$@"; do
    if pid="$(pid_of "$name")"; then
      stop_pid "$name" "$pid" &
      waits+=($!)
    fi
  done
  ((${#waits[@]} == 0)) || wait "${waits[@]}"
}

start_bg() {
  local name="$1"
  shift
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' bash "$dir/$name.pid" "$@" \
    </dev/null >>"$dir/logs/$name.log" 2>&1 9>&- &
  local deadline=$((SECONDS + 5))
  while [[ ! -s "$dir/$name.pid" ]] && ((SECONDS < deadline)); do sleep 0.02; done
  [[ -s "$dir/$name.pid" ]] || die "$name did not start (no pid file)"
}

locked=0
lock() {
  ((locked)) && return 0
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  locked=1
}

foreign_dir() {
  [[ -d "$dir" ]] && [[ ! -f "$dir/$marker" ]] &&
    [[ -n "$(find "$dir" -mindepth 1 -maxdepth 1 ! -name .lock -print -quit)" ]]
}

tail_logs() {
  local n="${1:-40}" f
  for f in "$dir"/logs/*.log "$OSMOSIS_CP_DIR"/logs/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- last $n lines of $f -----" >&2
    tail -n "$n" "$f" >&2
  done
}

kubectl_() { "$(tools_bin)/kubectl" --kubeconfig "$OSMOSIS_CP_DIR/kubeconfig" "$@"; }
ctr_() { ctr --address "$dir/containerd/containerd.sock" -n k8s.io "$@"; }

# ---- steps with progress and a deadline --------------------------------------------------

step_no=0
step() { # step DESCRIPTION: prints the step and starts its clock
  step_no=$((step_no + 1))
  step_name="$1"
  step_start=$SECONDS
  log "[$step_no] $1 ..."
}
step_done() { log "[$step_no] $step_name: done in $((SECONDS - step_start)) s"; }

# fail_step LOGS...: the step failed; say which step and which logs to read, tear down.
fail_step() {
  local what="$1"
  shift
  log "step [$step_no] '$step_name' failed: $what"
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2
  done
  log "all logs: $dir/logs/ (etcd and kube-apiserver in $dir/logs/control-plane/; kept until the next up or down)"
  do_down_quiet keep-logs
  die "cluster did not come up: step [$step_no] '$step_name': $what"
}

# wait_until DESCRIPTION LOG CMD...: poll CMD every 0.2 s within the step's deadline; if
# the process named by $wait_pid dies, fail at once.
wait_until() {
  local what="$1" logf="$2"
  shift 2
  local deadline=$((SECONDS + timeout_s))
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then fail_step "timed out after ${timeout_s}s waiting for $what" "$logf"; fi
    if [[ -n "${wait_pid:-}" ]] && ! kill -0 "$wait_pid" 2>/dev/null; then
      fail_step "the process exited while waiting for $what" "$logf"
    fi
    sleep 0.2
  done
}

# ---- certificates for the node's components (signed by the control plane's CA) ---------

issue_cert() { # issue_cert NAME CN O [SUBJECT_ALT_NAMES]
  local name="$1" cn="$2" o="$3" sans="${4:-}" d="$dir/pki" subj
  subj="/CN=$cn"
  [[ -z "$o" ]] || subj="/O=$o$subj"
  (
    cd "$d"
    umask 077
    openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$name.key" -out "$name.csr" 2>/dev/null
    {
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      echo "basicConstraints=CA:FALSE"
      if [[ -n "$sans" ]]; then
        echo "extendedKeyUsage=serverAuth,clientAuth"
        echo "subjectAltName=$sans"
      else
        echo "extendedKeyUsage=clientAuth"
      fi
    } >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA "$OSMOSIS_CP_DIR/pki/ca.crt" \
      -CAkey "$OSMOSIS_CP_DIR/pki/ca.key" -CAcreateserial -CAserial "$d/ca.srl" \
      -days 3650 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
  ) || fail_step "openssl could not issue the $name certificate"
}

write_kubeconfig() { # write_kubeconfig FILE CERT_NAME
  local server
  server="$(sed -n 's|^export OSMOSIS_CP_APISERVER=||p' "$OSMOSIS_CP_DIR/env.sh")"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: osmosis
  cluster: {server: "$server", certificate-authority: "$OSMOSIS_CP_DIR/pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$dir/pki/$2.crt", client-key: "$dir/pki/$2.key"}
contexts:
- name: osmosis
  context: {cluster: osmosis, user: $2}
current-context: osmosis
EOF
  chmod 600 "$1"
}

# ---- down ------------------------------------------------------------------------------

# Deletes chains matching $chain_pattern (and the rules that jump to them) from every table
# of iptables and ip6tables.
clean_iptables() {
  local cmd table chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle raw; do
      "$cmd" -t "$table" -S >/dev/null 2>&1 || continue
      # Rules in any chain that jump to one of ours, deleted by their exact spec.
      { "$cmd" -t "$table" -S 2>/dev/null || true; } |
        { grep -E -- "^-A .* -j (KUBE-|OSMOSIS-|CNI-HOSTPORT-|CNI-DN-)" || true; } |
        while read -r rule; do
          chain="$(awk '{print $2}' <<<"$rule")"
          [[ "$chain" =~ $chain_pattern ]] && continue # goes with the chain itself
          eval "$cmd -t $table ${rule/-A/-D}" 2>/dev/null || true
        done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-N" {print $2}' | grep -E "$chain_pattern"); do
        "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-N" {print $2}' | grep -E "$chain_pattern"); do
        "$cmd" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
  # nftables tables that up did not find and that hold no rule now (iptables-nft makes the
  # tables on first use; kube-proxy may make its own).
  if command -v nft >/dev/null && [[ -f "$dir/nft-tables.before" ]]; then
    local fam name
    while read -r _ fam name; do
      grep -qx "table $fam $name" "$dir/nft-tables.before" && continue
      if [[ "$name" == kube-proxy ]] || ! nft list table "$fam" "$name" 2>/dev/null | grep -qE '^\s+(counter|jump|ip |meta|ct |tcp|udp|iifname|oifname|mark|return|accept|drop|dnat|snat|masquerade)'; then
        nft delete table "$fam" "$name" 2>/dev/null || true
      fi
    done < <(nft list tables 2>/dev/null)
  fi
}

# Every mount point at or under $dir, deepest first.
mounts_under() {
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r
}

kill_cgroup_tree() { # kills every process in cgroup v1 hierarchies under NAME, then removes them
  local name="$1" ctl base
  for ctl in /sys/fs/cgroup/*/; do
    base="$ctl$name"
    [[ -d "$base" ]] || continue
    local procs
    procs="$(find "$base" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
    # shellcheck disable=SC2086  # a list of pids
    [[ -z "$procs" ]] || kill -KILL $procs 2>/dev/null || true
  done
  for ctl in /sys/fs/cgroup/*/; do
    base="$ctl$name"
    [[ -d "$base" ]] || continue
    find "$base" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

do_down() {
  local keep_logs="${1:-}"
  if [[ ! -d "$dir" ]]; then
    log "nothing to stop ($dir does not exist)"
    return 0
  fi
  foreign_dir && die "$dir is not a cluster state dir (no $marker); not touching it"
  lock
  local start=$SECONDS pid
  # 1. No new pods: stop the scheduler and the controllers, then let the kubelet stop every
  #    pod (containers get SIGTERM, sandboxes their CNI teardown) while it still runs.
  stop_all kube-controller-manager kube-scheduler
  if pid_of kubelet >/dev/null && [[ -S "$dir/containerd/containerd.sock" ]] &&
    [[ -f "$OSMOSIS_CP_DIR/kubeconfig" ]]; then
    kubectl_ delete pods --all --all-namespaces --grace-period=0 --force --wait=false \
      >/dev/null 2>&1 || true
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)) && [[ -n "$(ctr_ tasks ls -q 2>/dev/null)" ]]; do sleep 0.3; done
  fi
  # 2. The node's processes, then whatever the kubelet could not stop.
  stop_all kube-proxy kubelet
  if pid_of containerd >/dev/null; then
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 0.5
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for t in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$t" >/dev/null 2>&1 || true; done
    stop_pid containerd "$(pid_of containerd)"
  fi
  # Shims of our containerd (their command line names its socket) and the pods' processes.
  pkill -KILL -f -- "-address $dir/containerd/containerd.sock" 2>/dev/null || true
  kill_cgroup_tree kubepods
  # 3. The control plane (its logs kept with ours when asked), and the watchdog (unless we
  #    are it).
  if [[ -n "$keep_logs" && -d "$OSMOSIS_CP_DIR/logs" ]]; then
    cp -r "$OSMOSIS_CP_DIR/logs" "$dir/logs/control-plane" 2>/dev/null || true
  fi
  "$cp_script" down >/dev/null 2>&1 || log "warning: hack/control-plane.sh down failed"
  if pid="$(pid_of watchdog)"; then
    if [[ "$pid" == "$$" ]]; then rm -f "$dir/watchdog.pid"; else stop_pid watchdog "$pid"; fi
  fi
  # 4. Network namespaces the CRI made for our pods, mounts, bridge, rules, sysctls.
  local ns
  if [[ -f "$dir/netns.before" ]]; then
    for ns in /run/netns/cni-*; do
      [[ -e "$ns" ]] || continue
      ns="${ns#/run/netns/}"
      grep -qx "$ns" "$dir/netns.before" && continue
      umount "/run/netns/$ns" 2>/dev/null || true
      rm -f "/run/netns/$ns"
    done
  fi
  local m
  for m in $(mounts_under); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  if ip link show "$bridge" >/dev/null 2>&1; then ip link delete "$bridge" 2>/dev/null || true; fi
  # veths left by a pod whose teardown never ran are removed with their namespace; any
  # left on our bridge went with it.
  clean_iptables
  if [[ -f "$dir/sysctl.before" ]]; then
    local key value
    while read -r key value; do
      sysctl -q -w "$key=$value" >/dev/null 2>&1 || true
    done <"$dir/sysctl.before"
  fi
  # libcni's result cache outside $dir: our network's and the CRI's loopback network's
  # (no other CRI runtime runs on a test machine), and host-local's default dir.
  rm -rf /var/lib/cni/networks/osmosis
  rm -f /var/lib/cni/results/osmosis-* /var/lib/cni/results/cni-loopback-* 2>/dev/null || true
  if [[ -n "$keep_logs" ]]; then
    find "$dir" -mindepth 1 -maxdepth 1 ! -name logs ! -name .lock ! -name "$marker" \
      -exec rm -rf {} + 2>/dev/null || true
  else
    rm -rf "$dir"
  fi
  log "down in $((SECONDS - start)) s"
}

do_down_quiet() { (do_down "$@") >/dev/null 2>&1 || true; }

# ---- up --------------------------------------------------------------------------------

node_ready() {
  [[ "$(kubectl_ get node "$node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

running() {
  local c
  [[ -f "$dir/$marker" && -f "$dir/up.done" ]] || return 1
  "$cp_script" status >/dev/null 2>&1 || return 1
  for c in "${components[@]}"; do pid_of "$c" >/dev/null || return 1; done
}

start_watchdog() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || die "--watch-pid $pid: no such process"
  # shellcheck disable=SC2016  # expanded by the inner bash
  start_bg watchdog bash -c 'tail --pid="$1" -f /dev/null; export OSMOSIS_CLUSTER_DIR="$2"; exec "$3" down' \
    watchdog "$pid" "$dir" "$script"
  log "watchdog (pid $(<"$dir/watchdog.pid")) will tear down when pid $pid exits"
}

check_host() {
  local t
  for t in containerd containerd-shim-runc-v2 runc ctr iptables ip openssl /usr/lib/cni/bridge \
    /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/cni/portmap; do
    [[ -x "$t" ]] || command -v "$t" >/dev/null ||
      die "$t not found: run hack/setup.sh (Debian: containerd runc containernetworking-plugins iptables)"
  done
  [[ "$(id -u)" == 0 ]] || die "the node needs root (kubelet, containerd, bridge, iptables)"
  for t in kubectl etcd kube-apiserver; do
    [[ -x "$(tools_bin)/$t" ]] || die "$(tools_bin)/$t missing: run hack/tools/build.sh"
  done
  for t in kubelet kube-proxy kube-scheduler kube-controller-manager; do
    [[ -x "$(node_bin)/$t" ]] || die "$(node_bin)/$t missing: run hack/tools/build.sh"
  done
}

write_configs() {
  mkdir -p "$dir/containerd" "$dir/cni/net.d" "$dir/cni/ipam" "$dir/kubelet/root" \
    "$dir/kubelet/pod-logs" "$dir/kube-proxy"
  cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
# The opt plugin would install into /opt/containerd; nothing here needs it.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$dir/containerd/containerd.sock"
[ttrpc]
  address = "$dir/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # Processes here lack CAP_SYS_RESOURCE: runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$dir/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  cat >"$dir/cni/net.d/10-osmosis.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "osmosis",
  "plugins": [
    {
      "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$dir/cni/ipam",
        "ranges": [[{"subnet": "$pod_cidr", "gateway": "$node_ip"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  : >"$dir/kubelet/resolv.conf" # pods with dnsPolicy Default get no resolver outside
  cat >"$dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 here, no systemd as PID 1, no swap.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$dir/containerd/containerd.sock
address: $node_ip
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz_port
tlsCertFile: $dir/pki/kubelet-serving.crt
tlsPrivateKeyFile: $dir/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $OSMOSIS_CP_DIR/pki/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: [$dns_ip]
resolvConf: $dir/kubelet/resolv.conf
podLogsDir: $dir/kubelet/pod-logs
serializeImagePulls: false
# A test machine's disk is shared: never evict or garbage-collect images for space.
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
EOF
  cat >"$dir/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $dir/kube-proxy/kubeconfig}
hostnameOverride: $node_name
mode: iptables
clusterCIDR: $pod_cidr
bindAddress: $node_ip
healthzBindAddress: 127.0.0.1:$proxy_healthz_port
metricsBindAddress: 127.0.0.1:$proxy_metrics_port
# NodePorts only on the node's own bridge address; conntrack sysctls left alone.
nodePortAddresses: ["$node_ip/32"]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

coredns_manifest() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 5
        }
        cache 5
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      # Port 53 as a non-root user without capabilities.
      securityContext:
        runAsNonRoot: true
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
      containers:
      - name: coredns
        image: $coredns_image
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 1}
        livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 128Mi}}
        volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $dns_ip
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
EOF
}

# do_load IMAGE...: each an OCI archive (podman save --format oci-archive, as hack/images.sh
# leaves them) or the name of an image in podman's store.
do_load() {
  (($#)) || die "load: name at least one image archive or podman image"
  [[ -S "$dir/containerd/containerd.sock" ]] || die "the cluster is not running (hack/cluster.sh up)"
  local f archive start
  for f in "$@"; do
    start=$SECONDS
    archive="$f"
    if [[ ! -f "$f" ]]; then
      if ! command -v podman >/dev/null || ! podman image exists "$f" 2>/dev/null; then
        die "load: '$f' is neither an image archive nor an image podman has"
      fi
      archive="$dir/load.tar"
      rm -f "$archive"
      podman save --format oci-archive -o "$archive" "$f" >"$dir/logs/load.log" 2>&1 ||
        { cat "$dir/logs/load.log" >&2; die "load: podman save $f failed"; }
    fi
    ctr_ images import --all-platforms "$archive" >"$dir/logs/load.log" 2>&1 ||
      { cat "$dir/logs/load.log" >&2; die "load: ctr images import $f failed"; }
    [[ "$archive" == "$f" ]] || rm -f "$archive"
    log "loaded $(basename "$f") in $((SECONDS - start)) s"
  done
}

do_up() {
  local watch_pid="${OSMOSIS_CLUSTER_WATCH_PID:-}"
  while (($#)); do
    case "$1" in
      --watch-pid) watch_pid="${2:?--watch-pid needs a PID}"; shift 2 ;;
      --watch-pid=*) watch_pid="${1#*=}"; shift ;;
      *) die "up: unknown argument '$1'" ;;
    esac
  done
  [[ -z "$watch_pid" || "$watch_pid" =~ ^[0-9]+$ ]] || die "--watch-pid: '$watch_pid' is not a pid"
  check_host
  foreign_dir && die "$dir exists and is not a cluster state dir; choose another OSMOSIS_CLUSTER_DIR"
  local img
  for img in pause coredns; do
    [[ -f "$images_dir/$img.tar" ]] || die "$images_dir/$img.tar missing: run hack/images.sh first"
  done
  lock
  if running && node_ready; then
    log "already running, KUBECONFIG=$OSMOSIS_CP_DIR/kubeconfig"
    if [[ -n "$watch_pid" ]] && ! pid_of watchdog >/dev/null; then start_watchdog "$watch_pid"; fi
    echo "export KUBECONFIG=$OSMOSIS_CP_DIR/kubeconfig"
    return 0
  fi
  local start=$SECONDS
  if [[ -e "$dir/$marker" ]]; then
    step "cleaning up what an earlier run left"
    do_down_quiet
    step_done
  fi
  # What a crashed run of this state dir left is gone now: start from nothing.
  mkdir -p "$dir/logs" "$dir/pki"
  touch "$dir/$marker"
  ls /run/netns 2>/dev/null >"$dir/netns.before" || true
  if command -v nft >/dev/null; then nft list tables 2>/dev/null >"$dir/nft-tables.before" || true; fi
  local s
  for s in "${sysctls[@]}"; do
    [[ -e "/proc/sys/${s//.//}" ]] && echo "$s $(sysctl -n "$s")" >>"$dir/sysctl.before"
  done

  step "network: bridge $bridge ($node_ip/24), forwarding guard"
  ip link show "$bridge" >/dev/null 2>&1 && fail_step "a bridge $bridge already exists and is not ours"
  ip link add "$bridge" type bridge || fail_step "ip link add $bridge failed"
  ip addr add "$node_ip/24" dev "$bridge"
  ip link set "$bridge" up
  sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 >/dev/null ||
    fail_step "cannot set net.ipv4.ip_forward / net.bridge.bridge-nf-call-iptables"
  iptables -N OSMOSIS-GUARD
  iptables -A OSMOSIS-GUARD -i "$bridge" ! -o "$bridge" -j DROP
  iptables -A OSMOSIS-GUARD ! -i "$bridge" -o "$bridge" -j DROP
  iptables -I FORWARD 1 -j OSMOSIS-GUARD
  step_done

  step "control plane: etcd + kube-apiserver on $node_ip"
  "$cp_script" up >/dev/null 2>"$dir/logs/control-plane-up.log" ||
    fail_step "hack/control-plane.sh up failed" "$dir/logs/control-plane-up.log"
  step_done

  step "certificates and configuration"
  local ports
  read -r -a ports <<<"$(python3 - "$node_ip" <<'EOF'
import socket, sys
out = []
while len(out) < 6:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    try:
        t = socket.socket(); t.bind((sys.argv[1], p)); t.close()
    except OSError:
        s.close(); continue
    out.append((s, p))
print(" ".join(str(p) for _, p in out))
EOF
  )"
  kubelet_port=${ports[0]} kubelet_healthz_port=${ports[1]} proxy_healthz_port=${ports[2]}
  proxy_metrics_port=${ports[3]} kcm_port=${ports[4]} sched_port=${ports[5]}
  issue_cert kubelet "system:node:$node_name" system:nodes
  issue_cert kubelet-serving "$node_name" "" "IP:$node_ip,DNS:$node_name"
  issue_cert kube-proxy system:kube-proxy ""
  issue_cert kube-scheduler system:kube-scheduler ""
  issue_cert kube-controller-manager system:kube-controller-manager ""
  mkdir -p "$dir/kubelet" "$dir/kube-proxy" "$dir/kube-scheduler" "$dir/kube-controller-manager"
  write_kubeconfig "$dir/kubelet/kubeconfig" kubelet
  write_kubeconfig "$dir/kube-proxy/kubeconfig" kube-proxy
  write_kubeconfig "$dir/kube-scheduler/kubeconfig" kube-scheduler
  write_kubeconfig "$dir/kube-controller-manager/kubeconfig" kube-controller-manager
  write_configs
  step_done

  local nb
  nb="$(node_bin)"
  step "containerd $(containerd --version | awk '{print $3}') + runc"
  start_bg containerd containerd --config "$dir/containerd/config.toml"
  wait_pid="$(<"$dir/containerd.pid")" wait_until "containerd's socket" "$dir/logs/containerd.log" \
    ctr_ version
  step_done

  step "images: pause and CoreDNS into containerd"
  do_load "$images_dir/pause.tar" "$images_dir/coredns.tar"
  step_done

  step "kube-controller-manager and kube-scheduler"
  start_bg kube-controller-manager "$nb/kube-controller-manager" \
    --kubeconfig "$dir/kube-controller-manager/kubeconfig" \
    --authentication-kubeconfig "$dir/kube-controller-manager/kubeconfig" \
    --authorization-kubeconfig "$dir/kube-controller-manager/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
    --service-account-private-key-file "$OSMOSIS_CP_DIR/pki/sa.key" \
    --root-ca-file "$OSMOSIS_CP_DIR/pki/ca.crt" --use-service-account-credentials=true \
    --cluster-cidr "$pod_cidr" --service-cluster-ip-range "$service_cidr" \
    --allocate-node-cidrs=false --controllers '*,-nodeipam,-cloud-node-lifecycle' \
    --cert-dir "$dir/kube-controller-manager" \
    --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10
  start_bg kube-scheduler "$nb/kube-scheduler" \
    --kubeconfig "$dir/kube-scheduler/kubeconfig" \
    --authentication-kubeconfig "$dir/kube-scheduler/kubeconfig" \
    --authorization-kubeconfig "$dir/kube-scheduler/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false \
    --cert-dir "$dir/kube-scheduler"
  wait_pid="$(<"$dir/kube-controller-manager.pid")" wait_until "kube-controller-manager /healthz" \
    "$dir/logs/kube-controller-manager.log" curl -skf "https://127.0.0.1:$kcm_port/healthz"
  wait_pid="$(<"$dir/kube-scheduler.pid")" wait_until "kube-scheduler /healthz" \
    "$dir/logs/kube-scheduler.log" curl -skf "https://127.0.0.1:$sched_port/healthz"
  step_done

  step "kubelet $("$nb/kubelet" --version | awk '{print $2}') (node $node_name at $node_ip)"
  start_bg kubelet "$nb/kubelet" --config "$dir/kubelet/config.yaml" \
    --kubeconfig "$dir/kubelet/kubeconfig" --root-dir "$dir/kubelet/root" \
    --cert-dir "$dir/kubelet/pki" --node-ip "$node_ip" --hostname-override "$node_name"
  wait_pid="$(<"$dir/kubelet.pid")" wait_until "the node to register and be Ready" \
    "$dir/logs/kubelet.log" node_ready
  step_done

  step "kube-proxy (iptables mode)"
  start_bg kube-proxy "$nb/kube-proxy" --config "$dir/kube-proxy/config.yaml"
  wait_pid="$(<"$dir/kube-proxy.pid")" wait_until "kube-proxy /healthz" "$dir/logs/kube-proxy.log" \
    curl -sf "http://127.0.0.1:$proxy_healthz_port/healthz"
  step_done

  step "CoreDNS (a pod in kube-system, Service $dns_ip)"
  wait_until "the kube-system default ServiceAccount" "$dir/logs/kube-controller-manager.log" \
    kubectl_ get serviceaccount default -n kube-system
  coredns_manifest | kubectl_ apply -f - >"$dir/logs/coredns-apply.log" 2>&1 ||
    fail_step "applying the CoreDNS manifest failed" "$dir/logs/coredns-apply.log"
  wait_until "CoreDNS to be Available" "$dir/logs/kubelet.log" \
    kubectl_ wait -n kube-system deployment/coredns --for condition=Available --timeout=5s
  step_done

  touch "$dir/up.done"
  if [[ -n "$watch_pid" ]]; then start_watchdog "$watch_pid"; fi
  log "ready in $((SECONDS - start)) s: node $node_name Ready, KUBECONFIG=$OSMOSIS_CP_DIR/kubeconfig"
  echo "export KUBECONFIG=$OSMOSIS_CP_DIR/kubeconfig"
}

do_env() {
  if [[ -d "$dir" ]] && running; then
    echo "export KUBECONFIG=$OSMOSIS_CP_DIR/kubeconfig"
    return 0
  fi
  echo "cluster: not running in $dir (start it with: hack/cluster.sh up)" >&2
  return 1
}

do_status() {
  if [[ ! -d "$dir" ]]; then
    echo "not running (no state dir $dir)"
    return 1
  fi
  "$cp_script" status 2>/dev/null | grep -E '^(etcd|kube-apiserver):' || true
  local c pid
  for c in "${components[@]}" watchdog; do
    if pid="$(pid_of "$c")"; then echo "$c: running, pid $pid"; else echo "$c: not running"; fi
  done
  if running && node_ready; then
    echo "node $node_name: Ready"
    echo "export KUBECONFIG=$OSMOSIS_CP_DIR/kubeconfig"
    return 0
  fi
  echo "not ready: run hack/cluster.sh down (or up, which cleans up first)"
  return 1
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  up) do_up "$@" ;;
  down) do_down ;;
  env) do_env ;;
  status) do_status ;;
  load) lock; do_load "$@" ;;
  logs) tail_logs "${1:-40}" 2>&1 ;;
  -h | --help | help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$script" ;;
  *)
    echo "usage: $0 up [--watch-pid PID] | down | env | status | load IMAGE... | logs [N]" >&2
    exit 2
    ;;
esac
