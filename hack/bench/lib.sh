# shellcheck shell=bash
# Sourced by the benchmark scripts and the demo: the release tree they share.
# bench_build TARGET...: configure $build (RelWithDebInfo, no sanitizers; warnings not fatal,
# since GCC 12 -O2 reports a false -Wnull-dereference inside CLI11) and build TARGETs.
build=${OSMOSIS_BENCH_BUILD_DIR:-build/bench}
export OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN:-$(hack/tools/build.sh --print-bin-dir)}
bench_build() {
  mkdir -p "$build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOSMOSIS_WERROR=OFF \
    >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; return 1; }
  nice cmake --build "$build" -j2 --target "$@"
  mkdir -p hack/bench/results
}
