"""OAA as the authors' released code (OAA-PyTorch) trains it. Every item compares the
toolbox's authors' option with a hand computation of the authors' rule on small hand-made
inputs, and checks that the VOC configs use it."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.model import ImgDataPreprocessor
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from wsss_toolbox.methods.oaa.heads import IntegralAttentionHead
from wsss_toolbox.methods.oaa.hooks import (
    AttentionDropHook,
    CumulativeMapRecorderHook,
    attention_drop_mask,
    attention_maps,
    score_condition,
)
from wsss_toolbox.methods.oaa.losses import HybridLoss
from wsss_toolbox.methods.oaa.store import CumulativeMapStore
from wsss_toolbox.methods.oaa.transforms import (
    ColorJitterBGR,
    LoadStoredCumulativeMaps,
    ResizeShortSide,
)
from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import register_all_modules

VOC = osp.join(REPO_ROOT, 'configs', 'oaa', '{}_vgg16_1xb5-15e_voc12aug-224x224.py')
TINY = osp.join(REPO_ROOT, 'configs', 'oaa', '{}_tiny_1xb16-8e_synthetic-128x128.py')


@pytest.fixture(autouse=True)
def scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.set_num_threads(1)


def _sample(img_id, label, img_shape):
    sample = WSSSDataSample(metainfo=dict(img_id=img_id, img_shape=img_shape,
                                          ori_shape=img_shape))
    sample.gt_label = torch.tensor(label, dtype=torch.float32)
    return sample


def _recorded(maps, logits, samples, shape):
    return dict(cams=maps, logits=logits, data_samples=samples, batch_input_shape=shape)


def _hooks(cfg):
    return {hook['type']: hook for hook in cfg.custom_hooks}


# ------------------------------------------------------------------ item 1: attention drop
def _bilinear_1d(values, size):
    """Hand-written bilinear resize (align_corners=False, border clamped) of one row."""
    values = np.asarray(values, np.float64)
    out = np.empty(size)
    for i in range(size):
        x = min(max((i + 0.5) * len(values) / size - 0.5, 0), len(values) - 1)
        left = int(np.floor(x))
        right = min(left + 1, len(values) - 1)
        out[i] = values[left] * (1 - (x - left)) + values[right] * (x - left)
    return out


def test_drop_mask_is_the_union_of_per_class_masks_not_the_thresholded_maximum():
    # two classes on 1x2 feature cells (stride 4), one hot cell each, input 2x8, delta 0.7
    class0, class1 = [1.0, 0.0], [0.0, 1.0]
    attention = np.array([[class0], [class1]], np.float32)  # (K=2, 1, 2)
    delta = 0.7
    # the authors' rule by hand: resize every class map, threshold it, unite the masks
    by_hand = (_bilinear_1d(class0, 8) > delta) | (_bilinear_1d(class1, 8) > delta)
    assert by_hand.tolist() == [True] * 3 + [False] * 2 + [True] * 3
    union = attention_drop_mask(attention, (2.0, 4.0), (2, 8), delta, mode='union')
    np.testing.assert_array_equal(union.numpy(), np.stack([by_hand, by_hand]))
    # the maximum over classes is 1 everywhere: thresholding it drops the whole image
    assert attention_drop_mask(attention, (2.0, 4.0), (2, 8), delta, mode='max').all()


def test_drop_reads_the_last_stored_map_per_class():
    """Authors: a class's map is written only when it passes the top-K condition, not in
    epoch 1 (skipped), never by the last-epoch fill; the toolbox's default keeps every visit."""
    maps_per_epoch = [torch.full((1, 2, 1, 2), float(e + 1)) for e in range(3)]
    for e, maps in enumerate(maps_per_epoch):
        maps[0, 0, 0, 1] = 0.5 * (e + 1)  # class 0 attention [1, 0.5]; class 1 [1, 1]
    sample = _sample('x', [1, 1, 0], (8, 16))
    # epoch 0: both pass (skipped); epoch 1: class 1 fails (non-target class 2 ranks above);
    # epoch 2 (last): class 1 fails again, but has no map yet -> filled, not "stored"
    logits = [torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[3.0, -1.0, 1.0]]),
              torch.tensor([[3.0, -1.0, 1.0]])]

    def run(previous):
        recorder = CumulativeMapRecorderHook(score_rule='topk_sigmoid', skip_first_epoch=True,
                                             fill_missing_in_last_epoch=True)
        recorder.enable_last_maps('stored' if previous == 'stored' else 'visit')
        for epoch in range(3):
            full = torch.zeros(1, 3, 1, 2)
            full[:, :2] = maps_per_epoch[epoch]
            recorder.record(_recorded(full, logits[epoch], [sample], (8, 16)), stamp=epoch,
                            epoch=epoch, max_epochs=3)
        return recorder.store

    stored = run('stored')
    assert stored.counts('x').tolist() == [2, 1]  # epochs 1, 2 for class 0; fill for class 1
    last = stored.last_maps('x')
    # by hand: class 0's stored file is its epoch-2 attention [1, 0.5]; class 1 has none
    np.testing.assert_allclose(last[0], [[1.0, 128 / 255]])
    np.testing.assert_array_equal(last[1], [[0.0, 0.0]])
    visit = run('last_visit').last_maps('x')
    np.testing.assert_allclose(visit[1], [[1.0, 1.0]])  # the toolbox: every visit's map
    # hook wiring: previous='stored' switches the recorder's rule
    recorder = CumulativeMapRecorderHook()
    hook = AttentionDropHook(previous='stored', mask='union', exact_fill=True)
    runner = SimpleNamespace(hooks=[recorder, hook], model=SimpleNamespace(), seed=0)
    hook.before_run(runner)
    assert recorder.last_maps == 'stored' and recorder.keep_last


def test_exact_fill_normalises_to_exactly_zero():
    preprocessor = ImgDataPreprocessor(mean=[123.675, 116.28, 103.53],
                                       std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
    recorder = CumulativeMapRecorderHook(keep_last=True)
    recorder.store.update('a', [0], np.array([[[1.0, 0.0]]]), stamp=0,
                          meta=dict(ori_shape=(2, 8), img_shape=(2, 8),
                                    feature_stride=(2.0, 4.0)))
    results = {}
    for exact in (False, True):
        hook = AttentionDropHook(drop_prob=1.0, threshold=0.7, exact_fill=exact)
        hook.recorder = recorder
        hook._fill = (103.53, 116.28, 123.675)  # the preprocessor's mean, BGR input order
        inputs = [torch.full((3, 2, 8), 200, dtype=torch.uint8)]
        assert hook.drop_batch(inputs, [WSSSDataSample(metainfo=dict(img_id='a'))], 1) == 1
        normalised = preprocessor(dict(inputs=inputs, data_samples=None), False)['inputs'][0]
        results[exact] = normalised[:, :, :3]  # the dropped pixels (union mask above)
    assert results[True].abs().max() == 0  # authors: exactly 0
    assert 0 < results[False].abs().max() < 0.01  # uint8-rounded mean colour


# ------------------------------------------------------------------ item 2: export
def test_authors_export_resizes_once_and_saturates_the_bicubic_overshoot():
    store = CumulativeMapStore()
    step = np.array([[0, 0, 1, 1]] * 2, np.float32)  # bicubic overshoots at the edge
    # VOC geometry: feature 2x4 cells of stride 8 cover a 16x32 input, original 10x20
    store.update('x', [0], step[None], stamp=0,
                 meta=dict(ori_shape=(10, 20), img_shape=(16, 32), feature_stride=(8., 8.)))
    _, authors = store.export_image('x', mode='authors')
    # by hand: one bicubic resize of the uint8 map to the original size, clipped to [0, 255]
    resized = cv2.resize(step * 255, (20, 10), interpolation=cv2.INTER_CUBIC)
    assert resized.max() > 255 and resized.min() < 0  # the overshoot exists
    clipped = np.clip(resized, 0, 255) / 255
    by_hand = (clipped - clipped.min()) / (clipped.max() - clipped.min())
    np.testing.assert_allclose(authors[0], by_hand, atol=1.5 / 255)
    assert authors[0].max() == 1 and (authors[0] == 1).sum() > 10  # the plateau stays 1
    _, toolbox = store.export_image('x', mode='toolbox')
    assert (toolbox[0] == 1).sum() < 5  # the overshoot rescales the whole toolbox map
    assert np.abs(toolbox[0] - by_hand).max() > 0.05


# ------------------------------------------------------------------ item 3: backbone
def test_voc_backbone_uses_2x2_stride_2_pooling():
    cfg = Config.fromfile(VOC.format('oaa'))
    backbone = MODELS.build(cfg.model.backbone)
    pools = [stage[-1] for stage in list(backbone.stages)[:3]]
    assert all((p.kernel_size, p.stride, p.padding) == (2, 2, 0) for p in pools)
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    by_hand = torch.tensor([[5.0, 7.0], [13.0, 15.0]])  # max of every 2x2 block
    assert torch.equal(pools[0](x)[0, 0], by_hand)
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 36, 52))[0]
    assert tuple(out.shape[-2:]) == (36 // 2 // 2 // 2, 52 // 2 // 2 // 2)  # floor, not ceil
    tiny = Config.fromfile(TINY.format('oaa'))
    assert tiny.model.backbone.type != 'VGG16'  # the synthetic configs are unchanged


# ------------------------------------------------------------------ item 4: optimiser
@pytest.mark.parametrize('name', ['oaa', 'oaa-plus'])
def test_voc_optimiser_groups_match_the_authors_multipliers(name):
    cfg = Config.fromfile(VOC.format(name))
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    optimizer = wrapper.optimizer
    assert type(optimizer).__name__ == 'SGD'
    assert wrapper._accumulative_counts == 5 and cfg.train_dataloader.batch_size == 1
    by_param = {}
    for group in optimizer.param_groups:
        assert group['nesterov'] and group['momentum'] == 0.9
        for param in group['params']:
            by_param[id(param)] = (group['lr'], group['weight_decay'])
    names = dict(model.named_parameters())
    assert len(by_param) == len(names)
    for pname, param in names.items():
        # by hand: x1 backbone weights, x2 backbone biases, x10 new weights, x20 new biases
        mult = (1 if pname.startswith('backbone') else 10) * (2 if pname.endswith('bias')
                                                               else 1)
        lr, decay = by_param[id(param)]
        assert lr == pytest.approx(1e-3 * mult), pname
        assert decay == pytest.approx(5e-4), pname


# ------------------------------------------------------------------ item 5: data
def test_short_side_resize_options_and_unshuffled_loader():
    # the authors' rounding and Pillow's resampling: test_oaa_training_data.py
    from torchvision.transforms.functional import resize
    for height, width in ((300, 499), (499, 300), (224, 224), (333, 500)):
        img = np.zeros((height, width, 3), np.uint8)
        out = ResizeShortSide(224, backend='cv2', long_side_rounding='floor').transform(
            dict(img=img))
        # by hand: torchvision's Resize(224) -- short side 224, long side truncated
        short, long = min(height, width), max(height, width)
        new_long = int(224 * long / short)
        expected = (224, new_long) if height <= width else (new_long, 224)
        assert out['img'].shape[:2] == expected == out['img_shape']
        assert tuple(resize(torch.zeros(1, height, width), 224).shape[-2:]) == expected
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for backend in ('tensor', 'pil'):
        jittered = ColorJitterBGR(backend=backend).transform(dict(img=img.copy()))['img']
        assert jittered.shape == img.shape and jittered.dtype == np.uint8
    for name in ('oaa', 'oaa-drop', 'oaa-avg', 'oaa-plus', 'oaa-drop-plus'):
        cfg = Config.fromfile(VOC.format(name))
        assert cfg.train_dataloader.sampler.shuffle is False
        types = [step['type'] for step in cfg.train_dataloader.dataset.pipeline]
        assert 'ResizeShortSide' in types and 'ColorJitterBGR' in types and 'Resize' not in types
    for name in ('oaa', 'oaa-drop', 'oaa-plus'):
        cfg = Config.fromfile(TINY.format(name))
        assert cfg.train_dataloader.sampler.shuffle is True  # synthetic: unchanged


# ------------------------------------------------------------------ item 6: OAA+ targets, loss
def test_integral_model_learns_from_the_stored_uint8_maps_at_feature_resolution(tmp_path):
    store = CumulativeMapStore()
    stored = np.array([[0, 64, 255], [3, 128, 200]], np.uint8)
    store.update('x', [1], stored[None], stamp=0,
                 meta=dict(ori_shape=(20, 24), img_shape=(16, 24), feature_stride=(8., 8.)))
    store.export(str(tmp_path / 'maps'), raw_dir=str(tmp_path / 'raw'))
    results = LoadStoredCumulativeMaps(str(tmp_path / 'raw')).transform(
        dict(img_id='x', gt_label=np.array([0, 1, 0]), img=np.zeros((20, 24, 3), np.uint8)))
    soft = results['gt_soft_maps']
    # by hand: the stored map / 255 at feature resolution, absent classes 0
    np.testing.assert_array_equal(soft[..., 1], stored / np.float32(255))
    assert not soft[..., [0, 2]].any() and 'gt_soft_maps' not in results.get('seg_fields', [])
    head = IntegralAttentionHead(8, 3, num_convs=1, channels=8, label_resize_mode='none')
    sample = WSSSDataSample(metainfo=dict(img_shape=(16, 24), batch_input_shape=(16, 24)))
    sample.gt_soft_maps = PixelData(data=torch.from_numpy(soft.transpose(2, 0, 1).copy()))
    targets, valid = head.soft_targets([sample], (2, 3), torch.device('cpu'))
    assert torch.equal(targets[0, 1], torch.from_numpy(stored / np.float32(255))) and valid.all()
    with pytest.raises(ValueError, match='feature'):
        head.soft_targets([sample], (3, 3), torch.device('cpu'))


def test_hybrid_loss_pooled_per_image_and_summed_over_the_iteration():
    maps = torch.tensor([[[[0.0, 2.0], [-1.0, 1.0]]], [[[1.0, -2.0], [0.5, 0.0]]]])
    targets = torch.tensor([[[[0.0, 0.8], [0.0005, 1.0]]], [[[0.5, 0.0], [0.0, 0.2]]]])
    loss = HybridLoss(tau=0.001, reduction='pooled_per_image', batch_reduction='sum')
    # by hand (authors): per image, N+ = {p > 0.001}, N- = {p <= 0.001} pooled over classes,
    # L = mean_{N+}(-p log q) + mean_{N-}(-log(1 - q)); the images' losses are added
    q = torch.sigmoid(maps)
    by_hand = 0.0
    for b in range(2):
        p, qb = targets[b].flatten(), q[b].flatten()
        pos, neg = p > 0.001, p <= 0.001
        by_hand += (-p[pos] * qb[pos].log()).mean() + (-(1 - qb[neg]).log()).mean()
    assert loss(maps, targets) == pytest.approx(float(by_hand), rel=1e-5)
    mean = HybridLoss(tau=0.001, reduction='pooled_per_image')(maps, targets)
    assert mean == pytest.approx(float(by_hand) / 2, rel=1e-5)
    cfg = Config.fromfile(VOC.format('oaa-plus'))
    loss_cfg = cfg.model.head.loss_soft
    # 5 accumulated iterations of 1 image; mmengine divides each loss by 5, weight 5 undoes it
    assert (loss_cfg.reduction, loss_cfg.tau, loss_cfg.loss_weight) == (
        'pooled_per_image', 0.001, 5.0)
    assert cfg.optim_wrapper.accumulative_counts == 5
    assert cfg.model.head.label_resize_mode == 'none'
    assert cfg.train_dataloader.dataset.pipeline[1]['type'] == 'LoadStoredCumulativeMaps'


# ------------------------------------------------------------------ item 7: score condition
def test_topk_of_float32_sigmoid_probabilities_ties_keep_argsort_order():
    logits = np.array([[30.0, 20.0, -1.0, -5.0]])
    labels = np.array([[1, 0, 0, 0]])  # K = 1
    probs = (1 / (1 + np.exp(-logits))).astype(np.float32)
    assert probs[0, 0] == probs[0, 1] == 1.0  # tie in float32
    # by hand: the last K indices of the (stable) ascending argsort: class 1, not class 0
    top = set(np.argsort(probs[0], kind='stable')[-1:].tolist())
    assert top == {1}
    assert score_condition(logits, labels, 'topk_sigmoid').tolist() == [[False] * 4]
    assert score_condition(logits, labels, 'topk').tolist() == [[True, False, False, False]]
    assert score_condition(logits, labels, 'paper').tolist() == [[True, False, False, False]]


def test_attention_divides_by_max_plus_1e8():
    maps = torch.zeros(1, 1, 1, 2)
    maps[0, 0, 0, 0] = 5e-6  # a map whose maximum is tiny
    sample = _sample('x', [1], (8, 16))
    stored = {}
    for norm in ('clamp', 'add_eps'):
        hook = CumulativeMapRecorderHook(score_rule='always', attention_normalization=norm)
        hook.record(_recorded(maps, torch.zeros(1, 1), [sample], (8, 16)), stamp=0)
        stored[norm] = int(hook.store.stored_uint8('x')[0, 0, 0])
    # by hand: authors 5e-6 / (5e-6 + 1e-8) -> 254 of 255; clamped at 1e-5 -> half value
    assert stored['add_eps'] == round(255 * 5e-6 / (5e-6 + 1e-8)) == 254
    assert stored['clamp'] == round(255 * 0.5)


def test_attention_add_eps_is_normalize_maps_add_rule_and_keeps_empty_maps_zero():
    maps = torch.tensor([[[[0.0, 2.0], [-1.0, 0.5]], [[-3.0, -0.0], [-1.0, 0.0]]]])
    by_hand = torch.tensor([[[[0.0, 2 / (2 + 1e-8)], [0.0, 0.5 / (2 + 1e-8)]],
                             [[0.0, 0.0], [0.0, 0.0]]]])
    assert torch.allclose(attention_maps(maps, 'add_eps'), by_hand, rtol=0, atol=1e-7)
    # an all-zero map in half precision: 1e-8 rounds to 0 there, and 0 / 0 would be NaN
    half = attention_maps(torch.zeros(1, 1, 2, 2, dtype=torch.float16), 'add_eps')
    assert half.dtype == torch.float16 and not half.isnan().any() and (half == 0).all()


# ------------------------------------------------------------------ the configs
def test_voc_configs_use_the_authors_settings_and_synthetic_ones_do_not():
    for name in ('oaa', 'oaa-drop', 'oaa-avg'):
        recorder = _hooks(Config.fromfile(VOC.format(name)))['CumulativeMapRecorderHook']
        assert recorder['score_rule'] == 'topk_sigmoid'
        assert recorder['attention_normalization'] == 'add_eps'
        assert recorder['export']['mode'] == 'authors' and recorder['skip_first_epoch']
        assert recorder['export']['raw_dir'] == 'cumulative_maps_raw'
    drop = _hooks(Config.fromfile(VOC.format('oaa-drop')))['AttentionDropHook']
    assert (drop['previous'], drop['mask'], drop['exact_fill']) == ('stored', 'union', True)
    for name in ('oaa', 'oaa-drop', 'oaa-avg'):
        hooks = [CumulativeMapRecorderHook(**{k: v for k, v in h.items() if k != 'type'})
                 if h['type'] == 'CumulativeMapRecorderHook' else
                 AttentionDropHook(**{k: v for k, v in h.items() if k != 'type'})
                 for h in Config.fromfile(TINY.format(name)).custom_hooks]
        recorder = hooks[0]
        assert (recorder.score_rule, recorder.attention_normalization, recorder.export_mode,
                recorder.skip_first_epoch) == ('paper', 'clamp', 'toolbox', False)
        for drop in hooks[1:]:
            assert (drop.previous, drop.mask, drop.exact_fill) == ('last_visit', 'max', False)
