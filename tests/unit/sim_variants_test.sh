#!/usr/bin/env bash
# osmosis-sim --variant and --only from the command line (docs/scaling-quality.md): a variant
# that changes nothing replays exactly as osmosis-drain, one that changes the window does not,
# and a bad one is refused with exit code 2 and a reason; --only keeps the scalers named.
#   sim_variants_test.sh OSMOSIS_SIM TRACE
set -euo pipefail
sim=$1 trace=$2
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
row() { awk -v n="$1" '$1 == n { $1 = ""; print }' <<<"$out"; }

out=$("$sim" --variant same:stabilizationSeconds=60 --variant w30:stabilizationSeconds=30 "$trace")
printf '%s\n' "$out"
[[ -n "$(row osmosis-drain)" ]] || fail "no osmosis-drain row"
[[ "$(row same)" == "$(row osmosis-drain)" ]] || fail "same differs from osmosis-drain"
[[ -n "$(row w30)" && "$(row w30)" != "$(row osmosis-drain)" ]] || fail "w30 missing or unchanged"

for bad in "w30" "w30:window=30" "keda-hpa:headroom=1.1"; do
  status=0
  err=$("$sim" --variant "$bad" "$trace" 2>&1 >/dev/null) || status=$?
  [[ $status -eq 2 ]] || fail "--variant $bad: exit $status, not 2"
  [[ "$err" == "osmosis-sim: --variant $bad: "* ]] || fail "--variant $bad: no reason: $err"
  printf 'refused as expected: %s\n' "$err"
done
status=0
"$sim" --variant a:headroom=1.1 --variant a:headroom=1.3 "$trace" >/dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "a name given twice: exit $status, not 2"

# --only: those scalers alone, in the table (and the chart); a name not in the run is refused,
# and so is --check without the two scalers it compares.
out=$("$sim" --variant w30:stabilizationSeconds=30 --only w30,osmosis-drain "$trace")
rows=$(awk '$2 ~ /^[0-9.]+$/ { print $1 }' <<<"$out" | paste -sd,)
[[ "$rows" == "osmosis-drain,w30" ]] || fail "--only w30,osmosis-drain printed rows $rows"
status=0
"$sim" --only nope "$trace" >/dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "--only nope: exit $status, not 2"
status=0
"$sim" --only osmosis-drain --check p99 "$trace" >/dev/null 2>&1 || status=$?
[[ $status -eq 2 ]] || fail "--only without keda-hpa and --check: exit $status, not 2"
echo "PASS"
