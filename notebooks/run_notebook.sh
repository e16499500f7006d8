#!/usr/bin/env bash
# Executes notebooks/explore_run.ipynb against a run folder, in a private venv.
#
#   notebooks/run_notebook.sh [RUN_DIR] [OUT.ipynb]
#
# RUN_DIR defaults to $STICKYSIM_RUN, else output/matrixrtc_call/seed-42.
# The executed notebook is written to OUT.ipynb (default: a temporary file, removed).
# Exits non-zero when any cell raises. Environment:
#   PYTHON             interpreter that creates the venv (default: python3.11, else python3)
#   STICKYSIM_NB_VENV  where the venv lives (default: target/notebook-venv)
#   PIP_INDEX_URL etc. are honoured by pip as usual.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
run_dir="${1:-${STICKYSIM_RUN:-$root/output/matrixrtc_call/seed-42}}"
out="${2:-}"

if [[ ! -d "$run_dir" ]]; then
  echo "run_notebook: no run folder at $run_dir (run \`stickysim run\` first, or pass a folder)" >&2
  exit 2
fi
run_dir="$(cd "$run_dir" && pwd)"

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
venv="${STICKYSIM_NB_VENV:-$root/target/notebook-venv}"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "run_notebook: creating $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi

cleanup=""
if [[ -z "$out" ]]; then
  out="$(mktemp --suffix=.ipynb)"
  cleanup="$out"
fi
trap '[[ -n "$cleanup" ]] && rm -f "$cleanup"' EXIT

STICKYSIM_RUN="$run_dir" "$venv/bin/python" - "$here/explore_run.ipynb" "$out" <<'PY'
import sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

src, out = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(
    nb,
    timeout=600,
    kernel_name="python3",
    resources={"metadata": {"path": __import__("os").path.dirname(src)}},
)
try:
    client.execute()
except CellExecutionError as e:
    nbformat.write(nb, out)
    print(f"run_notebook: a cell failed:\n{e}", file=sys.stderr)
    sys.exit(1)
nbformat.write(nb, out)
print(f"run_notebook: executed {len(nb.cells)} cells of {src}")
PY
