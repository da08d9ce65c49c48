#!/usr/bin/env bash
# The method comparison on the embedded synthetic benchmark (docs/results_synthetic.md):
# the pipelines configs/pipelines/<method>_synthetic.py one after the other, then one table.
#   bash tools/analysis/run_synthetic_comparison.sh [WORK_ROOT [METHOD ...]]
# WORK_ROOT defaults to work_dirs/compare, the methods to all of them in dependency order
# (cam cam_saliency oaa-avg oaa oaa-drop oaa-plus oaa-drop-plus oaa-authors oaa-drop-authors
# oaa-plus-authors oaa-drop-plus-authors seenet-cam seenet seenet-nosignflip mcis cam-irn
# rpnet rpnet-irn). OAA+ / OAA++⁺ reuse the cumulative maps of the OAA / OAA++ runs in
# WORK_ROOT (their `maps` step; with the authors' settings the stored maps the recorder wrote
# to stage1/cumulative_maps_raw) instead of training stage 0 again (the route described in
# configs/pipelines/oaa-plus_synthetic.py). `<method>-pretrained` runs the pretrained-backbone
# twin (configs/pipelines/<method>-pretrained_synthetic.py; all of them: METHOD `pretrained`).
# cam_saliency, cam-irn and rpnet-irn start from a copy of the cam / rpnet work dir of the same
# regime when there is one: the pipeline then reruns only the steps whose configuration or
# inputs differ (stage 1 and the maps are the same configs).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=${1:-work_dirs/compare}
shift || true
METHODS=("$@")
ALL=(cam cam_saliency oaa-avg oaa oaa-drop oaa-plus oaa-drop-plus oaa-authors oaa-drop-authors
     oaa-plus-authors oaa-drop-plus-authors seenet-cam seenet seenet-nosignflip mcis cam-irn
     rpnet rpnet-irn)
PRETRAINED=(cam cam_saliency oaa-avg oaa oaa-drop oaa-plus oaa-drop-plus seenet-cam seenet mcis
            cam-irn rpnet rpnet-irn)
PRETRAINED=("${PRETRAINED[@]/%/-pretrained}")
[ ${#METHODS[@]} -gt 0 ] || METHODS=("${ALL[@]}")
[ "${METHODS[*]}" != pretrained ] || METHODS=("${PRETRAINED[@]}")
declare -A REUSE=([cam_saliency]=cam [cam-irn]=cam [rpnet-irn]=rpnet)
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
SNAPSHOTS='stage1.cfg_options.custom_hooks.0.export.snapshot_ids=[train_00000,train_00001,train_00002,train_00003,train_00004,train_00005]'
MAPS_KEY=stage1.cfg_options.train_dataloader.dataset.pipeline.1.map_dir
NO_STAGE0=('steps=[stage1,maps,eval_maps,pseudo_labels,stage3,test,summary]' stage1.input_dirs=None)
for method in "${METHODS[@]}"; do
  options=()
  base=${method%-pretrained}
  regime=${method#"$base"}  # "" or -pretrained
  source=${REUSE[$base]:-}
  if [ -n "$source" ] && [ ! -e "$ROOT/$method" ] && [ -d "$ROOT/$source$regime/.pipeline" ]; then
    mkdir -p "$ROOT/$method"
    cp -a "$ROOT/$source$regime/." "$ROOT/$method/"
    rm -f "$ROOT/$method/.pipeline/lock"
  fi
  case $base in
    oaa|oaa-drop) options=(--cfg-options "$SNAPSHOTS") ;;
    oaa-plus) options=(--cfg-options "${NO_STAGE0[@]}" "$MAPS_KEY=$ROOT/oaa$regime/maps") ;;
    oaa-drop-plus)
      options=(--cfg-options "${NO_STAGE0[@]}" "$MAPS_KEY=$ROOT/oaa-drop$regime/maps") ;;
    oaa-plus-authors|oaa-drop-plus-authors)
      options=(--cfg-options "${NO_STAGE0[@]}"
               "$MAPS_KEY=$ROOT/${method%-plus-authors}-authors/stage1/cumulative_maps_raw") ;;
  esac
  "$PY" tools/pipeline.py "configs/pipelines/${method}_synthetic.py" --work-dir "$ROOT/$method" \
    "${options[@]}"
done
done_dirs=()
for method in "${ALL[@]}" "${PRETRAINED[@]}"; do
  [ -f "$ROOT/$method/summary.json" ] && done_dirs+=("$ROOT/$method")
done
"$PY" tools/analysis/collect_results.py "${done_dirs[@]}" --out "$ROOT/results.json"
