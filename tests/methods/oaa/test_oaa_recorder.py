"""The recorder hook's pieces: score condition, attention of a padded batch, fusion of one
batch, checkpoint save / restore."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from wsss_toolbox.methods.oaa.hooks import (
    CumulativeMapRecorderHook,
    batch_attention,
    score_condition,
)
from wsss_toolbox.structures import WSSSDataSample


def _sample(img_id, label, img_shape, **meta):
    sample = WSSSDataSample(metainfo=dict(img_id=img_id, img_shape=img_shape,
                                          ori_shape=img_shape, **meta))
    sample.gt_label = torch.tensor(label, dtype=torch.float32)
    return sample


def test_paper_score_condition():
    logits = np.array([[3.0, 2.0, 1.0, 0.0],   # both targets beat every non-target
                       [2.0, 1.0, 3.0, 0.0],   # non-target 2 is the highest: none passes
                       [3.0, 0.5, 1.0, 0.0],   # target 1 is below non-target 2
                       [0.1, 0.2, -5.0, 9.0]])  # every class is a target: all pass
    labels = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    expected = [[True, True, False, False], [False, False, False, False],
                [True, False, False, False], [True, True, True, True]]
    assert score_condition(logits, labels, 'paper').tolist() == expected
    # equal to the best non-target score is not "higher"
    assert score_condition([[1.0, 1.0]], [[1, 0]], 'paper').tolist() == [[False, False]]


def test_topk_score_condition_of_the_authors_code():
    logits = np.array([[2.0, 1.0, 3.0, 0.0], [3.0, 0.5, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    labels = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]])
    # K = 2: the two highest scores are classes {2, 0}, {0, 2}, and a three-way tie
    expected = [[True, False, False, False], [True, False, False, False],
                [True, True, False, False]]
    assert score_condition(logits, labels, 'topk').tolist() == expected
    assert score_condition(logits, labels, 'always').tolist() == (labels > 0).tolist()
    with pytest.raises(ValueError, match='score_rule'):
        score_condition(logits, labels, 'best')


def test_batch_attention_crops_padding_then_normalises():
    torch.manual_seed(0)
    maps = torch.randn(2, 3, 4, 4)
    maps[1, 2, 3, 3] = 100.0  # in the padding of image 1: must not set its maximum
    samples = [_sample('a', [1, 0, 1], (32, 32)), _sample('b', [0, 0, 1], (16, 24))]
    results = batch_attention(maps, samples, (32, 32))
    assert [r['img_id'] for r in results] == ['a', 'b']
    assert results[0]['classes'].tolist() == [0, 2] and results[1]['classes'].tolist() == [2]
    assert results[0]['feature_stride'] == (8.0, 8.0)
    valid = maps[1, 2, :2, :3]  # 16x24 of 32x32 -> 2x3 of 4x4 cells
    expected = torch.relu(valid) / valid.max()  # OAA Eq. 2
    np.testing.assert_allclose(results[1]['attention'][0], expected.numpy(), rtol=1e-6)
    expected_a = torch.relu(maps[0, [0, 2]]) / maps[0, [0, 2]].amax(dim=(1, 2), keepdim=True)
    np.testing.assert_allclose(results[0]['attention'], expected_a.numpy(), rtol=1e-6)
    # same shapes: the batched path gives the same as the per-image path
    same = [_sample('a', [1, 0, 1], (32, 32)), _sample('c', [0, 1, 0], (32, 32))]
    logits = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    batched = batch_attention(maps, same, (32, 32), logits=logits)
    assert batched[1]['logits'].tolist() == [4.0, 5.0, 6.0]  # same copy to the CPU
    np.testing.assert_allclose(batched[1]['attention'][0],
                               (torch.relu(maps[1, 1]) / maps[1, 1].max()).numpy(), rtol=1e-6)


def _recorded(maps, logits, samples, shape=(32, 32)):
    return dict(cams=maps, logits=logits, data_samples=samples, batch_input_shape=shape)


def test_record_fuses_accepted_classes_only():
    hook = CumulativeMapRecorderHook(fusion='max')
    maps = torch.zeros(1, 3, 2, 2)
    maps[0, 0] = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    maps[0, 1] = torch.tensor([[4.0, 0.0], [0.0, 0.0]])
    sample = _sample('x', [1, 1, 0], (16, 16))
    logits = torch.tensor([[2.0, 0.0, 1.0]])  # class 1 is below non-target class 2
    hook.record(_recorded(maps, logits, [sample], (16, 16)), stamp=0, epoch=0, max_epochs=5)
    store = hook.store
    assert store.counts('x').tolist() == [1, 0]
    np.testing.assert_allclose(store.cumulative_maps('x')[0],
                               np.round(np.array([[0.5, 1.0], [0, 0]]) * 255) / 255)
    assert store.meta('x')['feature_stride'] == (8.0, 8.0)
    # last epoch: class 1 still has no map, so it is accumulated anyway (authors' code)
    hook.record(_recorded(maps, logits, [sample], (16, 16)), stamp=1, epoch=4, max_epochs=5)
    assert store.counts('x').tolist() == [2, 1]


def test_skip_first_epoch_and_fixed_geometry():
    hook = CumulativeMapRecorderHook(skip_first_epoch=True, fill_missing_in_last_epoch=False)
    maps = torch.rand(1, 2, 2, 2)
    sample = _sample('x', [1, 0], (16, 16))
    logits = torch.tensor([[5.0, 0.0]])
    hook.record(_recorded(maps, logits, [sample], (16, 16)), stamp=0, epoch=0, max_epochs=2)
    assert hook.store.counts('x').tolist() == [0] and hook.store.visits('x') == 1
    hook.record(_recorded(maps, logits, [sample], (16, 16)), stamp=1, epoch=1, max_epochs=2)
    assert hook.store.counts('x').tolist() == [1]
    flipped = _sample('y', [1, 0], (16, 16), flip=True, flip_direction='horizontal')
    with pytest.raises(ValueError, match='RandomFlip'):
        hook.record(_recorded(maps, logits, [flipped], (16, 16)), stamp=2)


def _runner(iteration):
    return SimpleNamespace(iter=iteration, work_dir='.')


def test_checkpoint_save_and_resume_restore():
    hook = CumulativeMapRecorderHook(fusion='mean')
    maps = torch.rand(2, 2, 2, 2)
    samples = [_sample('a', [1, 1], (16, 16)), _sample('b', [0, 1], (16, 16))]
    hook.record(_recorded(maps, torch.zeros(2, 2), samples, (16, 16)), stamp=0)
    checkpoint = {}
    hook.before_save_checkpoint(_runner(1), checkpoint)
    assert set(checkpoint['wsss_cumulative_maps']['entries']) == {'a', 'b'}

    resumed = CumulativeMapRecorderHook(fusion='mean')
    resumed.after_load_checkpoint(_runner(1), checkpoint)
    resumed.before_train(_runner(1))  # iter > 0: a resumed run continues the store
    assert resumed.store.equals(hook.store)

    fine_tuned = CumulativeMapRecorderHook(fusion='mean')
    fine_tuned.after_load_checkpoint(_runner(0), checkpoint)
    fine_tuned.before_train(_runner(0))  # load_from (iter 0): a new run starts empty
    assert len(fine_tuned.store) == 0

    mismatched = CumulativeMapRecorderHook(fusion='max')
    mismatched.after_load_checkpoint(_runner(1), checkpoint)
    with pytest.raises(ValueError, match='fusion'):
        mismatched.before_train(_runner(1))


class _Dataset:
    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_data_info(self, index):
        img_id, label = list(self.labels.items())[index]
        return dict(img_id=img_id, gt_label=np.asarray(label, np.float32))


def test_memmap_backend_through_the_hook(tmp_path):
    labels = {'a': [1, 1], 'b': [0, 1]}
    runner = SimpleNamespace(work_dir=str(tmp_path), hooks=[],
                             train_dataloader=SimpleNamespace(dataset=_Dataset(labels)))
    hooks = {}
    for backend in ('memory', 'memmap'):
        hook = CumulativeMapRecorderHook(backend=backend)
        hook.before_run(runner)
        torch.manual_seed(0)
        for stamp in range(3):
            samples = [_sample(i, l, (16, 16)) for i, l in labels.items()]
            hook.record(_recorded(torch.rand(2, 2, 2, 2), torch.zeros(2, 2), samples,
                                  (16, 16)), stamp=stamp)
        hooks[backend] = hook
    assert (tmp_path / 'cumulative_store' / 'cumulative.mmap').is_file()
    assert hooks['memmap'].store.backend == 'memmap'
    assert hooks['memmap'].store.equals(hooks['memory'].store)
