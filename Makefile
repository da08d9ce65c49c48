# The README's commands. On a fresh machine `make demo` and `make test` are all a user types.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
WHEELHOUSE ?= ../shared/wheels
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
STAMP := $(VENV)/.setup-done
# pytest options; e.g. `make test PYTEST_ARGS="-k registry"`
PYTEST_ARGS ?=
# pytest-xdist worker processes (one per core; 0 = run in this process). Test files stay
# whole on one worker, and the files that share a finished tiny pipeline with one group
# (--dist loadfile; tests/conftest.py), so module and shared fixtures are built once.
PYTEST_WORKERS ?= 2

.PHONY: setup demo pretrain test test-quick lint clean-venv gpu-kit

setup: $(STAMP)

# The stamp depends on the requirement files, so a second run on a set-up machine takes seconds.
$(STAMP): requirements/runtime.txt requirements/pins.txt requirements/tests.txt setup.py
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || $(PYTHON) -m pip install --user -q uv
	test -x $(VPY) || $(UV) venv --python $(PYTHON) $(VENV)
	# torch first: mmcv builds against it when no wheel is found
	$(UV) pip install --python $(VPY) "torch==2.13.0" "torchvision==0.28.0" "setuptools<81" wheel ninja
	# mmcv 2.1.0: from the wheelhouse when it has it, else a CPU source build (~10 min)
	if ls $(WHEELHOUSE)/mmcv-2.1.0-*.whl >/dev/null 2>&1; then \
	  $(UV) pip install --python $(VPY) --find-links $(WHEELHOUSE) "mmcv==2.1.0" "mmengine==0.10.7"; \
	else \
	  $(UV) pip install --python $(VPY) "mmengine==0.10.7" && \
	  MMCV_WITH_OPS=1 $(UV) pip install --python $(VPY) --no-build-isolation "mmcv==2.1.0"; \
	fi
	# the exact stack (pins.txt) within setup.py's ranges (runtime.txt); tests.txt adds openmim
	$(UV) pip install --python $(VPY) --no-build-isolation -r requirements/pins.txt \
	  -r requirements/runtime.txt -r requirements/tests.txt
	$(UV) pip install --python $(VPY) --no-build-isolation --no-deps -e .
	$(VPY) -c "import torch, torchvision, mmcv.ops, mmengine, mmseg, pydensecrf.densecrf; import wsss_toolbox; print('setup ok: torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmseg', mmseg.__version__)"
	touch $(STAMP)

# flake8-style and isort checks (pyproject.toml)
lint: setup
	$(VENV)/bin/ruff check .

# One torch thread per process: the data-loader workers and CRF pools use the other core,
# and on two cores oversubscribed torch threads are several times slower, not faster.
test: setup
	OMP_NUM_THREADS=1 $(VPY) -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# the unit tests only (no training, pipeline or tool subprocess; tests/conftest.py lists the
# slow files), for the edit loop
test-quick: setup
	OMP_NUM_THREADS=1 $(VPY) -m pytest tests -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

demo: setup
	OMP_NUM_THREADS=1 $(VPY) tools/pipeline.py configs/pipelines/cam_synthetic.py --work-dir work_dirs/demo

# Retrain the shipped pretrained backbone (configs/pretrain/README.md): the synthetic
# "ImageNet", 12 epochs of the tiny CAM classifier on it, then the checkpoint and its
# provenance into wsss_toolbox/checkpoints/ (about 25 min on two cores)
PRETRAIN_CONFIG := configs/pretrain/cam_tiny_1xb32-12e_synthetic-pretrain-128x128.py
pretrain: setup
	$(VPY) tools/dataset_converters/make_synthetic_benchmark.py data/synthetic_pretrain \
	  --variant pretrain --num-train 6000 --num-val 600
	rm -rf work_dirs/pretrain
	$(VPY) tools/train.py $(PRETRAIN_CONFIG) --work-dir work_dirs/pretrain
	$(VPY) tools/model_converters/publish_pretrained.py $(PRETRAIN_CONFIG) \
	  work_dirs/pretrain/epoch_12.pth

# Offline kit for a bare CUDA machine (Python 3.12 + torch preinstalled, no index): `make
# gpu-kit` fills .gpu_kit/ with what such a machine lacks (about 11 MiB), and
# `bash tools/gpu_check.sh OUT` there installs it without network (README, "Running the GPU
# check on an offline CUDA machine"). Pure-Python wheels and the sdists work on any Python; the
# binary wheels are fetched for 3.12 (the GPU machine) and this machine's Python (rehearsal).
# GPU_KIT_RUNTIME: what the toolbox, mmengine, mmcv and mmseg import beyond the machine's
# torch/numpy/scipy/opencv/matplotlib/rich/regex/pytest/pytest-xdist, at the versions
# `make setup` installs (pytest-timeout: pytest.ini's --timeout). GPU_KIT_SDISTS are built
# there: mmcv and pydensecrf2 have no wheels on PyPI (pydensecrf2's sdist ships its Cython
# output, so no Cython is needed). GPU_KIT_BUILD: setuptools<81 (mmcv's setup.py imports
# pkg_resources), wheel, ninja (parallel compiles of mmcv's CPU ops). pip: for a machine
# without one. The sdists' metadata is prepared by pip in an isolated build env, constrained
# to setuptools<81 for the same reason; --no-binary names them only, so that the build env's
# own tools come as wheels (with :all: pip compiles Cython from source, minutes).
GPU_KIT ?= .gpu_kit
GPU_KIT_PYTHONS ?= 3.12 $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
GPU_KIT_RUNTIME := mmengine==0.10.7 mmsegmentation==1.2.2 addict==2.4.0 yapf==0.43.0 \
	platformdirs==4.14.9 termcolor==3.3.0 prettytable==3.19.0 wcwidth==0.9.5 ftfy==6.3.1 \
	pytest-timeout==2.4.0
GPU_KIT_BINARY := pyyaml==6.0.4
GPU_KIT_SDISTS := mmcv==2.1.0 pydensecrf2==1.1
GPU_KIT_BUILD := setuptools==80.10.2 wheel==0.48.0 ninja==1.13.2
GPU_KIT_PIP := pip==26.3

gpu-kit:
	rm -rf $(GPU_KIT).tmp && mkdir -p $(GPU_KIT).tmp
	printf 'setuptools<81\n' > $(GPU_KIT).tmp/build-constraints.txt
	$(PYTHON) -m pip download -q --no-deps -d $(GPU_KIT).tmp \
	  $(GPU_KIT_RUNTIME) $(GPU_KIT_BUILD) $(GPU_KIT_PIP)
	for v in $(sort $(GPU_KIT_PYTHONS)); do \
	  $(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version $$v \
	    --platform manylinux2014_x86_64 -d $(GPU_KIT).tmp $(GPU_KIT_BINARY) || exit 1; done
	PIP_CONSTRAINT=$(CURDIR)/$(GPU_KIT).tmp/build-constraints.txt $(PYTHON) -m pip download \
	  -q --no-deps --no-binary="$$(for p in $(GPU_KIT_SDISTS); do printf '%s,' "$${p%%==*}"; done)" \
	  -d $(GPU_KIT).tmp $(GPU_KIT_SDISTS)
	for p in $(GPU_KIT_RUNTIME) $(GPU_KIT_BINARY); do echo "$${p%%==*}"; done > $(GPU_KIT).tmp/runtime.txt
	for p in $(GPU_KIT_BUILD); do echo "$${p%%==*}"; done > $(GPU_KIT).tmp/build.txt
	cd $(GPU_KIT).tmp && sha256sum *.whl *.tar.gz > SHA256SUMS
	rm -rf $(GPU_KIT) && mv $(GPU_KIT).tmp $(GPU_KIT)
	@du -sh $(GPU_KIT) | sed 's/\t.*/ in $(GPU_KIT)\//; s/^/gpu-kit: /'

clean-venv:
	rm -rf $(VENV)
