#!/usr/bin/env bash
# Builds the pinned developer/test tools from Go modules and caches them outside the repo:
#
#   kube-apiserver, kubectl   k8s.io/kubernetes        (hack/tools/kube/go.mod)
#   helm                      helm.sh/helm/v3          (hack/tools/helm/go.mod)
#   nats-server               nats-server/v2           (hack/tools/nats-server/go.mod)
#   nats                      natscli                  (hack/tools/natscli/go.mod)
#   etcd                      see ETCD below
#
# The binaries land in ${OSMOSIS_TOOLS_DIR:-$HOME/.cache/osmosis/tools}/<key>/bin/, where
# <key> names the pinned versions plus a hash of every go.mod/go.sum here and of the
# build recipe, so any pin change gives a new directory. A build goes to a temporary
# directory that is renamed into place only when complete: an interrupted build never
# leaves a half cache. When <key>/bin is already complete this script does nothing.
#
# Usage:
#   hack/tools/build.sh                  build if needed (idempotent)
#   hack/tools/build.sh --print-bin-dir  print the bin dir for the current pins, no build
#   hack/tools/build.sh --check          exit 0 if the bin dir is complete, 1 if not
#   hack/tools/build.sh --print-key      print just the cache key
#
# Then: PATH="$(hack/tools/build.sh --print-bin-dir):$PATH"
set -euo pipefail

# Bump when the way binaries are built changes (flags, layout), so caches are rebuilt.
RECIPE_VERSION=1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools_root="${OSMOSIS_TOOLS_DIR:-${HOME:-/root}/.cache/osmosis/tools}"
# etcd: Debian's etcd-server (3.4.23) works with the pinned kube-apiserver (checked for
# real by tests/controlplane/*.sh), so bin/etcd is a symlink to it.
debian_etcd=/usr/bin/etcd

binaries=(kube-apiserver kubectl helm nats-server nats etcd)

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

complete() {
  [[ -f "$final_dir/.complete" ]] || return 1
  local b
  for b in "${binaries[@]}"; do
    [[ -x "$bin_dir/$b" ]] || return 1
  done
}

case "${1:-}" in
  --print-bin-dir)
    printf '%s\n' "$bin_dir"
    exit 0
    ;;
  --print-key)
    printf '%s\n' "$key"
    exit 0
    ;;
  --check)
    if complete; then
      echo "tools complete in $bin_dir"
      exit 0
    fi
    echo "tools missing in $bin_dir: run hack/tools/build.sh" >&2
    exit 1
    ;;
  "") ;;
  -h | --help)
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    die "unknown argument '$1' (try --help)"
    ;;
esac

if complete; then
  echo "tools up to date: $bin_dir"
  exit 0
fi

# ---- a build is needed ----------------------------------------------------------------
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go or go on PATH)"
[[ -x "$debian_etcd" ]] || die "$debian_etcd not found: apt-get install -y etcd-server"

mkdir -p "$tools_root"
# One build at a time per tools dir; a second caller waits, then finds the cache complete.
exec 9>"$tools_root/.lock"
if ! flock -n 9; then
  echo "another build.sh is running in $tools_root; waiting for it ..."
  flock 9
fi
if complete; then
  echo "tools up to date: $bin_dir (built by a concurrent run)"
  exit 0
fi
# Holding the lock, any leftover temporary dir is from an interrupted run.
rm -rf "$tools_root"/.tmp-* "$final_dir"

tmp_dir="$tools_root/.tmp-$key-$$"
cleanup() { rm -rf "$tmp_dir"; }
trap cleanup EXIT
mkdir -p "$tmp_dir/bin"

# Defaults for GOCACHE/GOMODCACHE (outside the repo). -mod=readonly: the committed
# go.mod/go.sum must already be complete; a build never rewrites them.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

echo "building tools into $final_dir (go: $(go version | cut -d' ' -f3), $(nproc) cores)"
total_start=$SECONDS

# build NAME VERSION MODULE_DIR PACKAGE [LDFLAGS]
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

k8s_minor="$(cut -d. -f2 <<<"$k8s_version")"
k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

build kube-apiserver "$k8s_version" kube k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build kubectl "$k8s_version" kube k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags"
build helm "$helm_version" helm helm.sh/helm/v3/cmd/helm \
  "-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
build nats-server "$nats_server_version" nats-server github.com/nats-io/nats-server/v2
build nats "$natscli_version" natscli github.com/nats-io/natscli/nats "-X main.version=$natscli_version"

ln -s "$debian_etcd" "$tmp_dir/bin/etcd"
echo "etcd: symlink to $debian_etcd ($("$debian_etcd" --version | head -1))"

rm -f "$tmp_dir"/*.log
{
  echo "key=$key"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "seconds=$((SECONDS - total_start))"
  echo "go=$(go version)"
} >"$tmp_dir/.complete"
mv -T "$tmp_dir" "$final_dir"
trap - EXIT

echo "all tools built in $((SECONDS - total_start)) s: $bin_dir"
