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
# whole on one worker (--dist loadfile), so module fixtures are built once.
PYTEST_WORKERS ?= 2

.PHONY: setup demo test lint clean-venv

setup: $(STAMP)

# The stamp depends on the requirement files, so a second run on a set-up machine takes seconds.
$(STAMP): requirements/runtime.txt requirements/tests.txt setup.py
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
	$(UV) pip install --python $(VPY) --no-build-isolation -r requirements/runtime.txt -r requirements/tests.txt
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

demo: setup
	OMP_NUM_THREADS=1 $(VPY) tools/pipeline.py configs/pipelines/cam_synthetic.py --work-dir work_dirs/demo

clean-venv:
	rm -rf $(VENV)
