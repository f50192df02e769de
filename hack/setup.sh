#!/usr/bin/env bash
# Installs what Osmosis needs to build and test, on Debian 12. Idempotent: safe to run twice,
# and quick when everything is already there. Prints what it does.
#
#   hack/setup.sh            packages + pinned test tools (kube-apiserver, kubectl, helm, nats,
#                            and the test cluster's kubelet & co, CoreDNS)
#   hack/setup.sh --no-tools packages only
set -euo pipefail
cd "$(dirname "$0")/.."

want_tools=1
for arg in "$@"; do
  case "$arg" in
    --no-tools) want_tools=0 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[setup] %s\n' "$*"; }
start=$(date +%s)

# Build and test dependencies, all from Debian (see docs/dependencies.md for why each is here).
packages=(
  build-essential cmake ninja-build pkg-config git python3 openssl curl
  libcpprest-dev nlohmann-json3-dev libnats-dev libyaml-cpp-dev libssl-dev
  libgtest-dev libgmock-dev libcli11-dev libboost1.74-dev
  clang-format ccache
  # every shell script is checked (ctest scripts_shellcheck)
  shellcheck
  # the scaling simulator's charts (hack/sim, docs/scaling-quality.md)
  gnuplot-nox
  # the gateway tests' WebSocket client (a client we did not write)
  python3-websockets
  # fuzzing (hack/fuzz.sh): clang with libFuzzer and its sanitizer runtimes
  clang libclang-rt-14-dev
  nats-server etcd-server
  # the test cluster (hack/cluster.sh) and its images (hack/images.sh)
  containerd runc containernetworking-plugins iptables nftables podman mmdebstrap
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "Debian packages: all ${#packages[@]} present"
fi

if ((want_tools)); then
  hack/tools/build.sh
fi

say "done in $(( $(date +%s) - start )) s"
