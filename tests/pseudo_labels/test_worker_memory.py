"""Worker pools capped to the memory there is (``worker_memory.py``), with monkeypatched
memory figures (no real memory pressure)."""
import os.path as osp

import numpy as np
import pytest

import wsss_toolbox.pseudo_labels.runner as runner_module
import wsss_toolbox.pseudo_labels.worker_memory as memory
from wsss_toolbox.pseudo_labels import generate_pseudo_labels, load_label, make_sample_pseudo_label

from .stage2_data import write_stage2_data

THRESHOLD = dict(type='ThresholdLabelGenerator', bg_threshold=0.5)


def set_available(monkeypatch, mb, source='MemAvailable'):
    monkeypatch.setattr(memory, 'available_memory_mb', lambda: (mb, source))


@pytest.fixture(autouse=True)
def one_rank(monkeypatch):
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)


def test_plan_caps_the_workers_and_says_why(monkeypatch):
    set_available(monkeypatch, 1000)
    plan = memory.plan_workers(8, 100, 'pseudo labels')
    # one worker: 1.5 x 100 + 64 = 214 MB; 80 % of 1000 MB = 800 MB: 3 fit
    assert (plan.workers, plan.per_process_mb, plan.capped) == (3, 214, True)
    assert plan.message.startswith('pseudo labels: one worker needs about 214 MB')
    assert '1000 MB available (MemAvailable' in plan.message
    assert 'nproc 8 requested -> 3 used' in plan.message


def test_plan_keeps_what_fits(monkeypatch):
    set_available(monkeypatch, 100_000)
    plan = memory.plan_workers(8, 100, 'labels')
    assert plan.workers == 8 and not plan.capped
    assert 'nproc 8 requested -> 8 used' in plan.message


def test_plan_when_not_one_worker_fits(monkeypatch):
    set_available(monkeypatch, 200, 'cgroup limit')
    plan = memory.plan_workers(4, 500, 'pseudo labels')
    assert plan.workers == 1 and plan.capped
    assert 'one worker needs about 814 MB' in plan.message
    assert '200 MB available (cgroup limit' in plan.message
    assert 'not one worker process fits: nproc 4 requested -> the images run in this ' \
        'process (nproc=1)' in plan.message


def test_plan_shares_the_memory_among_local_ranks(monkeypatch):
    set_available(monkeypatch, 1000)
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    plan = memory.plan_workers(8, 100, 'labels')
    assert plan.workers == 1 and 'shared by 2 ranks' in plan.message  # 400 MB each


def test_unknown_figures_leave_the_pool_as_asked(monkeypatch):
    set_available(monkeypatch, None)
    assert memory.plan_workers(6, 100, 'labels').workers == 6
    set_available(monkeypatch, 1000)
    assert memory.plan_workers(6, None, 'labels').workers == 6


GROWTH_SCRIPT = """
import sys
import numpy as np
import wsss_toolbox.pseudo_labels.worker_memory as memory
if sys.argv[1] == 'no_reset':
    memory._reset_peak = lambda: False
elif not memory._reset_peak():
    print('refused')
    sys.exit(0)
kept = []
def allocate(megabytes):
    block = np.ones(megabytes * (1 << 20) // 8)  # touched: resident
    if sys.argv[1] == 'no_reset':
        kept.append(block)  # still resident after the task: seen without a peak reset
    return float(block[-1])
result, grown = memory.run_first_task(allocate, 48)
print(result, grown)
"""


def measured_growth(mode: str):
    """``(result, grown)`` of a 48 MB first task in a fresh interpreter (a test process that
    ran other tests has a high lifetime peak and a warm heap), or None where the kernel
    refuses the peak reset."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, '-c', GROWTH_SCRIPT, mode], capture_output=True,
                          text=True, timeout=120, check=True)
    words = proc.stdout.split()
    return None if words == ['refused'] else (float(words[0]), float(words[1]))


def test_first_task_growth_is_measured():
    measured = measured_growth('reset')
    if measured is None:
        pytest.skip('this kernel refuses /proc/self/clear_refs: the growth is a lower bound '
                    '(test_growth_without_peak_reset_is_a_lower_bound)')
    result, grown = measured
    assert result == 1.0
    assert 40 <= grown < 200


def test_growth_without_peak_reset_is_a_lower_bound(monkeypatch):
    monkeypatch.setattr(memory, '_reset_peak', lambda: False)
    result, grown = memory.run_first_task(lambda task: task + 1, 1)
    assert result == 2 and grown >= 0
    result, grown = measured_growth('no_reset')
    assert result == 1.0 and 40 <= grown < 200


def write_cgroup(folder, limit, usage, inactive, v2=True):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ('memory.max' if v2 else 'memory.limit_in_bytes')).write_text(f'{limit}\n')
    (folder / ('memory.current' if v2 else 'memory.usage_in_bytes')).write_text(f'{usage}\n')
    key = 'inactive_file' if v2 else 'total_inactive_file'
    (folder / 'memory.stat').write_text(f'anon 1\n{key} {inactive}\n')
    names = ('memory.max', 'memory.current', 'inactive_file') if v2 else (
        'memory.limit_in_bytes', 'memory.usage_in_bytes', 'total_inactive_file')
    return (str(folder), ) + names


def test_cgroup_limit_below_memavailable_wins(monkeypatch, tmp_path):
    mib = 1 << 20
    job = write_cgroup(tmp_path / 'job', 1024 * mib, 600 * mib, 100 * mib)
    parent = write_cgroup(tmp_path / 'parent', 'max', 5000 * mib, 0)
    monkeypatch.setattr(memory, '_cgroup_folders', lambda: iter([job, parent]))
    monkeypatch.setattr(memory, '_meminfo_mb', lambda key='MemAvailable': 20_000.0)
    assert memory.cgroup_headroom_mb() == 524  # 1024 - 600 + 100 (parent: no limit)
    assert memory.available_memory_mb() == (524, 'cgroup limit')
    # an ancestor with less room decides; cgroup v1 files
    tight = write_cgroup(tmp_path / 'v1', 2048 * mib, 1900 * mib, 2 * mib, v2=False)
    monkeypatch.setattr(memory, '_cgroup_folders', lambda: iter([job, tight]))
    assert memory.cgroup_headroom_mb() == 150
    # no limit anywhere: MemAvailable
    unlimited = write_cgroup(tmp_path / 'root', 1 << 62, mib, 0, v2=False)
    monkeypatch.setattr(memory, '_cgroup_folders', lambda: iter([unlimited]))
    assert memory.available_memory_mb() == (20_000.0, 'MemAvailable')


class InlinePool:
    """Stands in for multiprocessing.Pool: records its size, runs the tasks here."""
    sizes = []

    def __init__(self, processes, initializer=None, initargs=()):
        InlinePool.sizes.append(processes)
        initializer(*initargs)

    def imap_unordered(self, func, tasks):
        return map(func, tasks)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        runner_module._WORKER.clear()


@pytest.mark.parametrize('available, workers', [(600, [2]), (100, []), (10_000, [4])])
def test_runner_caps_its_pool(tmp_path, monkeypatch, available, workers):
    # before: generate_pseudo_labels(nproc=4) started 4 workers whatever the memory
    samples = write_stage2_data(str(tmp_path / 'data'))
    map_dir, out_dir = str(tmp_path / 'data' / 'maps'), str(tmp_path / 'labels')
    InlinePool.sizes = []
    monkeypatch.setattr(runner_module.multiprocessing, 'Pool', InlinePool)
    set_available(monkeypatch, available)
    first = []

    def run_first_task(func, task):  # the first image reports 100 MB: 214 MB per worker
        first.append(task['img_id'])
        return func(task), 100.0

    monkeypatch.setattr(runner_module, 'run_first_task', run_first_task)
    logged = []
    monkeypatch.setattr(memory, 'print_log', lambda message, **kwargs: logged.append(message))
    summary = generate_pseudo_labels(samples, map_dir, out_dir, THRESHOLD, nproc=4,
                                     progress=False)
    assert InlinePool.sizes == workers  # 80 % of 600 MB: 2 workers; of 100 MB: none
    assert first == [samples[0]['img_id']]
    assert len(logged) == 1 and 'nproc 4 requested' in logged[0]
    assert summary['num_written'] == len(samples)
    for sample in samples:
        np.testing.assert_array_equal(
            load_label(osp.join(out_dir, sample['img_id'] + '.png')),
            make_sample_pseudo_label(sample, map_dir, THRESHOLD))


def test_runner_with_one_process_measures_nothing(tmp_path, monkeypatch):
    samples = write_stage2_data(str(tmp_path / 'data'), num_images=2)
    monkeypatch.setattr(runner_module, 'run_first_task', lambda *args: pytest.fail('measured'))
    summary = generate_pseudo_labels(samples, str(tmp_path / 'data' / 'maps'),
                                     str(tmp_path / 'labels'), THRESHOLD, nproc=1,
                                     progress=False)
    assert summary['num_written'] == 2
