#!/usr/bin/env bash
# The test command: the whole suite, failing on any skipped test when CI=true
# (CI provides every component, so a skip there means a missing install step).
set -uo pipefail
cd "$(dirname "$0")/.."
# the checks configured in pyproject.toml: the package layering ([tool.importlinter]:
# imports only point down), the linter and the type checker; each prints only on failure
for check in "lint-imports --no-cache" "ruff check --quiet ." "mypy"; do
    out=$($check 2>&1) || { printf '%s: failed\n%s\n' "$check" "$out" >&2; exit 1; }
done
args=(-q -rs)
if [ "${CI:-}" = "true" ]; then
    python3 -m pytest "${args[@]}" -p codegen_ttc.testing.no_skips "$@"
else
    python3 -m pytest "${args[@]}" "$@"
fi
