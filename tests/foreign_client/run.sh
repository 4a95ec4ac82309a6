#!/usr/bin/env bash
# Runs the foreign grpcio client suite against a real `bordermesh up`.
#   VENV            virtualenv to create or reuse (default: <repo>/.ci/venv)
#   BORDERMESH_BIN  the binary under test (default: <repo>/target/debug/bordermesh)
# Extra arguments go to pytest. Exits with pytest's exit code.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-$repo/.ci/venv}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

cd "$repo"
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" "$@"
status=$?
set -e
exit "$status"
