#!/usr/bin/env bash
# Builds the container images with podman and saves each as an OCI archive that
# `hack/cluster.sh load` (and `up`, for pause and coredns) imports into the node's containerd.
# Nothing is pulled from a registry: the base is made here with mmdebstrap, and the binaries
# are the host's (a release build of ours, the pinned Go tools), put in through the
# Dockerfiles' `prebuilt` stage. `docker build` of the same Dockerfiles compiles from source
# on public base images instead (see docs/images.md).
#
#   hack/images.sh            build what changed (idempotent; quick when nothing did)
#   hack/images.sh --load     also load every image into the running cluster
#   hack/images.sh --print-dir  print the directory of the archives
#
# Images (all tagged :dev, under localhost/osmosis/):
#   osmosis-operator, osmosis-sidecar, osmosis-example-worker,  (operator/, sidecar/,
#   osmosis-gateway                                             gateway/)
#   nats-server, coredns, pause                                 (hack/images/*/)
#
# Environment: OSMOSIS_IMAGES_DIR (default ~/.cache/osmosis/images/current),
#   OSMOSIS_BENCH_BUILD_DIR (the release tree, default build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${HOME:-/root}/.cache/osmosis/images"
out="${OSMOSIS_IMAGES_DIR:-$cache/current}"
load=0
case "${1:-}" in
  --load) load=1 ;;
  --print-dir) echo "$out"; exit 0 ;;
  "") ;;
  -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "images.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

say() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }
t0=$SECONDS
for t in podman mmdebstrap gcc; do
  command -v "$t" >/dev/null || die "$t not found: run hack/setup.sh"
done
version="$(sed -n 's/^project(osmosis VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
mkdir -p "$cache" "$out"
exec 8>"$cache/.lock"
flock 8

# ---- the base: Debian 12 minbase with the C++ binaries' runtime libraries ------------------
# (the Dockerfiles' runtime-libs stage installs them with apt when a base lacks them; this one
# has them, so builds here need no network)
base_packages="libcpprest2.10,libnats3.4,libyaml-cpp0.7,libssl3"
base_key="$(echo "bookworm minbase $base_packages" | sha256sum | cut -c1-10)"
base_image="localhost/osmosis/base:bookworm-$base_key"
if ! podman image exists "$base_image"; then
  base_tar="$cache/base-bookworm-$base_key.tar"
  if [[ ! -f "$base_tar" ]]; then
    say "making the base with mmdebstrap (Debian 12 minbase + $base_packages; about 40 s)"
    start=$SECONDS
    rm -rf "$cache/.tmp-base.tar"
    # (mmdebstrap picks the output format from the name's extension)
    # Without the caller's open descriptors: mmdebstrap hands apt `cat >&N` for the lowest free
    # fd, and dash refuses N > 9 ("Bad fd number"), which happens under ctest (fds 8, 10, ...).
    python3 -c 'import os, sys; os.closerange(3, 4096); os.execvp(sys.argv[1], sys.argv[1:])' \
      mmdebstrap --variant=minbase --include="$base_packages" bookworm "$cache/.tmp-base.tar" \
      >"$cache/mmdebstrap.log" 2>&1 || { tail -20 "$cache/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $cache/mmdebstrap.log)"; }
    mv "$cache/.tmp-base.tar" "$base_tar"
    say "base made in $((SECONDS - start)) s"
  fi
  podman import "$base_tar" "$base_image" >/dev/null 2>&1 || die "podman import $base_tar failed"
fi

# ---- the binaries ---------------------------------------------------------------------------
tools_bin="${OSMOSIS_TOOLS_BIN:-$(hack/tools/build.sh --print-bin-dir)}"
node_bin="${OSMOSIS_NODE_BIN:-$(hack/tools/build.sh --print-node-bin-dir)}"
[[ -x "$tools_bin/nats-server" && -x "$node_bin/coredns" ]] || die "tools missing: run hack/tools/build.sh"
# shellcheck source=hack/bench/lib.sh
source hack/bench/lib.sh # sets $build
say "release build of osmosis-operator, osmosis-sidecar, osmosis-example-worker, osmosis-gateway in $build"
start=$SECONDS
bench_build osmosis-operator osmosis-sidecar osmosis-example-worker osmosis-gateway >"$cache/release-build.log" 2>&1 ||
  { tail -30 "$cache/release-build.log" >&2; die "release build failed (log: $cache/release-build.log)"; }
say "release build up to date in $((SECONDS - start)) s"
stage="$cache/context"
rm -rf "$stage"
mkdir -p "$stage/prebuilt"
build="${build:?}"
install -s "$build/operator/osmosis-operator" "$build/sidecar/osmosis-sidecar" \
  "$build/sidecar/example-worker/osmosis-example-worker" "$build/gateway/osmosis-gateway" "$stage/prebuilt/"
gcc -static -Os -s -Wall -Wextra -Werror -o "$stage/prebuilt/pause" hack/images/pause/pause.c
cp "$tools_bin/nats-server" "$tools_bin/nats" "$node_bin/coredns" "$stage/prebuilt/"

nats_version="$("$tools_bin/nats-server" --version | awk '{print $2}')"
coredns_version="$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" {print $3}' hack/tools/coredns/go.mod)"

# build NAME DOCKERFILE VERSION BINARY...: podman build unless the inputs (Dockerfile,
# binaries, base) are the ones the archive was made from; then save the OCI archive.
build() {
  local name="$1" dockerfile="$2" ver="$3" key start
  shift 3
  key="$({ cat "$dockerfile"; (cd "$stage/prebuilt" && sha256sum "$@"); echo "$base_image $ver"; } |
    sha256sum | cut -c1-16)"
  if [[ -f "$out/$name.tar" && "$(cat "$out/$name.key" 2>/dev/null)" == "$key" ]] &&
    podman image exists "localhost/osmosis/$name:dev"; then
    say "$name: up to date ($(du -h "$out/$name.tar" | cut -f1) archive)"
    return 0
  fi
  start=$SECONDS
  cp "$dockerfile" "$stage/Dockerfile"
  # --network none: nothing in these builds needs a network (binaries and libraries are in).
  podman build --network none --ulimit nofile=20000:20000 -f "$stage/Dockerfile" \
    --build-arg BASE_IMAGE="$base_image" --build-arg BINARIES=prebuilt \
    --build-arg VERSION="$ver" -t "localhost/osmosis/$name:dev" "$stage" >"$cache/build-$name.log" 2>&1 ||
    { tail -30 "$cache/build-$name.log" >&2; die "podman build of $name failed (log: $cache/build-$name.log)"; }
  rm -f "$out/$name.tar"
  podman save --format oci-archive -o "$out/$name.tar" "localhost/osmosis/$name:dev" >/dev/null 2>&1 ||
    die "podman save of $name failed"
  echo "$key" >"$out/$name.key"
  say "$name: built and saved in $((SECONDS - start)) s ($(podman image inspect --format '{{.Size}}' "localhost/osmosis/$name:dev" | numfmt --to=iec) image)"
}

build pause hack/images/pause/Dockerfile 1 pause
build coredns hack/images/coredns/Dockerfile "$coredns_version" coredns
build nats-server hack/images/nats-server/Dockerfile "$nats_version" nats-server nats
build osmosis-operator operator/Dockerfile "$version" osmosis-operator
build osmosis-sidecar sidecar/Dockerfile "$version" osmosis-sidecar
build osmosis-example-worker sidecar/example-worker/Dockerfile "$version" osmosis-example-worker
build osmosis-gateway gateway/Dockerfile "$version" osmosis-gateway
# The intermediate stages of replaced images (about 190 MB each) are of no further use.
podman image prune -f >/dev/null 2>&1 || true
say "images ready in $((SECONDS - t0)) s: $out"

if ((load)); then
  hack/cluster.sh load "$out"/*.tar
fi
