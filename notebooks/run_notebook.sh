#!/usr/bin/env bash
# Executes a notebook against a run or sweep folder, in a private venv outside the source
# tree.
#
#   notebooks/run_notebook.sh [RUN_DIR] [OUT.ipynb]            # explore_run.ipynb
#   notebooks/run_notebook.sh --sweep SWEEP_DIR [OUT.ipynb]    # explore_sweep.ipynb
#
# RUN_DIR defaults to $STICKYSIM_RUN, else output/matrixrtc_call/seed-42; SWEEP_DIR to
# $STICKYSIM_SWEEP, else output/sweep_rate_limit/sweep. The executed notebook is written to
# OUT.ipynb (default: a temporary file, removed). Exits non-zero when any cell raises, 2
# when the folder does not exist. Environment:
#   PYTHON             interpreter that creates the venv (default: python3.11, else python3)
#   STICKYSIM_NB_VENV  where the venv lives (default: ~/.cache/stickysim/notebook-venv, or
#                      $XDG_CACHE_HOME/stickysim/notebook-venv): never inside the checkout,
#                      where cargo, editors and `git status` would trip over it
#   STICKYSIM_METRIC, STICKYSIM_KEY   the sweep notebook's chart (default: first headline
#                      metric, last swept key)
#   PIP_INDEX_URL etc. are honoured by pip as usual.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
if [[ "${1:-}" == "--sweep" ]]; then
  shift
  notebook="$here/explore_sweep.ipynb"
  var=STICKYSIM_SWEEP
  run_dir="${1:-${STICKYSIM_SWEEP:-$root/output/sweep_rate_limit/sweep}}"
  what="sweep folder"
  hint="stickysim sweep SCENARIO"
else
  notebook="$here/explore_run.ipynb"
  var=STICKYSIM_RUN
  run_dir="${1:-${STICKYSIM_RUN:-$root/output/matrixrtc_call/seed-42}}"
  what="run folder"
  hint="stickysim run"
fi
out="${2:-}"

if [[ ! -d "$run_dir" ]]; then
  echo "run_notebook: no $what at $run_dir (run \`$hint\` first, or pass a folder)" >&2
  exit 2
fi
run_dir="$(cd "$run_dir" && pwd)"

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
venv="${STICKYSIM_NB_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stickysim/notebook-venv}"
case "$(cd "$(dirname "$venv")" 2>/dev/null && pwd)/" in
  "$root"/*) echo "run_notebook: $venv is inside the source tree; set STICKYSIM_NB_VENV to a folder outside it" >&2; exit 2 ;;
esac
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "run_notebook: creating $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
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

env "$var=$run_dir" "$venv/bin/python" - "$notebook" "$out" <<'PY'
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
