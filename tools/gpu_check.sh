#!/usr/bin/env bash
# The GPU check for a bare, offline CUDA machine (Python 3.12 + torch preinstalled, no index):
# installs the kit of `make gpu-kit` (.gpu_kit/) into a folder without network, builds mmcv and
# pydensecrf2 from their sdists, imports the stack, then runs the `gpu` tests, the GPU rows of
# benchmark_vs_authors.py, benchmark_oaa.py with a VGG-16 at VOC-like sizes and
# benchmark_stage3.py, timing each part within one time budget. Writes OUT_DIR/gpu_check.log
# and OUT_DIR/gpu_check.json. README: "Running the GPU check on an offline CUDA machine".
#
#   bash tools/gpu_check.sh [options] OUT_DIR        (from anywhere; runs in the repo root)
#
#   --cpu-rehearsal  rehearse on a CPU machine: a fresh venv from the kit alone, whose only
#                    other packages are those the GPU machine has preinstalled (torch, numpy,
#                    scipy, opencv, matplotlib, rich, regex, pytest, pytest-xdist and their
#                    dependencies), linked from this repo's .venv by a .pth file; CPU device,
#                    tiny sizes
#   --install-only   stop after the install, the builds and the imports
#   --with-ops       build mmcv with its compiled CPU ops (minutes; CUDA hidden from the build)
#                    instead of mmcv-lite (seconds)
#   --skip-crf       do not build pydensecrf2 (the DenseCRF rows then fail)
#   --kit DIR        the kit (default: .gpu_kit)
#   --env DIR        install folder (default: $TMPDIR/wsss_gpu_check[_rehearsal]); kept, and
#                    reused by a rerun with the same kit, Python and options
#   --budget S       seconds for the whole run (default: 570 on a GPU, 1800 in a rehearsal)
#   PYTHON=...       the interpreter (default: python3; in a rehearsal: .venv's base Python)
#
# mmcv: the toolbox calls no mmcv op, but mmseg 1.2.2 imports mmcv.ops when it is imported
# (mmseg/utils/mask_classification.py: `from mmcv.ops import point_sample`), and mmcv-lite has
# no compiled mmcv._ext. So the default build is mmcv-lite plus a stub mmcv/_ext.py whose every
# function raises an error naming --with-ops: mmcv.ops imports, and an op that is ever called
# fails loudly instead of silently.
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

REHEARSAL=0 INSTALL_ONLY=0 WITH_OPS=0 SKIP_CRF=0 KIT='' ENV_DIR='' BUDGET='' OUT=''
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-rehearsal) REHEARSAL=1 ;;
    --install-only) INSTALL_ONLY=1 ;;
    --with-ops) WITH_OPS=1 ;;
    --skip-crf) SKIP_CRF=1 ;;
    --kit) KIT=$2; shift ;;
    --env) ENV_DIR=$2; shift ;;
    --budget) BUDGET=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$OUT" ] || { echo "gpu_check.sh: one OUT_DIR only (got $OUT and $1)" >&2; exit 2; }
       OUT=$1 ;;
  esac
  shift
done
[ -n "$OUT" ] || { echo "usage: bash tools/gpu_check.sh [options] OUT_DIR (--help)" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
KIT_ARG=${KIT:-.gpu_kit}
KIT=$(cd "$KIT_ARG" 2>/dev/null && pwd) || {
  echo "gpu_check.sh: no kit folder $KIT_ARG: run 'make gpu-kit' where the package" \
       "index is reachable and copy .gpu_kit/ with the tree" >&2; exit 2; }
for f in SHA256SUMS runtime.txt build.txt; do
  [ -f "$KIT/$f" ] || { echo "gpu_check.sh: $KIT/$f is missing: rerun 'make gpu-kit'" >&2; exit 2; }
done
if [ "$REHEARSAL" = 1 ]; then MODE=cpu-rehearsal; DEVICE=cpu; else MODE=gpu; DEVICE=cuda; fi
BUDGET=${BUDGET:-$([ "$REHEARSAL" = 1 ] && echo 1800 || echo 570)}
ENV_DIR=${ENV_DIR:-${TMPDIR:-/tmp}/wsss_gpu_check$([ "$REHEARSAL" = 1 ] && echo _rehearsal)}
mkdir -p "$OUT" "$ENV_DIR" && OUT=$(cd "$OUT" && pwd) && ENV_DIR=$(cd "$ENV_DIR" && pwd)
WORK=$ENV_DIR/work
export REPO KIT MODE DEVICE ENV_DIR WORK REHEARSAL WITH_OPS SKIP_CRF BUDGET
rm -rf "$WORK" && mkdir -p "$WORK/parts"
LOG=$OUT/gpu_check.log JSON=$OUT/gpu_check.json PARTS=$WORK/parts.tsv
: > "$PARTS"
exec > >(tee "$LOG") 2>&1
TEE_PID=$!

# No index, no user site, no pip configuration of this machine (find-links, constraints):
# the kit alone.
for v in $(compgen -e | grep '^PIP_'); do unset "$v"; done
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
  PYTHONNOUSERSITE=1
NPROC=$(nproc 2>/dev/null || echo 2)
T0=$(date +%s.%N)
export PARTS NPROC T0
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$PARTS"; }

# run_part NAME CAP_S CMD...: CMD (a command or a function of this script) under a time limit of
# min(CAP_S, what the budget has left); timeout(1) stops CMD's whole process group
run_part() {
  local name=$1 cap=$2; shift 2
  local left limit start rc status seconds
  left=$(awk -v b="$BUDGET" -v e="$(elapsed)" 'BEGIN { printf "%d", b - e - 5 }')
  if [ "$left" -lt 10 ]; then
    echo "==== $name: skipped, the ${BUDGET} s budget is spent"
    record "$name" skipped 0 "budget spent"; return 1
  fi
  limit=$(( cap < left ? cap : left ))
  echo "==== $name (limit ${limit} s, at $(elapsed) s)"
  start=$(date +%s.%N)
  if declare -F "$1" >/dev/null; then
    local functions
    mapfile -t functions < <(declare -F | awk '{print $3}')
    export -f "${functions[@]}"
    set -- bash -c '"$@"' run_part "$@"
  fi
  timeout -k 10 "$limit" "$@"
  rc=$?
  seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  case $rc in
    0) status=ok ;;
    124|137) status=timeout ;;
    *) status=failed ;;
  esac
  echo "==== $name: $status in $seconds s (exit $rc)"
  record "$name" "$status" "$seconds" "exit $rc"
  return $rc
}

# The JSON (parts, their timings, the benchmarks' results, the machine) and the summary;
# also after a part that stops the check
finish() {
  "${PY:-python3}" - "$PARTS" "$WORK/parts" "$JSON" "$MODE" "$KIT" "$BUDGET" "$(elapsed)" "$REPO" <<'EOF'
import glob
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

parts_tsv, folder, out, mode, kit, budget, total, repo = sys.argv[1:9]
parts = []
with open(parts_tsv) as f:
    for line in f:
        name, status, seconds, detail = line.rstrip('\n').split('\t')
        parts.append(dict(name=name, status=status, seconds=float(seconds), detail=detail))
results = {}
for path in sorted(glob.glob(os.path.join(folder, '*.json'))):
    with open(path) as f:
        results[os.path.basename(path)[:-5]] = json.load(f)
xml = os.path.join(folder, 'gpu_tests.xml')
if os.path.isfile(xml):
    tests = []
    for case in ET.parse(xml).iter('testcase'):
        outcome = 'passed'
        for tag in ('failure', 'error', 'skipped'):
            node = case.find(tag)
            if node is not None:
                outcome = dict(failure='failed', error='error', skipped='skipped')[tag]
                outcome += f': {(node.get("message") or "")[:300]}'
        tests.append(dict(name=case.get('name'), seconds=float(case.get('time', 0)),
                          outcome=outcome))
    results['gpu_tests'] = tests
try:
    commit = subprocess.run(['git', '-C', repo, 'rev-parse', 'HEAD'], capture_output=True,
                            text=True, timeout=10).stdout.strip() or None
except Exception:
    commit = None
kit_files = sorted(os.listdir(kit))
summary = dict(
    mode=mode, commit=commit, budget_seconds=float(budget), total_seconds=float(total),
    kit=dict(path=kit, files=kit_files,
             bytes=sum(os.path.getsize(os.path.join(kit, name)) for name in kit_files)),
    host=results.pop('host', None), parts=parts, results=results,
    ok=all(p['status'] in ('ok', 'reused') or p['detail'] == '--skip-crf' for p in parts))
with open(out, 'w') as f:
    json.dump(summary, f, indent=1)
print(f'\n{"part":<16}{"status":<10}{"seconds":>9}  detail')
for p in parts:
    print(f'{p["name"]:<16}{p["status"]:<10}{p["seconds"]:>9.1f}  {p["detail"]}')
print(f'total {float(total):.1f} s of a {float(budget):.0f} s budget; '
      f'{"all parts ok" if summary["ok"] else "SOME PARTS FAILED"}; JSON: {out}')
sys.exit(0 if summary['ok'] else 1)
EOF
  local rc=$?
  grep -q "rerun it with --with-ops" "$LOG" && \
    echo "gpu_check: an mmcv op was called: rerun with --with-ops (mmcv with compiled CPU ops)"
  echo "gpu_check: log $LOG"
  exec >&- 2>&-
  wait "$TEE_PID" 2>/dev/null
  exit $rc
}
fail() { echo "gpu_check: $1"; finish; }

echo "gpu_check: mode $MODE, repo $REPO, kit $KIT ($(du -sh "$KIT" | cut -f1)), env $ENV_DIR," \
     "budget $BUDGET s, $NPROC cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# ---------------------------------------------------------------- the interpreter
make_rehearsal_venv() {
  # The GPU machine's preinstalled packages, taken from .venv: a folder of links to their
  # top-level entries (torch, numpy, cv2, ...), put on the venv's path by a .pth file. The
  # closure of their requirements is followed, so everything else must come from the kit.
  local dotvenv=$REPO/.venv/bin/python base
  [ -x "$dotvenv" ] || { echo "no $dotvenv: run 'make setup' first (the rehearsal borrows" \
                              "its torch)"; return 1; }
  base=$("$dotvenv" -c 'import sys; print(sys._base_executable)')
  rm -rf "$ENV_DIR/venv" "$ENV_DIR/base"
  "$base" -m venv --without-pip "$ENV_DIR/venv" || return 1
  "$dotvenv" - "$ENV_DIR/base" <<'EOF' || return 1
import os
import sys
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement

# what the GPU machine has preinstalled (opencv-python stands for its -headless twin)
PREINSTALLED = ['torch', 'numpy', 'scipy', 'opencv-python', 'matplotlib', 'rich', 'regex',
                'pytest', 'pytest-xdist']
folder = sys.argv[1]
os.makedirs(folder)
seen, todo, linked = set(), list(PREINSTALLED), set()
while todo:
    name = todo.pop().lower().replace('_', '-')
    if name in seen:
        continue
    seen.add(name)
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        continue  # e.g. a Windows-only requirement
    for req in dist.requires or []:
        req = Requirement(req)
        if req.marker is None or req.marker.evaluate({'extra': ''}):
            todo.append(req.name)
    site = str(dist.locate_file(''))
    for path in dist.files or []:
        top = path.parts[0]
        if top in ('..', '__pycache__') or top.endswith('.pth') or top in linked:
            continue
        linked.add(top)
        os.symlink(os.path.join(site, top), os.path.join(folder, top))
print(f'rehearsal base: {len(seen)} distributions linked from {site}:',
      ' '.join(sorted(seen)))
EOF
  local purelib
  purelib=$("$ENV_DIR/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$ENV_DIR/base" > "$purelib/gpu_machine_base.pth"
}

if [ "$REHEARSAL" = 1 ]; then
  run_part rehearsal-venv 300 make_rehearsal_venv || { fail "no rehearsal venv"; }
  PY=$ENV_DIR/venv/bin/python
else
  PY=${PYTHON:-python3}
fi
export PY

host_info() {
  "$PY" - "$DEVICE" "$WORK/parts/host.json" <<'EOF'
import json
import os
import platform
import sys

import torch

device, out = sys.argv[1:3]
info = dict(python=sys.version.split()[0], executable=sys.executable, torch=torch.__version__,
            torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available(),
            platform=platform.platform(), cpus=os.cpu_count())
if torch.cuda.is_available():
    info.update(gpu=torch.cuda.get_device_name(0), gpus=torch.cuda.device_count(),
                cudnn=torch.backends.cudnn.version())
try:
    import torchvision
    info['torchvision'] = torchvision.__version__
except Exception as error:  # absent on the bare machine; nothing in the check needs it
    info['torchvision'] = f'not importable ({type(error).__name__})'
print(json.dumps(info, indent=1))
with open(out, 'w') as f:
    json.dump(info, f)
if device == 'cuda' and not torch.cuda.is_available():
    sys.exit(f'torch {torch.__version__} sees no CUDA device: this is not a GPU machine '
             '(rehearse with --cpu-rehearsal)')
EOF
}
run_part python 120 host_info || { fail "$PY cannot run the check"; }

# ---------------------------------------------------------------- install and builds
SITE=$ENV_DIR/site BUILD=$ENV_DIR/build WHEELS=$ENV_DIR/wheels
PIP_WHL=$(ls "$KIT"/pip-*.whl 2>/dev/null | tail -1)
export PY SITE BUILD WHEELS PIP_WHL
kit_pip() {  # pip runs from the kit's wheel (the machine may have none), else the machine's
  if [ -n "$PIP_WHL" ]; then "$PY" "$PIP_WHL/pip" "$@"; else "$PY" -m pip "$@"; fi
}
STAMP="$(cat "$KIT/SHA256SUMS" | sha256sum | cut -c1-16) $("$PY" -c 'import sys; print(sys.version)' | head -1) ops=$WITH_OPS crf=$((1 - SKIP_CRF))"
REUSED=0
if [ -f "$ENV_DIR/stamp" ] && [ "$(cat "$ENV_DIR/stamp")" = "$STAMP" ]; then
  REUSED=1
  echo "==== install: reusing $ENV_DIR (same kit, Python and options; rm -r it to redo)"
  record install reused 0 "$ENV_DIR"
fi

install_wheels() {
  rm -rf "$SITE" "$BUILD" "$WHEELS" "$ENV_DIR/stamp" && mkdir -p "$SITE" "$BUILD" "$WHEELS"
  # --no-deps: torch & co are the machine's; the names are the kit's (runtime.txt, build.txt);
  # check_requirements below checks that every requirement is met
  local build runtime
  mapfile -t build < "$KIT/build.txt"
  mapfile -t runtime < "$KIT/runtime.txt"
  kit_pip install -q --no-index --find-links "$KIT" --no-deps --target "$BUILD" "${build[@]}" \
    || return 1
  kit_pip install -q --no-index --find-links "$KIT" --no-deps --target "$SITE" "${runtime[@]}"
}

build_sdist() {  # build_sdist NAME SDIST [ENV=VALUE...]: a wheel into $WHEELS
  local name=$1 sdist=$2; shift 2
  # shellcheck disable=SC2163  # the arguments are NAME=VALUE pairs
  ( [ $# = 0 ] || export "$@"
    export PYTHONPATH="$BUILD:$SITE" PATH="$BUILD/bin:$PATH"
    kit_pip wheel -q --no-index --no-deps --no-build-isolation --find-links "$KIT" \
      -w "$WHEELS" "$sdist" ) > "$WORK/build_$name.log" 2>&1
  local rc=$?
  [ $rc = 0 ] || { echo "---- build of $name failed (exit $rc); the end of its log:";
                   tail -40 "$WORK/build_$name.log"; }
  return $rc
}

build_mmcv() {
  local sdist
  sdist=$(ls "$KIT"/mmcv-*.tar.gz | tail -1)
  if [ "$WITH_OPS" = 1 ]; then
    # CPU ops only: mmcv's setup.py builds CUDA ops whenever torch sees a GPU, so hide it
    build_sdist mmcv "$sdist" MMCV_WITH_OPS=1 FORCE_CUDA=0 CUDA_VISIBLE_DEVICES= \
      MAX_JOBS="$NPROC"
  else
    build_sdist mmcv "$sdist" MMCV_WITH_OPS=0
  fi
}

build_crf() {
  command -v "${CXX:-c++}" >/dev/null || command -v g++ >/dev/null || {
    echo "no C++ compiler (c++/g++) on this machine: pydensecrf2 cannot be built" \
         "(apt-get install g++, or rerun with --skip-crf)"; return 1; }
  "$PY" -c 'import os, sysconfig, sys; h = os.path.join(sysconfig.get_paths()["include"], "Python.h"); os.path.isfile(h) or sys.exit("no " + h + ": install the Python headers (python3-dev) or rerun with --skip-crf")' || return 1
  build_sdist pydensecrf2 "$(ls "$KIT"/pydensecrf2-*.tar.gz | tail -1)"
}

# the two builds run side by side, each timed; then their wheels install together
build_both() {
  local t0 pids=() names=() name rc=0
  for name in mmcv crf; do
    [ "$name" = crf ] && [ "$SKIP_CRF" = 1 ] && { record build-crf skipped 0 "--skip-crf"; continue; }
    ( t0=$(date +%s.%N); "build_$name"; r=$?
      echo "$r $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
        > "$WORK/build_$name.rc"; exit $r ) &
    pids+=($!) names+=("$name")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || rc=1
    read -r r s < "$WORK/build_${names[$i]}.rc" 2>/dev/null || { r=killed s=0; }
    record "build-${names[$i]}" "$([ "$r" = 0 ] && echo ok || echo failed)" "$s" \
      "$([ "${names[$i]}" = mmcv ] && { [ "$WITH_OPS" = 1 ] && echo 'with CPU ops' || echo 'mmcv-lite + stub _ext'; } || echo 'exit '"$r")"
    echo "---- build ${names[$i]}: exit $r in $s s"
  done
  # what was built installs even when the other build failed (its parts then fail alone)
  local wheels=("$WHEELS"/*.whl)
  if [ -e "${wheels[0]}" ]; then
    kit_pip install -q --no-index --no-deps --target "$SITE" "${wheels[@]}" || return 1
  fi
  [ "$WITH_OPS" = 1 ] || [ ! -d "$SITE/mmcv" ] || write_ext_stub
  return $rc
}

write_ext_stub() {
  cat > "$SITE/mmcv/_ext.py" <<'EOF'
"""Stand-in for mmcv's compiled ops, written by tools/gpu_check.sh over mmcv-lite: mmseg
imports mmcv.ops at import time, but the GPU check calls no op. Calling one fails here."""


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise RuntimeError(
            f'mmcv op {name!r} was called, but tools/gpu_check.sh installed mmcv-lite without '
            'compiled ops: rerun it with --with-ops')

    return missing
EOF
}

export PYTHONPATH="$REPO:$SITE${PYTHONPATH:+:$PYTHONPATH}"

check_requirements() {
  # pip --no-deps checked nothing: the toolbox's requirements (requirements/runtime.txt) and
  # those of every package the kit installed must now be met by the kit or by the machine
  # (opencv-python by its -headless twin, mmcv by mmcv-lite; torch is the machine's own)
  "$PY" - "$SITE" "$REPO/requirements/runtime.txt" "$SKIP_CRF" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, distributions, version

from packaging.requirements import Requirement

TWINS = {'opencv-python': ['opencv-python-headless', 'opencv-contrib-python',
                           'opencv-contrib-python-headless'], 'mmcv': ['mmcv-lite']}
MACHINE = ('torch', 'torchvision')  # preinstalled (torchvision maybe not): reported only
site, toolbox_requirements, skip_crf = sys.argv[1:4]


def installed(name):
    for candidate in [name] + TWINS.get(name.lower(), []):
        try:
            return version(candidate)
        except PackageNotFoundError:
            pass
    return None


wanted = []
with open(toolbox_requirements) as f:
    for line in f:
        line = line.split('#', 1)[0].strip()
        if line:
            wanted.append((Requirement(line), 'wsss_toolbox'))
for dist in distributions(path=[site]):
    wanted += [(Requirement(text), dist.metadata['Name']) for text in dist.requires or []]
missing = []
for req, needed_by in wanted:
    if req.marker is not None and not req.marker.evaluate({'extra': ''}):
        continue
    found = installed(req.name)
    if req.name in MACHINE or (req.name == 'pydensecrf2' and skip_crf == '1'):
        print(f'{req} (for {needed_by}): {found or "absent"} on this machine')
    elif found is None or (req.specifier and not req.specifier.contains(found, True)):
        missing.append(f'{req} (for {needed_by}; found {found})')
if missing:
    sys.exit('unmet requirements; add them to GPU_KIT_RUNTIME in the Makefile and rerun '
             "'make gpu-kit':\n  " + '\n  '.join(missing))
print(f'the {len(wanted)} requirements of wsss_toolbox and of the installed packages are met')
EOF
}

import_all() {
  "$PY" - <<'EOF'
import importlib
import sys
import time

start = time.perf_counter()
for name in ('torch', 'numpy', 'cv2', 'mmengine', 'mmcv', 'mmcv.ops', 'mmseg', 'mmseg.models',
             'pydensecrf.densecrf', 'wsss_toolbox'):
    try:
        module = importlib.import_module(name)
    except Exception as error:
        if name == 'pydensecrf.densecrf':
            print(f'{name}: not importable ({error}); the DenseCRF rows will fail')
            continue
        raise
    print(f'{name:<22} {getattr(module, "__version__", ""):<14} {module.__file__}')
from wsss_toolbox.utils import register_all_modules  # noqa: E402

register_all_modules()
ext = sys.modules.get('mmcv._ext')
ops = 'stub over mmcv-lite' if 'Stand-in' in (getattr(ext, '__doc__', '') or '') else 'compiled'
print(f'registered all modules; imports took {time.perf_counter() - start:.1f} s; '
      f'mmcv ops: {ops}')
EOF
}

if [ "$REUSED" = 0 ]; then
  run_part install 180 install_wheels || { fail "the kit does not install"; }
  run_part build 420 build_both && BUILT=1 || echo "gpu_check: a build failed (see above); going on"
fi
run_part requirements 60 check_requirements
run_part imports 120 import_all || { fail "the stack does not import"; }
[ "${BUILT:-0}" = 0 ] || echo "$STAMP" > "$ENV_DIR/stamp"  # a rerun reuses a complete install

# ---------------------------------------------------------------- tests and benchmarks
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if [ "$INSTALL_ONLY" = 0 ]; then
  if [ "$REHEARSAL" = 1 ]; then
    export WSSS_GPU_CHECK_DEVICE=cpu
    VS=(--device cpu --nprocs 1 --num-images 4 --image-size 64 --scales 1.0 0.5 --repeats 1
        --oaa-images 32 --oaa-epochs 2 --oaa-batch-size 8)
    OAA=(--image-size 64 --batch-size 2 --num-images 8 --epochs 2 --repeats 1 --warmup 1)
    S3=(--device cpu --batch-size 2 --crop-size 64 --iters 2 --warmup 1 --repeats 1
        --channels-last --threads 1)
  else
    VS=(--device cuda --nprocs 1 --repeats 3 --oaa-images 300)
    OAA=(--image-size 224 --batch-size 5 --num-images 100 --epochs 2 --repeats 3 --warmup 3
         --workers 4)
    S3=(--device cuda --batch-size 10 --crop-size 321 --iters 20 --warmup 5 --repeats 3
        --amp --channels-last)
  fi
  run_part gpu-tests 240 "$PY" -m pytest -m gpu tests/gpu -q -p no:cacheprovider \
    --junitxml="$WORK/parts/gpu_tests.xml"
  run_part vs-authors 180 "$PY" tools/analysis/benchmark_vs_authors.py "${VS[@]}" \
    --work-dir "$WORK/vs_authors" --out "$WORK/parts/vs_authors.json"
  # OAA's recorder on the VGG-16 CAM classifier (random weights) of the VOC configs, on the
  # generated synthetic benchmark
  cat > "$WORK/cam_vgg16_synthetic.py" <<EOF
_base_ = ['$REPO/configs/cam/cam_tiny_1xb16-8e_synthetic-128x128.py']
model = dict(
    backbone=dict(_delete_=True, type='VGG16', dilated=True, out_indices=(4, ),
                  pool_kernel_size=2, pretrained=None),
    head=dict(in_channels=512, num_convs=3, channels=512))
EOF
  run_part oaa 150 "$PY" tools/analysis/benchmark_oaa.py --config "$WORK/cam_vgg16_synthetic.py" \
    "${OAA[@]}" --out "$WORK/parts/oaa.json"
  run_part stage3 150 "$PY" tools/analysis/benchmark_stage3.py "${S3[@]}" \
    --out "$WORK/parts/stage3.json"
fi

finish
