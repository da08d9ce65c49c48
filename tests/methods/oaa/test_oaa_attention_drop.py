"""The attention drop layer (OAA++, Algorithm 1): mask, fill colour, drop probability."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.model import ImgDataPreprocessor

from wsss_toolbox.methods.oaa.hooks import (
    AttentionDropHook,
    CumulativeMapRecorderHook,
    attention_drop_mask,
    occlude,
    preprocessor_fill,
)
from wsss_toolbox.structures import WSSSDataSample

# 4x4 feature cells of stride 2 over an 8x8 input; class 0 is hot in the top-left 2x2 cells,
# class 1 in the bottom-right ones
CLASS0 = np.zeros((4, 4), np.float32)
CLASS0[:2, :2] = 1.0
CLASS1 = np.zeros((4, 4), np.float32)
CLASS1[2:, 2:] = 0.9


def test_mask_is_the_union_over_classes_above_delta():
    block = np.zeros((8, 8), bool)
    block[:4, :4] = True  # bilinear: pixel 3 gets 0.75 (corner 0.5625), pixel 4 0.25
    mask = attention_drop_mask(CLASS0, (2.0, 2.0), (8, 8), threshold=0.5)
    np.testing.assert_array_equal(mask.numpy(), block)
    union = attention_drop_mask(np.stack([CLASS0, CLASS1]), (2.0, 2.0), (8, 8), 0.5)
    np.testing.assert_array_equal(union.numpy(), block | block[::-1, ::-1])
    # delta: the corner pixel (0.5625) is dropped at 0.5, not at 0.6; nothing at 0.95 / 1
    assert attention_drop_mask(CLASS0, (2.0, 2.0), (8, 8), 0.6).sum() == 15
    assert not attention_drop_mask(CLASS1, (2.0, 2.0), (8, 8), 0.95).any()
    assert not attention_drop_mask(CLASS0, (2.0, 2.0), (8, 8), 1.0).any()


def test_occlusion_fills_the_mean_colour_which_normalises_to_zero():
    preprocessor = ImgDataPreprocessor(mean=[123.675, 116.28, 103.53],
                                       std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
    fill = preprocessor_fill(SimpleNamespace(data_preprocessor=preprocessor))
    assert fill == pytest.approx((103.53, 116.28, 123.675))  # BGR input order
    image = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    original = image.clone()
    mask = attention_drop_mask(CLASS0, (2.0, 2.0), (8, 8), 0.6)
    occlude(image, mask, fill)
    assert torch.equal(image[:, ~mask], original[:, ~mask])
    assert image[:, mask].T.unique(dim=0).tolist() == [[104, 116, 124]]
    normalised = preprocessor(dict(inputs=[image], data_samples=None), False)['inputs'][0]
    assert normalised[:, mask].abs().max() < 0.01  # the authors' code sets them to 0
    plain = ImgDataPreprocessor(mean=[1, 2, 3], std=[1, 1, 1])
    assert preprocessor_fill(SimpleNamespace(data_preprocessor=plain)) == (1.0, 2.0, 3.0)


def _drop_hook(drop_prob, threshold=0.6, stored=('seen', )):
    recorder = CumulativeMapRecorderHook(keep_last=True)
    meta = dict(ori_shape=(8, 8), img_shape=(8, 8), feature_stride=(2.0, 2.0))
    for img_id in stored:
        recorder.store.update(img_id, [0, 1], np.stack([CLASS0, CLASS1]),
                              accepted=[False, False], stamp=0, meta=meta)
    hook = AttentionDropHook(drop_prob=drop_prob, threshold=threshold, fill=(0, 0, 0), seed=3)
    hook.recorder = recorder
    hook._fill, hook._seed = (0, 0, 0), 3
    return hook


def _batch(ids):
    inputs = [torch.full((3, 8, 8), 200, dtype=torch.uint8) for _ in ids]
    samples = [WSSSDataSample(metainfo=dict(img_id=i)) for i in ids]
    return inputs, samples


def test_beta_one_always_drops_beta_zero_never():
    inputs, samples = _batch(['seen', 'new'])
    assert _drop_hook(1.0).drop_batch(inputs, samples, epoch=1) == 1
    expected = ~attention_drop_mask(np.stack([CLASS0, CLASS1]), (2.0, 2.0), (8, 8), 0.6)
    # the last map was stored although it failed the score condition (Algorithm 1)
    np.testing.assert_array_equal((inputs[0][0] == 200).numpy(), expected.numpy())
    assert (inputs[1] == 200).all()  # first visit: no previous attention, no drop
    inputs, samples = _batch(['seen'])
    assert _drop_hook(0.0).drop_batch(inputs, samples, epoch=1) == 0
    assert (inputs[0] == 200).all()


def test_draws_are_reproducible_and_have_probability_beta():
    hook = _drop_hook(0.5)
    ids = [f'img{i}' for i in range(2000)]
    draws = [hook.should_drop(i, epoch=2) for i in ids]
    assert draws == [hook.should_drop(i, epoch=2) for i in ids]  # same on every rank / run
    assert abs(np.mean(draws) - 0.5) < 0.05
    assert draws != [hook.should_drop(i, epoch=3) for i in ids]  # new draws every epoch


def test_drop_hook_needs_a_recorder():
    runner = SimpleNamespace(hooks=[], model=None, seed=0)
    with pytest.raises(RuntimeError, match='CumulativeMapRecorderHook'):
        AttentionDropHook().before_run(runner)
    recorder = CumulativeMapRecorderHook()
    preprocessor = ImgDataPreprocessor(mean=[1, 2, 3], std=[1, 1, 1], bgr_to_rgb=True)
    runner = SimpleNamespace(hooks=[recorder], model=SimpleNamespace(
        data_preprocessor=preprocessor), seed=7)
    hook = AttentionDropHook()
    hook.before_run(runner)
    assert recorder.store.keep_last and hook._fill == (3.0, 2.0, 1.0) and hook._seed == 7
