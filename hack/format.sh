#!/usr/bin/env bash
# clang-format every C++ file of the project; --check only reports (exit 1 if any differ).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-fix}
files=$(git ls-files --cached --others --exclude-standard -- '*.cpp' '*.hpp' '*.h' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
[ -n "$files" ] || exit 0
if [ "$mode" = "--check" ]; then
  # shellcheck disable=SC2086
  clang-format --dry-run -Werror $files
else
  # shellcheck disable=SC2086
  clang-format -i $files
fi
