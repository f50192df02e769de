#!/usr/bin/env bash
# docs/scaling-quality.md's "All scalers, each trace" tables are what osmosis-sim prints for the
# shipped traces today: an engine change that moves a number must update the page with it.
#   sim_doc_tables_test.sh OSMOSIS_SIM DOC TRACE...
set -euo pipefail
sim=$1 doc=$2
shift 2
tables() { grep -E '^(####|\|)' || true; }
want=$("$sim" --markdown "$@" | tables)
have=$(awk '/^### All scalers, each trace/ { on = 1; next } on && /^### / { on = 0 } on' "$doc" | tables)
[[ -n "$want" ]] || { echo "FAIL: osmosis-sim --markdown printed no table" >&2; exit 1; }
if [[ "$want" != "$have" ]]; then
  echo "FAIL: $doc's tables under \"All scalers, each trace\" differ from osmosis-sim's" >&2
  echo "(regenerate: osmosis-sim --markdown hack/sim/traces/*.csv); - the page, + the simulator:" >&2
  diff <(printf '%s\n' "$have") <(printf '%s\n' "$want") >&2 || true
  exit 1
fi
echo "PASS: $(grep -c '^####' <<<"$want") traces, the page matches the simulator"
