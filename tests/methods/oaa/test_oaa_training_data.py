"""OAA's training data and schedule as OAA-PyTorch (a7c8214) has them.
Each test computes the authors' rule by hand on a small case and compares it with the
toolbox's default for the configs that claim the released code."""
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from PIL import Image, ImageEnhance
from torch.utils.data import DataLoader

from wsss_toolbox.methods.oaa.accumulation import PerEpochAccumulationOptimWrapper
from wsss_toolbox.methods.oaa.transforms import ColorJitterBGR, ResizeShortSide
from wsss_toolbox.registry import MODELS, OPTIM_WRAPPERS
from wsss_toolbox.utils import register_all_modules

VOC = osp.join(REPO_ROOT, 'configs', 'oaa', '{}_vgg16_1xb5-15e_voc12aug-224x224.py')
TINY = osp.join(REPO_ROOT, 'configs', 'oaa', '{}_tiny_1xb16-8e_synthetic-128x128.py')
VOC_NAMES = ('oaa', 'oaa-avg', 'oaa-drop', 'oaa-plus', 'oaa-drop-plus')
AUTHORS_TINY = ('oaa-authors', 'oaa-drop-authors', 'oaa-plus-authors')


@pytest.fixture(autouse=True)
def scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')
    torch.set_num_threads(1)


def _steps(cfg, step_type):
    return [step for step in cfg.train_dataloader.dataset.pipeline if step['type'] == step_type]


# ------------------------------------------------------------------ item 14: ResizeShort
# (h, w) -> (new_h, new_w) worked out by hand from imutils.py L30-36 with Python 3's round:
# w < h: width 224, height round(h * 224 / w); else height 224, width round(w * 224 / h).
BY_HAND = {
    (375, 500): (224, 299),  # 500 * 224 / 375 = 298.67 -> 299 (torchvision: int() = 298)
    (500, 375): (299, 224),  # portrait: the same quotient on the height
    (128, 134): (224, 234),  # 134 * 224 / 128 = 234.5 exactly -> 234 (ties to even; not 235)
    (130, 128): (228, 224),  # 130 * 224 / 128 = 227.5 exactly -> 228 (ties to even)
    (300, 300): (224, 224),  # square: the w >= h branch
    (224, 500): (224, 500),  # already 224 high: 500 * 224 / 224 = 500
}
FLOOR = {(375, 500): (224, 298), (500, 375): (298, 224), (128, 134): (224, 234),
         (130, 128): (227, 224), (300, 300): (224, 224), (224, 500): (224, 500)}


def test_resize_short_side_rounds_the_long_side_as_the_authors():
    for (height, width), expected in BY_HAND.items():
        img = np.zeros((height, width, 3), np.uint8)
        out = ResizeShortSide(224).transform(dict(img=img))
        assert out['img'].shape[:2] == expected == out['img_shape'], (height, width)
        assert out['scale_factor'] == (expected[1] / width, expected[0] / height)
        assert ResizeShortSide.target_shape(height, width, 224) == expected
    # the other reading, torchvision's Resize(224): the long side truncated
    from torchvision.transforms.functional import resize
    for (height, width), expected in FLOOR.items():
        out = ResizeShortSide(224, long_side_rounding='floor').transform(
            dict(img=np.zeros((height, width, 3), np.uint8)))
        assert out['img'].shape[:2] == expected
        assert tuple(resize(torch.zeros(1, height, width), 224).shape[-2:]) == expected
    with pytest.raises(ValueError, match='long_side_rounding'):
        ResizeShortSide(224, long_side_rounding='ceil')


def test_resize_short_side_resamples_with_pillows_bicubic():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (30, 41, 3), dtype=np.uint8)
    out = ResizeShortSide(12).transform(dict(img=bgr.copy()))['img']
    # by hand: the authors' call on the RGB PIL image, imutils.py L38
    rgb = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))
    width, height = round(41 * 12 / 30), 12  # 16.4 -> 16
    # (PIL.Image.CUBIC, their name, was an alias of BICUBIC = 3, removed in Pillow 10)
    expected = np.asarray(rgb.resize((width, height), resample=Image.BICUBIC))[..., ::-1]
    assert out.shape == (12, 16, 3)
    np.testing.assert_array_equal(out, expected)
    # OpenCV's bicubic (the 'cv2' option) does not antialias when shrinking: it differs
    cv = ResizeShortSide(12, backend='cv2').transform(dict(img=bgr.copy()))['img']
    np.testing.assert_array_equal(
        cv, cv2.resize(bgr, (16, 12), interpolation=cv2.INTER_CUBIC))
    assert np.abs(cv.astype(int) - out.astype(int)).max() > 20
    # seg fields follow with Pillow's nearest-neighbour (pixel-centre) rule
    seg = rng.integers(0, 21, (30, 41), dtype=np.uint8)
    res = ResizeShortSide(12).transform(dict(img=bgr.copy(), gt_seg_map=seg.copy(),
                                             seg_fields=['gt_seg_map']))
    np.testing.assert_array_equal(
        res['gt_seg_map'], np.asarray(Image.fromarray(seg).resize((16, 12), Image.NEAREST)))
    with pytest.raises(ValueError, match="backend='cv2'"):
        ResizeShortSide(12).transform(dict(img=bgr.astype(np.float32)))


@pytest.mark.parametrize('name', VOC_NAMES)
def test_voc_configs_resize_as_the_authors(name):
    cfg = Config.fromfile(VOC.format(name))
    (step, ) = _steps(cfg, 'ResizeShortSide')
    resize = ResizeShortSide(**{k: v for k, v in step.items() if k != 'type'})
    assert (resize.size, resize.interpolation, resize.backend, resize.long_side_rounding) == (
        224, 'bicubic', 'pil', 'round')


# ------------------------------------------------------------------ item 15: ColorJitter
def _c_round(x):
    """C's round(): halves away from zero (x >= 0 here)."""
    lower = math.floor(x)
    return lower + 1 if x - lower >= 0.5 else lower


def _clip8(x):
    return min(max(int(x), 0), 255)


def _pil_rgb_to_hsv(r, g, b):
    """Pillow's rgb2hsv_row (libImaging/Convert.c): float variables, double constants."""
    f32 = np.float32
    maxc, minc = max(r, g, b), min(r, g, b)
    if maxc == minc:
        return 0, 0, maxc
    cr = f32(maxc - minc)
    s = f32(cr / f32(maxc))
    rc, gc, bc = (f32(f32(maxc - x) / cr) for x in (r, g, b))
    if r == maxc:
        h = f32(bc - gc)
    elif g == maxc:
        h = f32(2.0 + float(rc) - float(bc))
    else:
        h = f32(4.0 + float(gc) - float(rc))
    h = f32(math.fmod(float(h) / 6.0 + 1.0, 1.0))
    return _clip8(float(h) * 255.0), _clip8(float(s) * 255.0), maxc


def _pil_hsv_to_rgb(h, s, v):
    """Pillow's hsv2rgb (libImaging/Convert.c)."""
    if s == 0:
        return v, v, v
    i = math.floor(float(np.float32(h)) * 6.0 / 255.0)
    f = np.float32(float(np.float32(h)) * 6.0 / 255.0 - i)
    fs = np.float32(float(np.float32(s)) / 255.0)
    p = _clip8(_c_round(v * (1.0 - float(fs))))
    q = _clip8(_c_round(v * (1.0 - float(np.float32(fs * f)))))
    t = _clip8(_c_round(v * (1.0 - float(fs) * (1.0 - float(f)))))
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6]


def _hue_by_hand(rgb, hue_factor):
    """functional.py L485-493: 8-bit HSV, the hue channel plus trunc(hue * 255) mod 256."""
    shift = int(hue_factor * 255) % 256  # int() truncates towards zero, as the uint8 cast
    out = np.empty_like(rgb)
    for y, x in np.ndindex(rgb.shape[:2]):
        h, s, v = _pil_rgb_to_hsv(*(int(c) for c in rgb[y, x]))
        out[y, x] = _pil_hsv_to_rgb((h + shift) % 256, s, v)
    return out


def test_hue_jitter_in_pils_8bit_hsv_by_hand():
    # one pixel by hand: (200, 40, 40) is H 0, S int(0.8 * 255) = 204, V 200; a shift of
    # 0.05 adds trunc(12.75) = 12; back: i = 0, f = 72 / 255, t = round(200 (1 - 0.8 (1 - f)))
    # = round(85.18) = 85 -> (200, 85, 40); float HSV (the 'tensor' option) gives 88
    assert _pil_rgb_to_hsv(200, 40, 40) == (0, 204, 200)
    assert _pil_hsv_to_rgb(12, 204, 200) == (200, 85, 40)
    pixel_bgr = np.array([[[40, 40, 200]]], np.uint8)
    hue_only = dict(brightness=0, contrast=0, saturation=0, hue=0.1)
    # a seed whose hue factor truncates to 12 / 255 (factors in [0.0471, 0.0510))
    seed = next(s for s in range(10000)
                if int(np.random.RandomState(s).uniform(-0.1, 0.1) * 255) == 12)
    np.random.seed(seed)
    assert ColorJitterBGR(**hue_only, backend='pil').transform(
        dict(img=pixel_bgr.copy()))['img'][0, 0, ::-1].tolist() == [200, 85, 40]

    rng = np.random.default_rng(1)
    bgr = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    bgr[0, 0] = (9, 9, 9)  # grey: S = 0
    for seed in range(4):
        np.random.seed(seed)
        ours = ColorJitterBGR(**hue_only, backend='pil').transform(dict(img=bgr.copy()))['img']
        # by hand: get_params draws one uniform for the hue, shuffles a list of one
        np.random.seed(seed)
        hue_factor = np.random.uniform(-0.1, 0.1)
        expected = _hue_by_hand(bgr[..., ::-1], hue_factor)[..., ::-1]
        np.testing.assert_array_equal(ours, expected)


def test_color_jitter_draws_and_orders_as_the_authors():
    rng = np.random.default_rng(2)
    bgr = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    for seed in range(3):
        np.random.seed(seed)
        ours = ColorJitterBGR(backend='pil').transform(dict(img=bgr.copy()))['img']
        # by hand: utils/transforms/transforms.py L547-565 -- uniform factors in the order
        # brightness, contrast, saturation, hue, then np.random.shuffle of the 4 adjustments
        np.random.seed(seed)
        factors = [np.random.uniform(0.7, 1.3), np.random.uniform(0.7, 1.3),
                   np.random.uniform(0.7, 1.3), np.random.uniform(-0.1, 0.1)]
        order = [0, 1, 2, 3]
        np.random.shuffle(order)
        enhance = [ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color]
        img = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))
        for index in order:
            if index == 3:
                img = Image.fromarray(_hue_by_hand(np.asarray(img), factors[3]))
            else:
                img = enhance[index](img).enhance(factors[index])
        np.testing.assert_array_equal(ours, np.asarray(img)[..., ::-1])
        if seed == 0:
            assert order != [0, 1, 2, 3]  # the order matters for this image:
            img = Image.fromarray(np.ascontiguousarray(bgr[..., ::-1]))
            for index in range(3):
                img = enhance[index](img).enhance(factors[index])
            img = Image.fromarray(_hue_by_hand(np.asarray(img), factors[3]))
            assert not np.array_equal(ours, np.asarray(img)[..., ::-1])
    # strengths 0 draw nothing and leave the image alone
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    off = ColorJitterBGR(0, 0, 0, 0, backend='pil').transform(dict(img=bgr.copy()))['img']
    np.testing.assert_array_equal(off, bgr)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    with pytest.raises(ValueError, match='backend'):
        ColorJitterBGR(backend='cv2')


@pytest.mark.parametrize('path', [VOC.format(n) for n in VOC_NAMES] +
                         [TINY.format(n) for n in AUTHORS_TINY])
def test_configs_claiming_the_authors_jitter_in_pil(path):
    cfg = Config.fromfile(path)
    (step, ) = _steps(cfg, 'ColorJitterBGR')
    assert step.get('backend') == 'pil'
    assert (step.brightness, step.contrast, step.saturation, step.hue) == (0.3, 0.3, 0.3, 0.1)


# ------------------------------------------------------------------ item 16: accumulation
class _Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[0.3, -0.2]]))
            self.fc.bias.fill_(0.1)

    def forward(self, inputs, targets=None, mode='tensor'):
        return dict(loss=((self.fc(inputs) - targets)**2).mean())


class _Record(Hook):

    def __init__(self):
        self.params = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.params.append(torch.cat([p.detach().flatten().clone()
                                      for p in runner.model.parameters()]))


DATA = [dict(inputs=torch.tensor([float(i), 1.0 - i / 3]), targets=torch.tensor([i % 2 * 1.]))
        for i in range(7)]  # 7 images, k = 3: 7 = 3 x 2 + 1


def _run(tmp_path, wrapper, name):
    model = _Tiny()
    record = _Record()
    loader = DataLoader(DATA, batch_size=1, shuffle=False)
    runner = Runner(
        model=model, work_dir=str(tmp_path / name), train_dataloader=loader,
        optim_wrapper=wrapper(model), train_cfg=dict(by_epoch=True, max_epochs=2),
        default_hooks=dict(checkpoint=None, logger=None, param_scheduler=None, timer=None),
        custom_hooks=[record], log_level='ERROR', experiment_name=name,
        default_scope='wsss_toolbox')
    runner.train()
    return record.params


def _by_hand(k=3, epochs=2):
    """scripts/train.py L108-134: flag restarts each epoch, zero_grad only after a step."""
    model = _Tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    params, steps = [], 0
    for _ in range(epochs):
        flag = 0
        for sample in DATA:
            loss = model(sample['inputs'][None], sample['targets'][None])['loss'] / k
            loss.backward()
            flag += 1
            if flag == k:
                optimizer.step()
                optimizer.zero_grad()
                flag = 0
                steps += 1
            params.append(torch.cat([p.detach().flatten().clone()
                                     for p in model.parameters()]))
    return params, steps


def test_per_epoch_accumulation_follows_the_authors_loop(tmp_path, monkeypatch):
    import mmengine.runner.runner as runner_module
    monkeypatch.setattr(runner_module, 'collect_env', dict)  # the runner's slow env log

    def sgd(model):
        return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    ours = _run(tmp_path, lambda m: OPTIM_WRAPPERS.build(dict(
        type='PerEpochAccumulationOptimWrapper', optimizer=sgd(m), accumulative_counts=3)),
        'ours')
    mmengine = _run(tmp_path, lambda m: OptimWrapper(sgd(m), accumulative_counts=3),
                    'mmengine')
    expected, steps = _by_hand()
    assert steps == 4 and len(ours) == len(expected) == 14
    for it, (a, b) in enumerate(zip(ours, expected)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7, msg=f'iteration {it}')
    # mmengine's default counts across epochs: equal until the first epoch's leftover (image
    # 7) would join epoch 2's first step, then different; it also steps on the final remainder
    for it in range(7):
        torch.testing.assert_close(mmengine[it], expected[it], rtol=0, atol=1e-7)
    assert not torch.allclose(mmengine[8], expected[8], rtol=0, atol=1e-6)
    changes = [it for it in range(1, 14) if not torch.equal(mmengine[it], mmengine[it - 1])]
    assert changes == [2 + 3 * j for j in range(4)] + [13]  # global groups, last one of 2


def test_per_epoch_accumulation_counts_and_scale():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('oaa_accumulation_unit')
    model = nn.Linear(1, 1)
    wrapper = PerEpochAccumulationOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.0), accumulative_counts=5)
    wrapper.initialize_count_status(model, 0, 2 * 12)
    stepped = []
    for epoch in range(2):
        hub.update_info('epoch', epoch)
        for it in range(12):
            assert wrapper.should_sync() == ((it + 1) % 5 == 0)
            loss = model(torch.ones(1, 1)).sum()
            # the loss is divided by 5 at every iteration, also in the run's last group
            assert wrapper.scale_loss(loss).item() == pytest.approx(loss.item() / 5)
            wrapper.update_params(loss)
            if model.weight.grad is None or not model.weight.grad.abs().sum():
                stepped.append((epoch, it))
    # by hand: steps after iterations 5 and 10 of each epoch; 12 = 5 x 2 + 2 leftover
    assert stepped == [(0, 4), (0, 9), (1, 4), (1, 9)]
    # epoch 2's first step carried epoch 1's 2 leftover iterations: 7 gradients were summed,
    # and the last epoch's 2 stay unapplied
    assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('name', VOC_NAMES)
def test_voc_configs_accumulate_per_epoch(name):
    cfg = Config.fromfile(VOC.format(name))
    assert cfg.optim_wrapper.type == 'PerEpochAccumulationOptimWrapper'
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert isinstance(wrapper, PerEpochAccumulationOptimWrapper)
    assert wrapper._accumulative_counts == 5
