"""The tools run in this process through their ``main(argv)``, with their console output
captured: no interpreter start and no import of torch / mmengine / mmseg per call (~4 s
each). Each tool keeps one subprocess test that proves its command line works (e.g.
tests/pipeline/test_pipeline.py::test_plugin_step_through_custom_imports for pipeline.py).
yapf formats each config text once per test process (its result kept; tests/conftest.py
turns this on for the session): a runner formats its config three times (logged, dumped,
given to the visualizer), a rerun or the next test the same configs again, at ~0.5 s a
time."""
import contextlib
import inspect
import io
import logging
import os
import os.path as osp
import runpy
import sys
import traceback
from typing import Callable, Dict, Optional, Sequence, Tuple

from mmengine.config import config as mmengine_config
from mmengine.logging import MMLogger

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tool_main(name: str) -> Callable:
    """``main`` of tools/<name>.py (the tools are scripts, not a package)."""
    return runpy.run_path(osp.join(REPO_ROOT, 'tools', f'{name}.py'))['main']


_FORMAT_CODE = mmengine_config.FormatCode
_formatted: Dict[str, Tuple[str, bool]] = {}


def _format_code_once(text: str, style_config=None, **kwargs) -> Tuple[str, bool]:
    """yapf's ``FormatCode`` (as mmengine's ``Config.pretty_text`` calls it), each text
    formatted once: the same result, its syntax error raised each time."""
    key = repr((text, style_config, sorted(kwargs.items())))
    if key not in _formatted:
        if len(_formatted) > 1000:  # a bound on the memory it keeps
            _formatted.clear()
        _formatted[key] = _FORMAT_CODE(text, style_config=style_config, **kwargs)
    return _formatted[key]


@contextlib.contextmanager
def configs_formatted_once():
    """yapf formats each config text once while in this context (tests/conftest.py keeps it
    on for the whole session; the output is the same)."""
    previous = mmengine_config.FormatCode
    mmengine_config.FormatCode = _format_code_once
    try:
        yield
    finally:
        mmengine_config.FormatCode = previous


@contextlib.contextmanager
def _logger_streams(stream):
    """Point the console handlers of every mmengine logger at ``stream``: a logger keeps the
    ``sys.stdout`` of its creation, which in an earlier test was another capture."""
    handlers = [handler for logger in MMLogger._instance_dict.values()
                for handler in logger.handlers
                if type(handler) is logging.StreamHandler]
    old = [handler.stream for handler in handlers]
    for handler in handlers:
        # not setStream: it flushes the old stream, which may be a closed capture
        handler.stream = stream
    try:
        yield
    finally:
        # loggers created during the call write to ``stream`` too: give them the real console
        for logger in MMLogger._instance_dict.values():
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler and handler.stream is stream:
                    handler.stream = sys.__stdout__
        for handler, previous in zip(handlers, old):
            handler.stream = previous


def run_main(name: str, argv: Sequence[str], cwd: Optional[str] = None) -> Tuple[int, str]:
    """Run tools/<name>.py's ``main(argv)`` in ``cwd`` (default: the repository root); return
    its exit status (an exception: 1, with its traceback in the output) and its output."""
    main = tool_main(name)
    out = io.StringIO()
    here, argv_before = os.getcwd(), sys.argv
    os.chdir(cwd or REPO_ROOT)
    # a ``main()`` without parameters (tools/train.py, tools/test.py) parses sys.argv
    takes_argv = bool(inspect.signature(main).parameters)
    sys.argv = [osp.join(REPO_ROOT, 'tools', f'{name}.py')] + list(argv)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
                _logger_streams(out), configs_formatted_once():
            try:
                status = (main(list(argv)) if takes_argv else main()) or 0
            except SystemExit as error:
                status = error.code if isinstance(error.code, int) else 1
                if not isinstance(error.code, int):
                    print(error.code)
            except Exception:  # noqa: BLE001  (reported as a failed command would be)
                traceback.print_exc()
                status = 1
    finally:
        os.chdir(here)
        sys.argv = argv_before
    return status, out.getvalue()


def run_ok(name: str, argv: Sequence[str], cwd: Optional[str] = None) -> str:
    """``run_main`` that must succeed; its output."""
    status, output = run_main(name, argv, cwd)
    assert status == 0, f'tools/{name}.py {" ".join(argv)} failed ({status}):\n{output[-5000:]}'
    return output
