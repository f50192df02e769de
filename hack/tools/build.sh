#!/usr/bin/env bash
# Builds the pinned developer/test tools from Go modules and caches them outside the repo:
#
#   kube-apiserver, kubectl   k8s.io/kubernetes        (hack/tools/kube/go.mod)
#   helm                      helm.sh/helm/v3          (hack/tools/helm/go.mod)
#   nats-server               nats-server/v2           (hack/tools/nats-server/go.mod)
#   nats                      natscli                  (hack/tools/natscli/go.mod)
#   etcd                      see ETCD below
#
# and, as a second group with a cache key of its own (so adding or changing them never
# rebuilds the tools above), the binaries of the test cluster's node (hack/cluster.sh):
#
#   kubelet, kube-controller-manager, kube-scheduler, kube-proxy
#                             k8s.io/kubernetes, same pins  (hack/tools/node/go.mod)
#   coredns                   coredns with the cluster's plugins (hack/tools/coredns/)
#
# Each group lands in ${OSMOSIS_TOOLS_DIR:-$HOME/.cache/osmosis/tools}/<key>/bin/, where
# <key> names the pinned versions plus a hash of every go.mod/go.sum here and of the
# build recipe, so any pin change gives a new directory. A build goes to a temporary
# directory that is renamed into place only when complete: an interrupted build never
# leaves a half cache. When <key>/bin is already complete this script does nothing.
#
# Usage:
#   hack/tools/build.sh                  build both groups if needed (idempotent)
#   hack/tools/build.sh --only tools|node  build one group
#   hack/tools/build.sh --print-bin-dir  print the bin dir for the current pins, no build
#   hack/tools/build.sh --print-node-bin-dir  the same for the node group
#   hack/tools/build.sh --check          exit 0 if both bin dirs are complete, 1 if not
#   hack/tools/build.sh --print-key      print just the cache key (--print-node-key: node's)
#
# Then: PATH="$(hack/tools/build.sh --print-bin-dir):$PATH"
set -euo pipefail

# Bump when the way binaries are built changes (flags, layout), so caches are rebuilt.
RECIPE_VERSION=1
NODE_RECIPE_VERSION=1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools_root="${OSMOSIS_TOOLS_DIR:-${HOME:-/root}/.cache/osmosis/tools}"
# etcd: Debian's etcd-server (3.4.23) works with the pinned kube-apiserver (checked for
# real by tests/controlplane/*.sh), so bin/etcd is a symlink to it.
debian_etcd=/usr/bin/etcd

binaries=(kube-apiserver kubectl helm nats-server nats etcd)
node_binaries=(kubelet kube-controller-manager kube-scheduler kube-proxy coredns)

die() {
  echo "build.sh: error: $*" >&2
  exit 1
}

# gomod_version FILE MODULE: the version that FILE requires MODULE at (no go needed).
gomod_version() {
  local v
  v="$(awk -v m="$2" '
    /=>/ { next }
    $1 == "require" && $2 == m { print $3; exit }
    $1 == m && $2 ~ /^v/ { print $2; exit }' "$1")"
  [[ -n "$v" ]] || die "cannot find $2 in $1"
  printf '%s\n' "$v"
}

k8s_version="$(gomod_version "$here/kube/go.mod" k8s.io/kubernetes)"
helm_version="$(gomod_version "$here/helm/go.mod" helm.sh/helm/v3)"
nats_server_version="$(gomod_version "$here/nats-server/go.mod" github.com/nats-io/nats-server/v2)"
natscli_version="$(gomod_version "$here/natscli/go.mod" github.com/nats-io/natscli)"
node_k8s_version="$(gomod_version "$here/node/go.mod" k8s.io/kubernetes)"
coredns_version="$(gomod_version "$here/coredns/go.mod" github.com/coredns/coredns)"

pin_hash="$(
  cd "$here"
  {
    echo "recipe=$RECIPE_VERSION etcd=$debian_etcd"
    cat kube/go.mod kube/go.sum helm/go.mod helm/go.sum \
      nats-server/go.mod nats-server/go.sum natscli/go.mod natscli/go.sum
  } | sha256sum | cut -c1-10
)"
key="k8s-${k8s_version}_helm-${helm_version}_nats-${nats_server_version}_natscli-${natscli_version}_${pin_hash}"
final_dir="$tools_root/$key"
bin_dir="$final_dir/bin"

node_hash="$(
  cd "$here"
  {
    echo "recipe=$NODE_RECIPE_VERSION"
    cat node/go.mod node/go.sum coredns/go.mod coredns/go.sum coredns/*.go
  } | sha256sum | cut -c1-10
)"
node_key="node-k8s-${node_k8s_version}_coredns-${coredns_version}_${node_hash}"
node_final_dir="$tools_root/$node_key"
node_bin_dir="$node_final_dir/bin"

# complete DIR BINARY...: DIR/.complete exists and every DIR/bin/BINARY is executable.
complete() {
  local dir="$1" b
  shift
  [[ -f "$dir/.complete" ]] || return 1
  for b in "$@"; do
    [[ -x "$dir/bin/$b" ]] || return 1
  done
}
tools_complete() { complete "$final_dir" "${binaries[@]}"; }
node_complete() { complete "$node_final_dir" "${node_binaries[@]}"; }

groups=(tools node)
case "${1:-}" in
  --print-bin-dir)
    printf '%s\n' "$bin_dir"
    exit 0
    ;;
  --print-node-bin-dir)
    printf '%s\n' "$node_bin_dir"
    exit 0
    ;;
  --print-key)
    printf '%s\n' "$key"
    exit 0
    ;;
  --print-node-key)
    printf '%s\n' "$node_key"
    exit 0
    ;;
  --check)
    status=0
    if tools_complete; then echo "tools complete in $bin_dir"; else
      echo "tools missing in $bin_dir: run hack/tools/build.sh" >&2
      status=1
    fi
    if node_complete; then echo "node tools complete in $node_bin_dir"; else
      echo "node tools missing in $node_bin_dir: run hack/tools/build.sh" >&2
      status=1
    fi
    exit "$status"
    ;;
  --only)
    case "${2:-}" in
      tools | node) groups=("$2") ;;
      *) die "--only takes 'tools' or 'node', got '${2:-}'" ;;
    esac
    ;;
  "") ;;
  -h | --help)
    sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    die "unknown argument '$1' (try --help)"
    ;;
esac

need_build=()
for g in "${groups[@]}"; do
  if "${g}_complete"; then
    if [[ "$g" == tools ]]; then echo "tools up to date: $bin_dir"; else echo "node tools up to date: $node_bin_dir"; fi
  else
    need_build+=("$g")
  fi
done
((${#need_build[@]})) || exit 0

# ---- a build is needed ----------------------------------------------------------------
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go or go on PATH)"

mkdir -p "$tools_root"
# Defaults for GOCACHE/GOMODCACHE (outside the repo). -mod=readonly: the committed
# go.mod/go.sum must already be complete; a build never rewrites them.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

tmp_dir=""
cleanup() { [[ -z "$tmp_dir" ]] || rm -rf "$tmp_dir"; }
trap cleanup EXIT

# build NAME VERSION MODULE_DIR PACKAGE [LDFLAGS]: go build into $tmp_dir/bin/NAME.
build() {
  local name="$1" version="$2" dir="$3" pkg="$4" ldflags="-s -w ${5:-}"
  local start=$SECONDS
  printf 'building %s %s ... ' "$name" "$version"
  if ! (cd "$here/$dir" && nice -n 10 go build -trimpath -ldflags="$ldflags" \
    -o "$tmp_dir/bin/$name" "$pkg") >"$tmp_dir/$name.log" 2>&1; then
    echo "FAILED after $((SECONDS - start)) s"
    cat "$tmp_dir/$name.log" >&2
    die "building $name failed"
  fi
  echo "done in $((SECONDS - start)) s"
}

# Kubernetes binaries report their version like a release build.
k8s_ldflags() {
  local version="$1" minor flags="" p
  minor="$(cut -d. -f2 <<<"$version")"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    flags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s\n' "$flags"
}

# with_group_lock NAME LOCK KEY FINAL_DIR COMPLETE_FN BUILD_FN: one build per group at a
# time (a second caller waits, then finds the cache complete); builds into a temporary
# dir that is renamed into place only when complete.
with_group_lock() {
  local name="$1" lockfile="$2" gkey="$3" gfinal="$4" is_complete="$5" build_fn="$6"
  exec 9>"$tools_root/$lockfile"
  if ! flock -n 9; then
    echo "another build.sh is building $name in $tools_root; waiting for it ..."
    flock 9
  fi
  if "$is_complete"; then
    echo "$name up to date: $gfinal/bin (built by a concurrent run)"
    exec 9>&-
    return 0
  fi
  # Holding the lock, any leftover temporary dir of this group is from an interrupted run.
  rm -rf "$tools_root/.tmp-$gkey-"* "$gfinal"
  tmp_dir="$tools_root/.tmp-$gkey-$$"
  mkdir -p "$tmp_dir/bin"
  echo "building $name into $gfinal (go: $(go version | cut -d' ' -f3), $(nproc) cores)"
  local total_start=$SECONDS
  "$build_fn"
  rm -f "$tmp_dir"/*.log
  {
    echo "key=$gkey"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds=$((SECONDS - total_start))"
    echo "go=$(go version)"
  } >"$tmp_dir/.complete"
  mv -T "$tmp_dir" "$gfinal"
  tmp_dir=""
  exec 9>&-
  echo "all $name built in $((SECONDS - total_start)) s: $gfinal/bin"
}

build_tools() {
  [[ -x "$debian_etcd" ]] || die "$debian_etcd not found: apt-get install -y etcd-server"
  local ldflags
  ldflags="$(k8s_ldflags "$k8s_version")"
  build kube-apiserver "$k8s_version" kube k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
  build kubectl "$k8s_version" kube k8s.io/kubernetes/cmd/kubectl "$ldflags"
  build helm "$helm_version" helm helm.sh/helm/v3/cmd/helm \
    "-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  build nats-server "$nats_server_version" nats-server github.com/nats-io/nats-server/v2
  build nats "$natscli_version" natscli github.com/nats-io/natscli/nats "-X main.version=$natscli_version"
  ln -s "$debian_etcd" "$tmp_dir/bin/etcd"
  echo "etcd: symlink to $debian_etcd ($("$debian_etcd" --version | head -1))"
}

build_node() {
  local ldflags b
  ldflags="$(k8s_ldflags "$node_k8s_version")"
  for b in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    build "$b" "$node_k8s_version" node "k8s.io/kubernetes/cmd/$b" "$ldflags"
  done
  build coredns "$coredns_version" coredns . \
    "-X github.com/coredns/coredns/coremain.GitCommit=$coredns_version"
}

for g in "${need_build[@]}"; do
  case "$g" in
    tools) with_group_lock tools .lock "$key" "$final_dir" tools_complete build_tools ;;
    node) with_group_lock "node tools" .lock-node "$node_key" "$node_final_dir" node_complete build_node ;;
  esac
done
