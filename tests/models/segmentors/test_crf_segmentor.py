"""DenseCRF post-processing of stage-3 predictions: CRFEncoderDecoder and CRFSegTTAModel."""
import math
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_toolbox.models.segmentors import CRFEncoderDecoder, CRFSegTTAModel, crf_refine_probs
from wsss_toolbox.pseudo_labels.crf import DenseCRFRefiner
from wsss_toolbox.registry import MODELS

TEST_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
TTA_SCALES = (0.5, 1.0)
TTA_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in TTA_SCALES],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal'),
            ],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]


class RecordingRefiner:
    """Stand-in refiner: records its inputs and answers a constant label map."""

    def __init__(self, answer: int = 2) -> None:
        self.answer = answer
        self.calls = []

    def refine_probs(self, probs, image):
        self.calls.append((probs.copy(), image.copy()))
        return np.full(probs.shape[1:], self.answer, np.uint8)


def _model_cfg(crf=None) -> ConfigDict:
    return ConfigDict(
        type='CRFEncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[128.] * 3, std=[64.] * 3, bgr_to_rgb=True),
        backbone=dict(type='TinyConvNet', base_channels=4, out_indices=(3, )),
        decode_head=dict(type='LargeFOVHead', in_channels=16, channels=8, dilation=2,
                         dropout_ratio=0., num_classes=3),
        train_cfg=dict(),
        test_cfg=dict(mode='whole', crf=crf))


def _build(crf=None) -> CRFEncoderDecoder:
    init_default_scope('wsss_toolbox')
    torch.manual_seed(0)
    return MODELS.build(_model_cfg(crf)).eval()


def _batch(img_paths, pipeline=TEST_PIPELINE) -> dict:
    transform = Compose(pipeline)
    items = []
    for path in img_paths:
        stem = osp.splitext(osp.basename(path))[0]
        seg = osp.join(osp.dirname(osp.dirname(path)), 'SegmentationClass', f'{stem}.png')
        items.append(transform(dict(img_path=path, seg_map_path=seg, reduce_zero_label=False,
                                    seg_fields=[])))
    return pseudo_collate(items)


def _images(root: str, split: str = 'val') -> list:
    with open(osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt')) as f:
        return [osp.join(root, 'JPEGImages', f'{i}.png') for i in f.read().split()]


def test_densecrf_snaps_a_noisy_patch_to_the_colour_region(tmp_path):
    """Two flat colour halves; the probabilities mislabel a patch of the left half (0.5 vs
    0.3): argmax keeps the mistake, the CRF's bilateral term removes it."""
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = (220, 30, 30)
    image[:, 16:] = (30, 30, 220)
    path = str(tmp_path / 'halves.png')
    mmcv.imwrite(image[..., ::-1], path)  # stored as BGR, read back as RGB by the CRF
    probs = torch.full((3, 32, 32), 0.2)
    probs[1, :, :16] = 0.6
    probs[2, :, 16:] = 0.6
    probs[:, 12:16, 4:8] = torch.tensor([0.2, 0.3, 0.5])[:, None, None]
    assert (probs.argmax(0)[12:16, 4:8] == 2).all()

    labels = crf_refine_probs(DenseCRFRefiner(), probs, path)
    assert labels.shape == (1, 32, 32) and labels.dtype == torch.int64
    expected = torch.ones(32, 32, dtype=torch.int64)
    expected[:, 16:] = 2
    assert torch.equal(labels[0], expected)


def test_crf_refine_probs_size_mismatch_names_the_image(tmp_path):
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), path)
    with pytest.raises(ValueError, match='img.png'):
        crf_refine_probs(RecordingRefiner(), torch.full((2, 8, 9), 0.5), path)


def test_crf_refine_probs_names_an_undecodable_image(tmp_path):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'not a jpeg')  # before: cv2.error ... !_src.empty() in cvtColor
    with pytest.raises(OSError, match=r'CRF: cannot decode image ".*broken\.jpg"'):
        crf_refine_probs(RecordingRefiner(), torch.full((2, 8, 8), 0.5), str(path))


def test_without_crf_predictions_are_the_argmax(tiny_voc):
    model = _build(crf=None)
    assert model.crf_refiner is None
    with torch.no_grad():
        samples = model.test_step(_batch(_images(tiny_voc)))
    for sample in samples:
        assert sample.seg_logits.shape == (32, 32)
        assert torch.equal(sample.pred_sem_seg.data, sample.seg_logits.data.argmax(0,
                                                                                   keepdim=True))


def test_crf_gets_softmax_and_rgb_image_and_sets_prediction(tiny_voc):
    refiner = RecordingRefiner(answer=2)
    model = _build(crf=refiner)
    paths = _images(tiny_voc)
    with torch.no_grad():
        samples = model.test_step(_batch(paths))
    assert len(refiner.calls) == len(paths)
    for (probs, image), sample, path in zip(refiner.calls, samples, paths):
        expected_probs = sample.seg_logits.data.softmax(dim=0).numpy()
        np.testing.assert_allclose(probs, expected_probs, atol=1e-6)
        np.testing.assert_array_equal(image, mmcv.imread(path)[..., ::-1])
        assert torch.equal(sample.pred_sem_seg.data, torch.full((1, 32, 32), 2))


def test_real_densecrf_in_predict(tiny_voc):
    crf = dict(type='DenseCRFRefiner', iterations=3)
    model = _build(crf=crf)
    assert isinstance(model.crf_refiner, DenseCRFRefiner)
    path = _images(tiny_voc)[0]
    with torch.no_grad():
        sample = model.test_step(_batch([path]))[0]
    probs = sample.seg_logits.data.softmax(dim=0).numpy()
    expected = DenseCRFRefiner(iterations=3).refine_probs(probs, mmcv.imread(path)[..., ::-1])
    np.testing.assert_array_equal(sample.pred_sem_seg.data[0].numpy(), expected)


def test_crf_needs_img_path_and_a_probability_refiner():
    model = _build(crf=RecordingRefiner())
    with pytest.raises(ValueError, match='img_path'), torch.no_grad():
        model.predict(torch.zeros(1, 3, 16, 16))
    with pytest.raises(TypeError, match='refine_probs'):
        _build(crf=object())


def _sample_with_logits(logits) -> SegDataSample:
    sample = SegDataSample(metainfo=dict(img_path='unused.png', ori_shape=(1, 1)))
    sample.seg_logits = PixelData(data=torch.tensor(logits, dtype=torch.float32)[:, None, None])
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 1, 1, dtype=torch.int64))
    return sample


@pytest.mark.parametrize('fusion,expected_probs', [
    # mean of softmax: ([.8808, .1192] * 2 + [.0759, .9241]) / 3 -> class 0
    ('mean', [(2 * 1 / (1 + math.exp(-2)) + 1 / (1 + math.exp(2.5))) / 3,
              (2 * 1 / (1 + math.exp(2)) + 1 / (1 + math.exp(-2.5))) / 3]),
    # max of logits: softmax([2, 2.5]) -> class 1
    ('max', [1 / (1 + math.exp(0.5)), 1 / (1 + math.exp(-0.5))]),
])
def test_tta_fusion_by_hand(fusion, expected_probs):
    init_default_scope('wsss_toolbox')
    tta = CRFSegTTAModel(module=_model_cfg(), fusion=fusion)
    augmented = [_sample_with_logits(v) for v in ([2., 0.], [2., 0.], [0., 2.5])]
    merged = tta.merge_preds([augmented])[0]
    fused = merged.seg_logits.data.softmax(dim=0)[:, 0, 0]
    assert torch.allclose(fused, torch.tensor(expected_probs), atol=1e-5)
    assert merged.pred_sem_seg.data.item() == int(np.argmax(expected_probs))
    assert 'gt_sem_seg' in merged and merged.img_path == 'unused.png'


def test_tta_rejects_unknown_fusion():
    init_default_scope('wsss_toolbox')
    with pytest.raises(ValueError, match='fusion'):
        CRFSegTTAModel(module=_model_cfg(), fusion='median')


def test_tta_runs_the_module_crf_once_on_fused_probabilities(tiny_voc):
    """The wrapped model's CRF is moved after the fusion: one call per image, not per aug."""
    refiner = RecordingRefiner(answer=1)
    init_default_scope('wsss_toolbox')
    torch.manual_seed(0)
    tta = CRFSegTTAModel(module=_model_cfg(crf=refiner)).eval()
    assert tta.crf_refiner is refiner and tta.module.crf_enabled is False
    paths = _images(tiny_voc)
    data = _batch(paths, TTA_PIPELINE)
    with torch.no_grad():
        merged = tta.test_step(data)
        # reference: every augmentation through the plain model, softmax averaged
        per_aug = [tta.module.test_step(dict(inputs=inputs, data_samples=samples))
                   for inputs, samples in zip(data['inputs'], data['data_samples'])]
    assert len(data['inputs']) == len(TTA_SCALES) * 2
    assert len(refiner.calls) == len(paths)
    for index, ((probs, image), sample) in enumerate(zip(refiner.calls, merged)):
        reference = torch.stack([aug[index].seg_logits.data.softmax(0) for aug in per_aug])
        np.testing.assert_allclose(probs, reference.mean(0).numpy(), atol=1e-5)
        assert image.shape == (32, 32, 3)
        assert torch.equal(sample.pred_sem_seg.data, torch.ones(1, 32, 32, dtype=torch.int64))
        assert sample.gt_sem_seg.shape == (32, 32)


def test_tta_with_densecrf_from_the_registry(tiny_voc):
    init_default_scope('wsss_toolbox')
    tta = CRFSegTTAModel(module=_model_cfg(), crf=dict(type='DenseCRFRefiner', iterations=2),
                         fusion='max').eval()
    assert isinstance(tta.crf_refiner, DenseCRFRefiner)
    path = _images(tiny_voc)[0]
    with torch.no_grad():
        sample = tta.test_step(_batch([path], TTA_PIPELINE))[0]
    probs = sample.seg_logits.data.softmax(dim=0).numpy()
    expected = DenseCRFRefiner(iterations=2).refine_probs(probs, mmcv.imread(path)[..., ::-1])
    np.testing.assert_array_equal(sample.pred_sem_seg.data[0].numpy(), expected)
