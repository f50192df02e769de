#!/usr/bin/env bash
# hack/control-plane.sh lifecycle: a second `up` reports "already running" and changes
# nothing; `env`/`status`; a half-dead control plane is cleaned up by the next `up`;
# `down` leaves no process of that state dir; the watchdog tears everything down when the
# watched process dies.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

procs_of() { pgrep -f -- "$1" >/dev/null; } # any process whose command line names $1?
no_procs_of() { ! procs_of "$1"; }

cp_start
dir="$OSMOSIS_CP_DIR"
etcd_pid="$(<"$dir/etcd.pid")"
api_pid="$(<"$dir/kube-apiserver.pid")"
procs_of "$dir/etcd" || fail "no etcd process names $dir"
kill -0 "$api_pid" || fail "kube-apiserver pid $api_pid is not running"
[[ "$(ps -o sid= -p "$api_pid" | tr -d ' ')" == "$api_pid" ]] ||
  fail "kube-apiserver does not run in its own session"

# --- a second up ---
out="$("$CP" up --watch-pid $$ 2>&1)" || fail "second up failed: $out"
grep -q "already running, KUBECONFIG=$dir/kubeconfig" <<<"$out" ||
  fail "second up did not say 'already running': $out"
[[ "$(<"$dir/etcd.pid")" == "$etcd_pid" && "$(<"$dir/kube-apiserver.pid")" == "$api_pid" ]] ||
  fail "second up replaced the running processes"
kubectl get namespace default >/dev/null || fail "the API server stopped answering after a second up"
[[ "$("$CP" env)" == "export KUBECONFIG=$dir/kubeconfig" ]] || fail "env printed '$("$CP" env)'"
status="$("$CP" status)" || fail "status exits non-zero while running: $status"
grep -q 'kube-apiserver: running' <<<"$status" || fail "status does not show kube-apiserver running: $status"
info "second up: already running, same processes"

# --- a dead apiserver (stale pid file): the next up cleans up and starts fresh ---
kill -KILL "$api_pid"
poll "killed kube-apiserver $api_pid to exit" 10 bash -c "! kill -0 $api_pid"
if "$CP" env >/dev/null 2>&1; then fail "env claims running with kube-apiserver dead"; fi
out="$("$CP" up --watch-pid $$ 2>&1)" || fail "up after a dead apiserver failed: $out"
grep -q 'leftover etcd' <<<"$out" || fail "up did not clean up the leftover etcd: $out"
kill -0 "$etcd_pid" 2>/dev/null && fail "old etcd $etcd_pid still runs after restart"
kubectl get namespace default >/dev/null || fail "restarted control plane does not answer"
info "up after a half-dead control plane: cleaned up and restarted"

# --- down ---
"$CP" down || fail "down failed"
poll "no process naming $dir after down" 5 no_procs_of "$dir"
[[ ! -e "$dir" ]] || fail "down left $dir behind"
if "$CP" env >/dev/null 2>&1; then fail "env exits 0 after down"; fi
if "$CP" status >/dev/null 2>&1; then fail "status exits 0 after down"; fi
"$CP" down >/dev/null 2>&1 || fail "a second down (nothing running) failed"
info "down: no process left, state dir removed, second down is harmless"

# --- watchdog ---
export OSMOSIS_CP_DIR="$WORK/cp-watched"
dir="$OSMOSIS_CP_DIR"
sleep 1000 &
sleeper=$!
CLEANUPS+=("kill $sleeper 2>/dev/null")
"$CP" up --watch-pid "$sleeper" >/dev/null || fail "up --watch-pid $sleeper failed"
procs_of "$dir/etcd" || fail "no etcd process for $dir"
watchdog_pid="$(<"$dir/watchdog.pid")"
kill "$sleeper"
wait "$sleeper" 2>/dev/null || true
poll "the watchdog to stop everything of $dir" 30 no_procs_of "$dir"
poll "the watchdog to remove $dir" 10 test ! -e "$dir"
poll "the watchdog $watchdog_pid to exit after its teardown" 10 bash -c "! kill -0 $watchdog_pid"
info "watchdog: everything of $dir stopped after the watched pid exited"
