"""The evaluators' progress bars count images (not the chunks they are summed in)."""
import io

import mmcv
import numpy as np
import pytest
from mmengine.utils import ProgressBar

import wsss_toolbox.evaluation.utils as evaluation_utils
from wsss_toolbox.evaluation import evaluate_labels
from wsss_toolbox.pseudo_labels import save_label


class RecordingBar(ProgressBar):
    """mmengine's bar writing into a string, remembering every instance."""
    bars = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **dict(kwargs, file=io.StringIO()))
        RecordingBar.bars.append(self)


@pytest.fixture
def recorded_bars(monkeypatch):
    RecordingBar.bars = []
    monkeypatch.setattr(evaluation_utils, 'ProgressBar', RecordingBar)
    return RecordingBar.bars


def write_images(root, count: int):
    samples = []
    for index in range(count):
        img_id = f'im{index:03d}'
        gt = np.full((4, 5), index % 3, np.uint8)
        gt_path = str(root / 'gt' / f'{img_id}.png')
        mmcv.imwrite(gt, gt_path)
        save_label(str(root / 'labels' / f'{img_id}.png'), gt)
        samples.append(dict(img_id=img_id, seg_map_path=gt_path))
    return samples


@pytest.mark.parametrize('nproc', [1, 2])
def test_label_evaluation_bar_counts_images(tmp_path, recorded_bars, nproc):
    samples = write_images(tmp_path, 37)  # 3 chunks of at most 16 images
    result = evaluate_labels(samples, str(tmp_path / 'labels'), 3, nproc=nproc, progress=True)
    assert result['num_images'] == 37
    assert result['metrics']['aAcc'] == pytest.approx(1.0)
    assert len(recorded_bars) == 1
    bar = recorded_bars[0]
    assert bar.task_num == 37 and bar.completed == 37
    shown = bar.file.getvalue()
    assert '] 37/37' in shown and '/16' not in shown and '/3,' not in shown


def test_parallel_sum_bar_advances_by_chunk_size(recorded_bars):
    total, count = evaluation_utils.parallel_sum(float, range(1, 21), progress=True,
                                                 chunk_size=8)
    assert (total, count) == (210.0, 20)
    assert recorded_bars[0].task_num == 20 and recorded_bars[0].completed == 20
    # without progress: no bar
    evaluation_utils.parallel_sum(float, range(3))
    assert len(recorded_bars) == 1
