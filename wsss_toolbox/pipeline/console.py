"""What a pipeline run shows on the terminal: one line per step, as a build tool does.

Quiet (``tools/pipeline.py`` without ``--verbose``): while a step runs, everything it writes
-- mmengine's environment and config dump, training logs, progress bars, warnings, the
output of worker processes -- goes to ``<work_dir>/logs/<step>.log``; the terminal gets one
line per step (its name, type, status, time and headline metric). A step that fails writes
its traceback to its log, and the terminal gets the last lines of that log and the error.
mmengine's runner still writes its own log files into the step's work dir.

Verbose: nothing is captured; the terminal shows everything, as before v0.2.0.

Output is captured at three levels, since each catches what the others miss: the console
handlers of mmengine's loggers (a logger keeps the stream it was created with), Python's
``sys.stdout`` / ``sys.stderr``, and file descriptors 1 and 2 (progress bars bound to the
``sys.stdout`` of their import, worker processes, C extensions).
"""
import contextlib
import logging
import os
import os.path as osp
import sys
import time
import traceback
from typing import IO, Any, Iterator, List, Optional, Sequence, Tuple

from mmengine.logging import MMLogger, print_log

#: folder of the step logs, in the work dir
LOG_DIR = 'logs'
#: lines of a failed step's log repeated on the terminal
TAIL_LINES = 20
#: longest reason shown on a step's line (the log has it whole)
REASON_CHARS = 70
#: how the runner's reason begins when a step reruns only because an input step did
UPSTREAM_REASON = 'input step'


def _console_handlers() -> List[logging.StreamHandler]:
    """The console handlers of every mmengine logger (file handlers excluded)."""
    return [handler for logger in list(MMLogger._instance_dict.values())
            for handler in logger.handlers if type(handler) is logging.StreamHandler]


def _point(handler: logging.StreamHandler, stream: IO) -> None:
    """``handler.setStream(stream)`` without flushing the old stream (it may be closed: a
    logger can outlive the capture it was created in, e.g. a test's)."""
    with handler.lock:
        handler.stream = stream


def _shorten(text: str, limit: int = REASON_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3] + '...'


def format_seconds(seconds: float) -> str:
    """``'4.2 s'``, ``'3 min 07 s'``, ``'2 h 05 min'``."""
    if seconds < 60:
        return f'{seconds:.1f} s'
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f'{minutes} min {secs:02d} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes:02d} min'


class StepCapture:
    """Everything written while it is entered goes to the file ``path`` (see the module
    docstring for the three levels); left, the streams are as before."""

    def __init__(self, path: str, console: IO, append: bool = False) -> None:
        self.path = path
        self.console = console
        self.append = append
        self._log: Optional[IO] = None
        self.output_end = 0  # bytes of the log the step wrote (set on leaving)
        self._saved_fds: List[Tuple[int, int]] = []
        self._handlers: List[Tuple[logging.StreamHandler, IO]] = []

    def __enter__(self) -> 'StepCapture':
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        self._log = open(self.path, 'a' if self.append else 'w', buffering=1,
                         encoding='utf-8', errors='replace')
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self._handlers = [(handler, handler.stream) for handler in _console_handlers()]
        for handler, _ in self._handlers:
            _point(handler, self._log)
        self._streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self._log
        for fd in (1, 2):
            try:
                self._saved_fds.append((fd, os.dup(fd)))
                os.dup2(self._log.fileno(), fd)
            except OSError:  # no such descriptor (a detached process): Python-level only
                continue
        return self

    def __exit__(self, kind, error, trace) -> None:
        # what the step left in the buffers of the streams bound before it belongs to its log
        for stream in (*self._streams, sys.__stdout__, sys.__stderr__, self._log):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        self.output_end = os.fstat(self._log.fileno()).st_size  # what the step wrote
        if error is not None and not isinstance(error, (KeyboardInterrupt, SystemExit)):
            self._log.write(''.join(traceback.format_exception(kind, error, trace)))
            self._log.flush()
        for fd, saved in reversed(self._saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        self._saved_fds = []
        sys.stdout, sys.stderr = self._streams
        for handler, stream in self._handlers:
            _point(handler, stream)
        # loggers created during the step (mmengine runners) print to the console later
        for handler in _console_handlers():
            if handler.stream is self._log:
                _point(handler, self.console)
        self._log.close()

    def count_warnings(self) -> int:
        """How many logged warnings (mmengine's format) and Python warnings the log holds."""
        with open(self.path, encoding='utf-8', errors='replace') as f:
            return sum(' - WARNING - ' in line or 'Warning: ' in line for line in f)

    def tail(self, lines: int = TAIL_LINES) -> str:
        """The last ``lines`` lines the step wrote (its traceback, which follows them in
        the log, reaches the terminal anyway)."""
        with open(self.path, 'rb') as f:
            text = f.read(max(self.output_end, 0)).decode('utf-8', errors='replace')
        return ''.join(text.splitlines(keepends=True)[-lines:])


class PipelineConsole:
    """The terminal side of :class:`~wsss_toolbox.pipeline.runner.PipelineRunner`.

    Args:
        work_dir: the pipeline's work dir (the logs go to ``<work_dir>/logs/``).
        num_steps: how many steps the pipeline has (``[i/n]`` on each line).
        verbose: show everything (nothing captured, no step logs).
        stream: where the step lines go (default: ``sys.stdout`` when a step starts).
    """

    def __init__(self, work_dir: str, num_steps: int, verbose: bool = True,
                 stream: Optional[IO] = None) -> None:
        self.work_dir = work_dir
        self.num_steps = num_steps
        self.verbose = verbose
        self._stream = stream
        self._index = 0

    @property
    def stream(self) -> IO:
        return self._stream or sys.stdout

    def log_path(self, name: str) -> str:
        return osp.join(self.work_dir, LOG_DIR, f'{name}.log')

    def _line(self, name: str, step_type: str, status: str, seconds: Optional[float] = None,
              note: str = '') -> str:
        width = len(str(self.num_steps))
        time_text = '' if seconds is None else format_seconds(seconds)
        text = (f'[{self._index:>{width}}/{self.num_steps}] {name:<20} {step_type:<22} '
                f'{status:<11}{time_text:>12}')
        return f'{text}  {note}'.rstrip()

    def _print(self, text: str) -> None:
        stream = self.stream
        if getattr(stream, 'isatty', lambda: False)():
            text = '\r\033[K' + text  # over the "running" line
        print(text, file=stream, flush=True)

    def skipped(self, step: Any, result: dict) -> None:
        """An up-to-date step (a :class:`~.base_step.PipelineStep`) and its result."""
        self._index += 1
        if self.verbose:
            print_log(f'step "{step.name}": up to date, skipped', logger='current')
        else:
            self._print(self._line(step.name, type(step).__name__, 'up to date',
                                   note=step_headline(step.summary_rows(result))))

    @contextlib.contextmanager
    def running(self, step: Any, status: str, reason: str) -> Iterator['StepReport']:
        """Run ``step`` inside: captured to its log unless verbose; one line at the end,
        with the headline of ``report.result`` when the caller sets it."""
        name, step_type = step.name, type(step).__name__
        self._index += 1
        report = StepReport()
        stream = self.stream
        if self.verbose:  # the runner's own messages say what runs
            yield report
            return
        capture = StepCapture(self.log_path(name), stream, append=status == 'resumed')
        if getattr(stream, 'isatty', lambda: False)():
            print(self._line(name, step_type, 'running...', note=_shorten(reason)), end='',
                  file=stream, flush=True)
        start = time.time()
        try:
            with capture:
                yield report
        except BaseException as error:
            seconds = time.time() - start
            stopped = isinstance(error, KeyboardInterrupt)
            self._print(self._line(name, step_type, 'interrupted' if stopped else 'FAILED',
                                   seconds, f'log: {capture.path}'))
            tail = '' if stopped else capture.tail()
            if tail:
                print(f'--- the last lines it wrote ({capture.path}) ---\n{tail}---',
                      file=sys.stderr, flush=True)
            raise
        notes = [step_headline(step.summary_rows(report.result)) if report.result else '']
        if status != 'resumed' and not reason.startswith(UPSTREAM_REASON):
            notes.append(_shorten(reason))  # why it ran, unless only because its inputs did
        warnings = capture.count_warnings()
        if warnings:
            notes.append(f'{warnings} warning(s), see {capture.path}')
        self._print(self._line(name, step_type, status, time.time() - start,
                               '; '.join(note for note in notes if note)))

    def note(self, text: str) -> None:
        """A message between steps (e.g. ``--until``)."""
        if self.verbose:
            print_log(text, logger='current')
        else:
            print(text, file=self.stream, flush=True)

    @contextlib.contextmanager
    def task(self, name: str, what: str) -> Iterator[None]:
        """Work outside the steps (writing the synthetic benchmark): captured to
        ``logs/<name>.log`` unless verbose, one line when done."""
        if self.verbose:
            yield
            return
        start = time.time()
        capture = StepCapture(self.log_path(name), self.stream)
        try:
            with capture:
                yield
        except BaseException:
            print(f'{what}: FAILED (log: {capture.path})\n--- the last lines it wrote ---\n'
                  f'{capture.tail()}---', file=sys.stderr, flush=True)
            raise
        print(f'{what} ({format_seconds(time.time() - start)})', file=self.stream, flush=True)


def step_headline(rows: Sequence[Any]) -> str:
    """The headline of a step's line: the first of its summary rows with a number
    (``SummaryRow`` records or dicts), e.g. ``'DeepLab val: mIoU 41.20 %'``."""
    for row in rows:
        if row.get('mIoU') is not None:
            return f"{row.get('name')}: mIoU {row.get('mIoU'):.2f} %"
        if row.get('value') is not None:
            return f"{row.get('name')}: {row.get('value'):.2f} %"
    return ''


class StepReport:
    """Filled in by the caller while a step runs: its result (for the headline)."""

    def __init__(self) -> None:
        self.result: Optional[dict] = None
