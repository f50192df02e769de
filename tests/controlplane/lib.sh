#!/usr/bin/env bash
# Shared helpers for tests/controlplane/*_test.sh (sourced, not a test itself).
#
# A test sources this, calls cp_start, and gets: its own control plane in a private
# OSMOSIS_CP_DIR under a mktemp dir, a watchdog on the test's own pid ($$), KUBECONFIG
# exported, the pinned kubectl first on PATH, and an EXIT trap that runs `down`, prints
# the control-plane logs if the test failed, and removes the temp dir.
#
# Tools: OSMOSIS_TOOLS_BIN (set by ctest) or hack/tools/build.sh --print-bin-dir.
set -euo pipefail

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  echo "lib.sh is a helper sourced by the *_test.sh scripts, not a test" >&2
  exit 0
fi

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CP="$REPO_ROOT/hack/control-plane.sh"
TEST_NAME="$(basename "$0" .sh)"

fail() {
  echo "FAIL: $TEST_NAME: $*" >&2
  exit 1
}
info() { echo "[$TEST_NAME] $*"; }

# poll DESCRIPTION SECONDS CMD...: run CMD until it succeeds; fail after SECONDS.
poll() {
  local desc="$1" secs="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for: $desc"
    sleep 0.2
  done
}

if [[ -z "${OSMOSIS_TOOLS_BIN:-}" ]]; then
  OSMOSIS_TOOLS_BIN="$("$REPO_ROOT/hack/tools/build.sh" --print-bin-dir)"
fi
export OSMOSIS_TOOLS_BIN
for _tool in etcd kube-apiserver kubectl; do
  [[ -x "$OSMOSIS_TOOLS_BIN/$_tool" ]] ||
    fail "$OSMOSIS_TOOLS_BIN/$_tool missing: run hack/tools/build.sh (or hack/setup.sh) first"
done
unset _tool
# The pinned kubectl, not whatever else is on PATH.
export PATH="$OSMOSIS_TOOLS_BIN:$PATH"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/osmosis-cptest.XXXXXX")"
export OSMOSIS_CP_DIR="$WORK/cp"
unset KUBECONFIG OSMOSIS_CP_WATCH_PID

# Extra cleanups a test registers (each an eval'd string), run before `down`.
CLEANUPS=()

_cp_cleanup() {
  local rc=$? c
  trap - EXIT
  for c in "${CLEANUPS[@]}"; do
    eval "$c" || true
  done
  if ((rc != 0)) && [[ -d "$OSMOSIS_CP_DIR" ]]; then
    "$CP" logs 30 >&2 || true
  fi
  "$CP" down >/dev/null 2>&1 || echo "[$TEST_NAME] warning: control-plane down failed" >&2
  rm -rf "$WORK"
  if ((rc == 0)); then
    echo "PASS: $TEST_NAME"
  else
    echo "FAIL: $TEST_NAME (exit $rc)" >&2
  fi
  exit "$rc"
}
trap _cp_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# cp_start: bring up this test's control plane and export KUBECONFIG.
cp_start() {
  local out start=$SECONDS
  out="$("$CP" up --watch-pid $$)" || fail "hack/control-plane.sh up failed"
  eval "$out"
  [[ -n "${KUBECONFIG:-}" && -f "$KUBECONFIG" ]] || fail "up did not print a usable KUBECONFIG ($out)"
  info "control plane ready in $((SECONDS - start)) s ($KUBECONFIG)"
}
