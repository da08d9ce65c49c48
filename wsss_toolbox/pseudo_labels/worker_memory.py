"""Worker pools that fit in memory.

A step with ``nproc=N`` starts N worker processes, and each holds what one image needs at
once (DenseCRF of a COCO image with many classes: a float32 unary and a Q matrix of (K + 1) x
H x W, plus the permutohedral lattice). N of them must not exceed the machine's memory, or the
kernel kills one and the pool hangs or dies. So, before a pool starts, :func:`run_first_task`
runs the first task in this process and measures how much its peak resident memory grew, and
:func:`plan_workers` keeps the number of workers that fit:

* one worker needs ``PEAK_FACTOR`` x that growth (later images may be larger than the first)
  plus ``WORKER_BASE_MB`` (the pages a forked worker copies from this one as it runs);
* the memory there is: ``MemAvailable`` (``/proc/meminfo``) or, where the process's cgroup (a
  container, a batch job) leaves less, the cgroup's limit minus its usage plus its inactive
  file cache (the tightest over the cgroup and its ancestors); ``MEMORY_FRACTION`` of it is
  used, shared by the ranks on this machine (``LOCAL_WORLD_SIZE`` under torchrun), which start
  their pools together.

A capped pool is logged with the numbers (per-process MB, available MB, N requested -> M used).
When not even one worker fits, the remaining tasks run in this process (as ``nproc=1``: the
first task just ran here) with a warning, rather than failing: a forked worker would need the
same memory again. Where the figures are unknown (no ``/proc``: not Linux) the pool is not
capped.

The growth is measured with the kernel's peak-RSS mark ``VmHWM`` (``/proc/self/status``), reset
first by writing ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0); where that reset is refused
the growth of the process's lifetime peak (``VmHWM`` or ``resource.getrusage``) is used, a lower
bound.
"""
import logging
import os
import os.path as osp
import resource
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple

from mmengine.logging import print_log

#: share of the available memory the workers may use together
MEMORY_FRACTION = 0.8
#: one worker's memory, as a multiple of the first task's peak growth (larger later images)
PEAK_FACTOR = 1.5
#: a forked worker's own pages besides the task's (copied-on-write Python objects it touches;
#: 45-72 MB of private dirty pages measured in a pool worker after a DenseCRF label of a
#: 640 x 480 image, whose growth, 61-119 MB, the first image's 121 MB in the parent covered)
WORKER_BASE_MB = 64.0
# a cgroup-v1 limit this high means "no limit"
_UNLIMITED_BYTES = 1 << 60
_MB = 1 << 20


@dataclass
class WorkerPlan:
    """How many workers a pool gets, and why (:func:`plan_workers`)."""
    requested: int
    workers: int
    per_process_mb: Optional[float]
    available_mb: Optional[float]
    message: str

    @property
    def capped(self) -> bool:
        return self.workers < self.requested


# ------------------------------------------------------------------ what this process holds
def _proc_field_mb(path: str, key: str) -> Optional[float]:
    """The ``key: <n> kB`` field of a ``/proc`` file in MB; None where there is none."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _status_mb(key: str) -> Optional[float]:
    """``VmHWM`` / ``VmRSS`` of ``/proc/self/status`` in MB; None where there is none."""
    return _proc_field_mb('/proc/self/status', key)


def _reset_peak() -> bool:
    """Set this process's ``VmHWM`` back to its current RSS; False where refused."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _lifetime_peak_mb() -> float:
    peak = _status_mb('VmHWM')
    if peak is not None:
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def run_first_task(func: Callable[[Any], Any], task: Any) -> Tuple[Any, float]:
    """``(func(task), growth of this process's peak RSS in MB while it ran)``."""
    if _reset_peak():
        before = _status_mb('VmRSS') or 0.0
        result = func(task)
        return result, max(0.0, _lifetime_peak_mb() - before)
    # a lower bound: an earlier, higher peak hides part of the task's, and what the task
    # freed before returning is not in its resident size
    peak_before, rss_before = _lifetime_peak_mb(), _status_mb('VmRSS') or 0.0
    result = func(task)
    grown = max(_lifetime_peak_mb() - peak_before, (_status_mb('VmRSS') or 0.0) - rss_before)
    return result, max(0.0, grown)


# ------------------------------------------------------------------ what the machine has
def _meminfo_mb(key: str = 'MemAvailable') -> Optional[float]:
    return _proc_field_mb('/proc/meminfo', key)


def _read_bytes(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return None if text == 'max' else int(text) if text.isdigit() else None


def _stat_bytes(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(' ')
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _cgroup_folders():
    """``(folder, limit file, usage file, inactive-cache key)`` of this process's memory
    cgroup and its ancestors (cgroup v2 and v1), innermost first."""
    try:
        with open('/proc/self/cgroup') as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        _, controllers, path = (line.split(':', 2) + ['', ''])[:3]
        if controllers == '':
            root, files = '/sys/fs/cgroup', ('memory.max', 'memory.current', 'inactive_file')
        elif 'memory' in controllers.split(','):
            root, files = '/sys/fs/cgroup/memory', ('memory.limit_in_bytes',
                                                    'memory.usage_in_bytes',
                                                    'total_inactive_file')
        else:
            continue
        parts = [part for part in path.split('/') if part]
        for depth in range(len(parts), -1, -1):
            yield (osp.join(root, *parts[:depth]), ) + files


def cgroup_headroom_mb() -> Optional[float]:
    """The memory this process's cgroups leave: limit - usage + inactive file cache, the
    smallest over the cgroup and its ancestors; None without a limit."""
    headroom = None
    for folder, limit_file, usage_file, inactive_key in _cgroup_folders():
        limit = _read_bytes(osp.join(folder, limit_file))
        usage = _read_bytes(osp.join(folder, usage_file))
        if limit is None or usage is None or limit >= _UNLIMITED_BYTES:
            continue
        free = limit - usage + _stat_bytes(osp.join(folder, 'memory.stat'), inactive_key)
        headroom = free if headroom is None else min(headroom, free)
    return None if headroom is None else max(0, headroom) / _MB


def available_memory_mb() -> Tuple[Optional[float], str]:
    """``(MB this process may still use, where the figure comes from)``; None when unknown."""
    available, source = _meminfo_mb('MemAvailable'), 'MemAvailable'
    cgroup = cgroup_headroom_mb()
    if cgroup is not None and (available is None or cgroup < available):
        available, source = cgroup, 'cgroup limit'
    return available, source


def _local_processes() -> int:
    """Ranks on this machine that start their pools together (torchrun's
    ``LOCAL_WORLD_SIZE``; 1 otherwise)."""
    try:
        return max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1')))
    except ValueError:
        return 1


# ------------------------------------------------------------------ the plan
def plan_workers(requested: int, task_mb: Optional[float], what: str) -> WorkerPlan:
    """How many of ``requested`` workers fit, given one task's peak growth ``task_mb``
    (module docstring); ``what`` names the work in the message (e.g. ``'pseudo labels'``)."""
    available, source = available_memory_mb()
    if task_mb is None or available is None:
        return WorkerPlan(requested, requested, None, available,
                          f'{what}: memory figures unknown; {requested} worker processes')
    per_process = PEAK_FACTOR * task_mb + WORKER_BASE_MB
    ranks = _local_processes()
    usable = MEMORY_FRACTION * available / ranks
    fits = int(usable // per_process)
    shared = f' shared by {ranks} ranks' if ranks > 1 else ''
    figures = (f'one worker needs about {per_process:.0f} MB ({PEAK_FACTOR:g} x the first '
               f"image's {task_mb:.0f} MB + {WORKER_BASE_MB:.0f} MB), {available:.0f} MB "
               f'available ({source}{shared}; {MEMORY_FRACTION:.0%} used: {usable:.0f} MB)')
    if fits >= requested:
        return WorkerPlan(requested, requested, per_process, available,
                          f'{what}: {figures}; nproc {requested} requested -> {requested} used')
    if fits >= 1:
        return WorkerPlan(requested, fits, per_process, available,
                          f'{what}: {figures}; nproc {requested} requested -> {fits} used '
                          'so that the workers fit in memory')
    return WorkerPlan(requested, 1, per_process, available,
                      f'{what}: {figures}; not one worker process fits: nproc {requested} '
                      'requested -> the images run in this process (nproc=1). Free memory, '
                      'or run with nproc=1.')


def cap_workers(requested: int, task_mb: Optional[float], what: str) -> int:
    """The number of workers of :func:`plan_workers`, logged (a warning when capped)."""
    plan = plan_workers(requested, task_mb, what)
    print_log(plan.message, logger='current',
              level=logging.WARNING if plan.capped else logging.INFO)
    return plan.workers
