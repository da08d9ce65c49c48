#!/usr/bin/env bash
# The method comparison on the embedded synthetic benchmark (docs/results_synthetic.md):
# every pipeline in configs/pipelines/*_synthetic.py, one after the other, then one table.
#   bash tools/analysis/run_synthetic_comparison.sh [WORK_ROOT]     (default work_dirs/compare)
# OAA+ / OAA++⁺ reuse the cumulative maps of the OAA / OAA++ runs as their stage 0 (the
# two-step route of configs/pipelines/oaa-plus_synthetic.py) instead of retraining them.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${1:-work_dirs/compare}
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
run() {  # name, extra --cfg-options...
  local name=$1; shift
  "$PY" tools/pipeline.py "configs/pipelines/${name}_synthetic.py" --work-dir "$ROOT/$name" "$@"
}
SNAPSHOTS='stage1.cfg_options.custom_hooks.0.snapshot_ids=[train_00000,train_00001,train_00002,train_00003,train_00004,train_00005]'
run cam
run cam_saliency
run oaa-avg
run oaa --cfg-options "$SNAPSHOTS"
run oaa-drop --cfg-options "$SNAPSHOTS"
MAPS_KEY=stage1.cfg_options.train_dataloader.dataset.pipeline.1.map_dir
run oaa-plus --cfg-options stage0=None "$MAPS_KEY=$ROOT/oaa/stage1/cumulative_maps"
run oaa-drop-plus --cfg-options stage0=None "$MAPS_KEY=$ROOT/oaa-drop/stage1/cumulative_maps"
"$PY" tools/analysis/collect_results.py "$ROOT"/{cam,cam_saliency,oaa-avg,oaa,oaa-drop,oaa-plus,oaa-drop-plus}
