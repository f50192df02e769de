#!/usr/bin/env bash
# Every shell script in the tree passes `shellcheck -x` (Debian's shellcheck, hack/setup.sh):
# the *.sh files and the extension-less ones whose first line names bash or sh (.ci/run).
# Usage: tests/lint/shellcheck_test.sh SOURCE_DIR
set -euo pipefail
cd "$1"
command -v shellcheck >/dev/null || { echo "FAIL: shellcheck not found (hack/setup.sh installs it)" >&2; exit 1; }

scripts=()
while IFS= read -r -d '' f; do
  case "${f##*/}" in
    *.sh) scripts+=("$f") ;;
    *.*) ;;
    *) head -n1 "$f" | grep -qE '^#!.*\b(bash|sh)\b' && scripts+=("$f") ;;
  esac
done < <(if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
           git ls-files -z
         else
           find . -path ./build -prune -o -type f -print0
         fi)
((${#scripts[@]} > 0)) || { echo "FAIL: no scripts found in $PWD" >&2; exit 1; }
echo "checking ${#scripts[@]} scripts with $(shellcheck --version | sed -n 's/^version: //p')"
shellcheck -x "${scripts[@]}"
echo "PASS"
