#!/usr/bin/env bash
# The test command: the whole suite, failing on any skipped test when CI=true
# (CI provides every component, so a skip there means a missing install step).
set -uo pipefail
cd "$(dirname "$0")/.."
# the package layering (pyproject.toml, [tool.importlinter]): imports only point down
layering=$(lint-imports --no-cache 2>&1) || { printf '%s\n' "$layering" >&2; exit 1; }
args=(-q -rs)
if [ "${CI:-}" = "true" ]; then
    python3 -m pytest "${args[@]}" -p codegen_ttc.testing.no_skips "$@"
else
    python3 -m pytest "${args[@]}" "$@"
fi
