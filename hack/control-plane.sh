#!/usr/bin/env bash
# Starts/stops a real etcd + kube-apiserver on 127.0.0.1 for tests (the way envtest does).
#
# Usage:
#   hack/control-plane.sh up [--watch-pid PID]   start (or report the running one)
#   hack/control-plane.sh down                   stop everything, remove the state dir
#   hack/control-plane.sh restart-apiserver      stop and start kube-apiserver in place
#   hack/control-plane.sh env                    print `export KUBECONFIG=...` (exit 1 if down)
#   hack/control-plane.sh status                 say what runs (exit 0 if up, 1 if not)
#   hack/control-plane.sh logs [N]               print the last N (40) lines of each log
#
#   eval "$(hack/control-plane.sh up)"  # progress goes to stderr, the export line to stdout
#
# Environment:
#   OSMOSIS_CP_DIR        state dir (default ${TMPDIR:-/tmp}/osmosis-control-plane)
#   OSMOSIS_CP_WATCH_PID  like --watch-pid: tear everything down when that process exits
#   OSMOSIS_CP_TIMEOUT    seconds to wait for readiness (default 120)
#   OSMOSIS_CP_APISERVER_ARGS  extra kube-apiserver flags, space-separated (e.g. --watch-cache=false)
#   OSMOSIS_CP_ADDRESS    the address etcd's peers, kube-apiserver and the kubeconfig use
#                         (default 127.0.0.1; hack/cluster.sh gives its bridge's address)
#   OSMOSIS_CP_SERVICE_CIDR  --service-cluster-ip-range (default 10.0.0.0/24)
#   OSMOSIS_CP_FOR_NODES  1: for a cluster with a kubelet (hack/cluster.sh): ServiceAccount
#                         admission on, Node+RBAC authorization, the `kubernetes` Service's
#                         endpoint kept up to date, a kubelet client certificate
#   OSMOSIS_TOOLS_BIN     dir with etcd, kube-apiserver, kubectl
#                         (default: the output of hack/tools/build.sh --print-bin-dir)
#
# The state dir holds pid files, certificates, the kubeconfig, env.sh (extra exports:
# server URL, CA, client cert) and logs/. etcd, kube-apiserver and the watchdog each run
# in their own session (setsid): a Ctrl-C sent to the caller's process group does not
# reach them, `down` and the watchdog do. Only 127.0.0.1 (or OSMOSIS_CP_ADDRESS) is ever bound.
set -euo pipefail

script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${OSMOSIS_CP_DIR:-${TMPDIR:-/tmp}/osmosis-control-plane}"
timeout_s="${OSMOSIS_CP_TIMEOUT:-120}"
marker=".osmosis-control-plane"
address="${OSMOSIS_CP_ADDRESS:-127.0.0.1}"
service_cidr="${OSMOSIS_CP_SERVICE_CIDR:-10.0.0.0/24}"
for_nodes="${OSMOSIS_CP_FOR_NODES:-0}"
components=(etcd kube-apiserver watchdog)

log() { echo "control-plane: $*" >&2; }
die() {
  echo "control-plane: error: $*" >&2
  exit 1
}

# ---- process bookkeeping --------------------------------------------------------------

# pid_of NAME: prints the pid from DIR/NAME.pid if that process is alive and is ours
# (its command line names the state dir, so a recycled pid is never touched). Removes a
# stale pid file. Returns 1 if not running.
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

# stop_pid NAME PID: SIGTERM its process group, wait, SIGKILL after a grace period.
stop_pid() {
  local name="$1" pid="$2" grace="${OSMOSIS_CP_GRACE:-10}" deadline
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.1
    done
  fi
  rm -f "$dir/$name.pid"
}

# start_bg NAME CMD...: runs CMD in a new session, stdio to DIR/logs/NAME.log, never
# holding the caller's stdout/stderr or our lock fd. The wrapper writes its own pid
# (which exec keeps for CMD) before exec, so no window exists without a pid file.
start_bg() {
  local name="$1"
  shift
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' bash "$dir/$name.pid" "$@" \
    </dev/null >>"$dir/logs/$name.log" 2>&1 9>&- &
  local deadline=$((SECONDS + 5))
  while [[ ! -s "$dir/$name.pid" ]] && ((SECONDS < deadline)); do
    sleep 0.02
  done
  [[ -s "$dir/$name.pid" ]] || die "$name did not start (no pid file)"
}

running() {
  pid_of etcd >/dev/null && pid_of kube-apiserver >/dev/null && [[ -f "$dir/kubeconfig" ]]
}

locked=0
lock() { # idempotent, also in subshells (which inherit fd 9 and the flag)
  ((locked)) && return 0
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  locked=1
}

# foreign_dir: DIR exists and holds something that is not ours (never rm -rf that).
foreign_dir() {
  [[ -d "$dir" ]] && [[ ! -f "$dir/$marker" ]] &&
    [[ -n "$(find "$dir" -mindepth 1 -maxdepth 1 ! -name .lock -print -quit)" ]]
}

tail_logs() {
  local n="${1:-40}" f
  for f in "$dir"/logs/*.log; do
    [[ -f "$f" ]] || continue
    echo "----- last $n lines of $f -----" >&2
    tail -n "$n" "$f" >&2
  done
}

# ---- down -------------------------------------------------------------------------------

do_down() {
  if [[ ! -d "$dir" ]]; then
    log "nothing to stop ($dir does not exist)"
    return 0
  fi
  if foreign_dir; then
    die "$dir is not a control-plane state dir (no $marker); not touching it"
  fi
  lock
  local name pid stopped=0
  # apiserver first (it talks to etcd), then etcd, then the watchdog (unless we are it).
  for name in kube-apiserver etcd watchdog; do
    if pid="$(pid_of "$name")"; then
      if [[ "$pid" == "$$" ]]; then
        rm -f "$dir/$name.pid"
        continue
      fi
      stop_pid "$name" "$pid"
      log "stopped $name (pid $pid)"
      stopped=1
    fi
  done
  ((stopped)) || log "nothing was running in $dir"
  rm -rf "$dir"
  log "removed $dir"
}

# ---- up ---------------------------------------------------------------------------------

tools_bin() {
  if [[ -n "${OSMOSIS_TOOLS_BIN:-}" ]]; then
    printf '%s\n' "$OSMOSIS_TOOLS_BIN"
  else
    "$repo_root/hack/tools/build.sh" --print-bin-dir
  fi
}

free_ports() { # prints N free TCP ports on 127.0.0.1 and $address, distinct
  python3 - "$1" "$address" <<'EOF'
import socket, sys
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    if sys.argv[2] != "127.0.0.1":  # the same port must be free on the other address too
        try:
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.bind((sys.argv[2], s.getsockname()[1]))
            t.close()
        except OSError:
            s.close()
            continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

gen_certs() {
  local d="$dir/pki" apiserver_sans="IP:127.0.0.1,DNS:localhost"
  if [[ "$address" != 127.0.0.1 ]]; then apiserver_sans+=",IP:$address"; fi
  if [[ "$for_nodes" == 1 ]]; then
    # The `kubernetes` Service (first address of the range) and its names, for pods.
    local first
    first="$(python3 -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1])[1])' "$service_cidr")"
    apiserver_sans+=",IP:$first,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    apiserver_sans+=",DNS:kubernetes.default.svc.cluster.local"
  fi
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=osmosis-test-ca" \
      -keyout ca.key -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    # kube-apiserver serving certificate
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
      -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf '%s\n' "subjectAltName=$apiserver_sans" \
      "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "basicConstraints=CA:FALSE" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # admin client certificate (group system:masters)
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=osmosis-admin" \
      -keyout admin.key -out admin.csr 2>/dev/null
    printf '%s\n' "extendedKeyUsage=clientAuth" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "basicConstraints=CA:FALSE" >client.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile client.ext -out admin.crt 2>/dev/null
    if [[ "$for_nodes" == 1 ]]; then # the apiserver's identity towards kubelets
      openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
        -keyout kubelet-client.key -out kubelet-client.csr 2>/dev/null
      openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days 3650 -extfile client.ext -out kubelet-client.crt 2>/dev/null
    fi
    # service-account signing key pair
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
  ) || die "certificate generation with openssl failed"
}

write_kubeconfig() {
  local server="$1" b64="base64 -w0"
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: osmosis-test
  cluster:
    server: $server
    certificate-authority-data: $($b64 <"$dir/pki/ca.crt")
users:
- name: osmosis-admin
  user:
    client-certificate-data: $($b64 <"$dir/pki/admin.crt")
    client-key-data: $($b64 <"$dir/pki/admin.key")
contexts:
- name: osmosis-test
  context:
    cluster: osmosis-test
    user: osmosis-admin
    namespace: default
current-context: osmosis-test
EOF
  chmod 600 "$dir/kubeconfig"
}

# wait_for WHAT CMD...: polls CMD until it succeeds or the shared deadline passes.
wait_for() {
  local what="$1"
  shift
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "$what not ready after ${timeout_s}s"
      tail_logs 40
      do_down_quiet
      die "control plane did not come up (timeout waiting for $what); see the log lines above"
    fi
    if [[ -n "${wait_pid:-}" ]] && ! kill -0 "$wait_pid" 2>/dev/null; then
      log "$what exited while starting"
      tail_logs 40
      do_down_quiet
      die "control plane did not come up ($what died); see the log lines above"
    fi
    sleep 0.2
  done
}

do_down_quiet() { (do_down) >/dev/null 2>&1 || true; }

etcd_healthy() {
  [[ "$(curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health")" == *'"health":"true"'* ]]
}

apiserver_check() { # apiserver_check PATH
  [[ "$(curl -sf --max-time 3 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" \
    --key "$dir/pki/admin.key" "https://$address:$api_port$1")" == ok ]]
}

rbac_bootstrapped() {
  "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get namespace default &&
    "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get clusterrole cluster-admin &&
    "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get clusterrolebinding cluster-admin
}

start_watchdog() {
  local pid="$1"
  kill -0 "$pid" 2>/dev/null || {
    do_down_quiet
    die "--watch-pid $pid: no such process"
  }
  # tail --pid returns when PID exits; then `down` (run as this very process, so it
  # skips its own pid file) tears everything down. "$dir" is in the command line so
  # pid_of recognises it.
  # shellcheck disable=SC2016  # expanded by the inner bash
  start_bg watchdog bash -c 'tail --pid="$1" -f /dev/null; export OSMOSIS_CP_DIR="$2"; exec "$3" down' \
    watchdog "$pid" "$dir" "$script"
  log "watchdog (pid $(<"$dir/watchdog.pid")) will tear down when pid $pid exits"
}

do_up() {
  local watch_pid="${OSMOSIS_CP_WATCH_PID:-}"
  while (($#)); do
    case "$1" in
      --watch-pid)
        watch_pid="${2:?--watch-pid needs a PID}"
        shift 2
        ;;
      --watch-pid=*)
        watch_pid="${1#*=}"
        shift
        ;;
      *) die "up: unknown argument '$1'" ;;
    esac
  done
  if [[ -n "$watch_pid" ]] && ! [[ "$watch_pid" =~ ^[0-9]+$ ]]; then
    die "--watch-pid: '$watch_pid' is not a pid"
  fi

  bin="$(tools_bin)"
  local t
  for t in etcd kube-apiserver kubectl; do
    [[ -x "$bin/$t" ]] || die "$bin/$t not found: run hack/tools/build.sh (or hack/setup.sh) first"
  done
  if foreign_dir; then
    die "$dir exists and is not a control-plane state dir; choose another OSMOSIS_CP_DIR"
  fi

  lock
  if running; then
    log "already running, KUBECONFIG=$dir/kubeconfig"
    if [[ -n "$watch_pid" ]] && ! pid_of watchdog >/dev/null; then
      start_watchdog "$watch_pid"
    fi
    echo "export KUBECONFIG=$dir/kubeconfig"
    return 0
  fi
  # Partial or stale state (a pid file whose process is gone, or one component missing):
  # stop whatever is left and start clean.
  local name pid
  for name in "${components[@]}"; do
    if pid="$(pid_of "$name")"; then
      log "stopping leftover $name (pid $pid) from an incomplete control plane"
      stop_pid "$name" "$pid"
    fi
  done
  find "$dir" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
  touch "$dir/$marker"
  mkdir -p "$dir/logs" "$dir/apiserver-certs"
  mkdir -m 700 "$dir/etcd"

  local start=$SECONDS
  deadline=$((SECONDS + timeout_s))
  gen_certs

  local etcd_peer_port
  read -r etcd_port etcd_peer_port api_port <<<"$(free_ports 3)"

  local etcd_args=(
    --name default
    --data-dir "$dir/etcd"
    --listen-client-urls "http://127.0.0.1:$etcd_port"
    --advertise-client-urls "http://127.0.0.1:$etcd_port"
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port"
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port"
    --initial-cluster "default=http://127.0.0.1:$etcd_peer_port"
  )
  # (no `| grep -q`: with pipefail an early-exiting grep fails the pipeline via SIGPIPE)
  if [[ "$("$bin/etcd" --help 2>&1)" == *--unsafe-no-fsync* ]]; then
    etcd_args+=(--unsafe-no-fsync)
  fi
  log "starting etcd on 127.0.0.1:$etcd_port ($("$bin/etcd" --version | head -1))"
  start_bg etcd "$bin/etcd" "${etcd_args[@]}"
  wait_pid="$(<"$dir/etcd.pid")" wait_for "etcd /health" etcd_healthy

  local api_args=(
    --etcd-servers "http://127.0.0.1:$etcd_port"
    --cert-dir "$dir/apiserver-certs"
    --secure-port "$api_port"
    --bind-address "$address"
    --advertise-address "$address"
    --service-cluster-ip-range "$service_cidr"
    --allow-privileged=true
    --service-account-issuer "https://$address:$api_port/"
    --service-account-key-file "$dir/pki/sa.pub"
    --service-account-signing-key-file "$dir/pki/sa.key"
    --client-ca-file "$dir/pki/ca.crt"
    --tls-cert-file "$dir/pki/apiserver.crt"
    --tls-private-key-file "$dir/pki/apiserver.key"
  )
  if [[ "$for_nodes" == 1 ]]; then
    # shellcheck disable=SC2054  # Node,RBAC is one value
    api_args+=(
      --authorization-mode Node,RBAC
      --enable-admission-plugins NodeRestriction
      --kubelet-client-certificate "$dir/pki/kubelet-client.crt"
      --kubelet-client-key "$dir/pki/kubelet-client.key"
      # The node's address, never its name: a name would go to the machine's resolver.
      --kubelet-preferred-address-types InternalIP
    )
  else
    # No kubelet, no controller-manager: nothing would mount or create ServiceAccount tokens,
    # and nothing should be told the apiserver's address as an endpoint.
    api_args+=(
      --endpoint-reconciler-type none
      --disable-admission-plugins ServiceAccount
      --authorization-mode RBAC
    )
  fi
  if [[ -n "${OSMOSIS_CP_APISERVER_ARGS:-}" ]]; then
    local extra_args
    read -ra extra_args <<<"$OSMOSIS_CP_APISERVER_ARGS"
    api_args+=("${extra_args[@]}")
  fi
  printf '%s\n' "${api_args[@]}" >"$dir/apiserver.args" # for restart-apiserver
  log "starting kube-apiserver on https://$address:$api_port ($("$bin/kube-apiserver" --version))"
  start_bg kube-apiserver "$bin/kube-apiserver" "${api_args[@]}"
  write_kubeconfig "https://$address:$api_port"
  local api_pid
  api_pid="$(<"$dir/kube-apiserver.pid")"
  wait_pid="$api_pid" wait_for "kube-apiserver /healthz" apiserver_check /healthz
  wait_pid="$api_pid" wait_for "kube-apiserver /readyz" apiserver_check /readyz
  wait_pid="$api_pid" wait_for "default namespace and RBAC bootstrap roles" rbac_bootstrapped

  cat >"$dir/env.sh" <<EOF
export KUBECONFIG=$dir/kubeconfig
export OSMOSIS_CP_APISERVER=https://$address:$api_port
export OSMOSIS_CP_CA=$dir/pki/ca.crt
export OSMOSIS_CP_CA_KEY=$dir/pki/ca.key
export OSMOSIS_CP_CLIENT_CERT=$dir/pki/admin.crt
export OSMOSIS_CP_CLIENT_KEY=$dir/pki/admin.key
export OSMOSIS_CP_ETCD=http://127.0.0.1:$etcd_port
EOF

  if [[ -n "$watch_pid" ]]; then
    start_watchdog "$watch_pid"
  fi
  log "ready in $((SECONDS - start)) s: apiserver https://$address:$api_port, etcd http://127.0.0.1:$etcd_port, state in $dir"
  echo "export KUBECONFIG=$dir/kubeconfig"
}

# ---- env / status -------------------------------------------------------------------------

do_env() {
  if [[ -d "$dir" ]] && running; then
    echo "export KUBECONFIG=$dir/kubeconfig"
    return 0
  fi
  echo "control-plane: not running in $dir (start it with: hack/control-plane.sh up)" >&2
  return 1
}

do_status() {
  local name pid any=0
  if [[ ! -d "$dir" ]]; then
    echo "not running (no state dir $dir)"
    return 1
  fi
  for name in "${components[@]}"; do
    if pid="$(pid_of "$name")"; then
      echo "$name: running, pid $pid"
      any=1
    else
      echo "$name: not running"
    fi
  done
  if running; then
    grep -E '^export (KUBECONFIG|OSMOSIS_CP_APISERVER|OSMOSIS_CP_ETCD)=' "$dir/env.sh" 2>/dev/null ||
      echo "export KUBECONFIG=$dir/kubeconfig"
    return 0
  fi
  ((any)) && echo "incomplete: run hack/control-plane.sh down (or up, which cleans up first)"
  return 1
}

# Stops kube-apiserver and starts it again with the same port, flags, certificates and etcd
# (for tests of clients that must survive an API server restart).
do_restart_apiserver() {
  bin="$(tools_bin)"
  lock
  running || die "not running in $dir (start it with: hack/control-plane.sh up)"
  local pid args
  pid="$(pid_of kube-apiserver)"
  log "stopping kube-apiserver (pid $pid)"
  stop_pid kube-apiserver "$pid"
  mapfile -t args <"$dir/apiserver.args"
  api_port="$(sed -n 's|^export OSMOSIS_CP_APISERVER=https://[^:]*:||p' "$dir/env.sh")"
  address="$(sed -n 's|^export OSMOSIS_CP_APISERVER=https://\([^:]*\):.*|\1|p' "$dir/env.sh")"
  local start=$SECONDS
  deadline=$((SECONDS + timeout_s))
  start_bg kube-apiserver "$bin/kube-apiserver" "${args[@]}"
  local api_pid
  api_pid="$(<"$dir/kube-apiserver.pid")"
  wait_pid="$api_pid" wait_for "kube-apiserver /healthz" apiserver_check /healthz
  wait_pid="$api_pid" wait_for "kube-apiserver /readyz" apiserver_check /readyz
  log "kube-apiserver restarted in $((SECONDS - start)) s"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  up) do_up "$@" ;;
  down) do_down ;;
  restart-apiserver) do_restart_apiserver ;;
  env) do_env ;;
  status) do_status ;;
  logs) tail_logs "${1:-40}" 2>&1 ;;
  -h | --help | help) sed -n '2,25p' "$script" | sed 's/^# \{0,1\}//' ;;
  *)
    echo "usage: $0 up [--watch-pid PID] | down | restart-apiserver | env | status | logs [N]" >&2
    exit 2
    ;;
esac
