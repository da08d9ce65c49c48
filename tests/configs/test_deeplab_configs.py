"""Stage-3 configs: they load, the VOC models build and run, the data side works, and the
tiny synthetic config trains + validates (+ multi-scale/flip/CRF test) with the Runner."""
import glob
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from wsss_toolbox.registry import DATASETS, MODELS
from wsss_toolbox.utils import register_all_modules

DEEPLAB_DIR = osp.join(REPO_ROOT, 'configs', 'deeplab')
ALL_CONFIGS = sorted(
    glob.glob(osp.join(DEEPLAB_DIR, '*.py'))
    + glob.glob(osp.join(REPO_ROOT, 'configs', '_base_', 'models', 'deeplab_*.py')))
VGG16 = 'deeplab-largefov_vgg16_1xb10-15k_voc12aug-pseudo-321x321.py'
R101 = 'deeplab-largefov_r101_1xb10-15k_voc12aug-pseudo-321x321.py'
V3 = 'deeplabv3_r101-d8_1xb10-20k_voc12aug-pseudo-321x321.py'
TINY = 'deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py'


@pytest.fixture(autouse=True)
def wsss_scope():
    register_all_modules(init_default_scope=False)
    init_default_scope('wsss_toolbox')


@pytest.fixture
def one_thread():
    """These CPU tests run tiny convolutions; one thread avoids oversubscribing 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _config(name: str) -> Config:
    return Config.fromfile(osp.join(DEEPLAB_DIR, name))


def test_every_config_is_listed():
    names = {osp.basename(path) for path in ALL_CONFIGS}
    assert {VGG16, R101, V3, TINY, 'deeplab_largefov_vgg16.py',
            'deeplab_largefov_r101.py'} <= names


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=osp.basename)
def test_config_loads(path):
    cfg = Config.fromfile(path)
    assert cfg.model.decode_head.num_classes >= 2
    if osp.basename(osp.dirname(path)) == 'deeplab':
        assert cfg.default_scope == 'wsss_toolbox'
        assert cfg.model.type == 'CRFEncoderDecoder'
        assert cfg.tta_model.type == 'CRFSegTTAModel'
        assert cfg.val_evaluator.type == 'IoUMetric'
        assert cfg.train_dataloader.dataset.type == 'PseudoLabelSegDataset'
        assert cfg.train_dataloader.dataset.pseudo_label_dir == cfg.pseudo_label_dir


def test_paper_settings_of_the_vgg16_config():
    cfg = _config(VGG16)
    assert cfg.train_dataloader.batch_size == 10
    assert cfg.train_cfg.max_iters == 15000 and cfg.param_scheduler[0].end == 15000
    assert cfg.param_scheduler[0].type == 'PolyLR' and cfg.param_scheduler[0].power == 0.9
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=1e-3, momentum=0.9,
                                               weight_decay=5e-4)
    assert cfg.model.data_preprocessor.size == (321, 321)
    assert cfg.model.decode_head.dilation == 12 and cfg.model.decode_head.channels == 1024
    assert cfg.model.backbone.pretrained is None  # never downloads
    scales = [t.scale_factor for t in cfg.tta_pipeline[1].transforms[0]]
    assert scales == [0.5, 0.75, 1.0]
    assert cfg.tta_model.crf.type == 'DenseCRFRefiner'


def test_mmseg_inheritance_is_rescoped_and_does_not_download():
    cfg = _config(V3)
    assert cfg.model._scope_ == 'wsss_toolbox'  # added as 'mmseg' by `mmseg::` inheritance
    assert cfg.model.pretrained is None
    assert cfg.model.backbone.depth == 101
    assert cfg.model.decode_head.type == 'ASPPHead'
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 21
    assert 'paramwise_cfg' not in cfg.optim_wrapper


def _fake_samples(batch: int, size: int, num_classes: int) -> list:
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(size, size), pad_shape=(size, size),
                                             ori_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, size, size)))
        samples.append(sample)
    return samples


@pytest.mark.parametrize('name,batch', [(VGG16, 1), (R101, 1), (V3, 2)])
def test_voc_models_build_and_run(name, batch, one_thread):
    """Dry forward on a tiny input; SyncBN becomes BN on CPU as in mmseg's test_forward
    (DeepLabV3's image pooling needs 2 images for BN statistics in training mode)."""
    cfg = _config(name)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    assert not any('SyncBatchNorm' in type(m).__name__ for m in model.modules())
    inputs = torch.randn(batch, 3, 32, 32)
    logits = model(inputs, mode='tensor')
    assert logits.shape == (batch, 21, 4, 4)  # output stride 8
    losses = model(inputs, _fake_samples(batch, 32, 21), mode='loss')
    assert torch.isfinite(losses['decode.loss_ce'])
    if name == V3:
        assert 'aux.loss_ce' in losses
    else:
        assert type(model.decode_head).__name__ == 'LargeFOVHead'
    expected_backbone = 'VGG16' if name == VGG16 else 'ResNetV1c'
    assert type(model.backbone).__name__ == expected_backbone


def test_head_gets_ten_times_the_learning_rate():
    cfg = _config(VGG16)
    model = MODELS.build(cfg.model)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    head_params = {id(p) for p in model.decode_head.parameters()}
    for group in optim_wrapper.optimizer.param_groups:
        expected = 1e-2 if id(group['params'][0]) in head_params else 1e-3
        assert group['lr'] == pytest.approx(expected)


def _write_voc(root: str) -> str:
    """Two 40x60 JPEGs in the VOC 2012 layout, train_aug/val lists, GT and pseudo labels."""
    rng = np.random.default_rng(0)
    ids = ['2007_000001', '2007_000002']
    for img_id in ids:
        mmcv.imwrite(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8),
                     osp.join(root, 'JPEGImages', f'{img_id}.jpg'))
        label = rng.integers(0, 21, (40, 60)).astype(np.uint8)
        mmcv.imwrite(label, osp.join(root, 'SegmentationClass', f'{img_id}.png'))
        label[:5] = 255
        mmcv.imwrite(label, osp.join(root, 'pseudo', f'{img_id}.png'))
    os.makedirs(osp.join(root, 'ImageSets', 'Segmentation'))
    for split in ('train_aug', 'val'):
        with open(osp.join(root, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    return root


def test_voc_data_pipelines(tmp_path):
    root = _write_voc(str(tmp_path / 'VOC2012'))
    cfg = _config(VGG16)
    train = cfg.train_dataloader.dataset
    train.update(data_root=root, pseudo_label_dir=osp.join(root, 'pseudo'))
    dataset = DATASETS.build(train)
    assert dataset.metainfo['classes'][0] == 'background' and len(dataset.metainfo['classes']) == 21
    assert dataset.get_data_info(0)['seg_map_path'] == osp.join(root, 'pseudo',
                                                                '2007_000001.png')
    item = dataset[0]
    # rescaled by RandomResize, cropped to at most 321 (the preprocessor pads to 321)
    height, width = item['inputs'].shape[1:]
    assert height <= 321 and width <= 321 and max(height, width) > 60
    assert item['data_samples'].gt_sem_seg.shape == (height, width)
    values = set(item['data_samples'].gt_sem_seg.data.unique().tolist())
    assert values <= set(range(21)) | {255}

    tta = cfg.test_dataloader.dataset
    tta.update(data_root=root, pipeline=cfg.tta_pipeline)
    item = DATASETS.build(tta)[0]
    assert len(item['inputs']) == 6  # 3 scales x 2 flips
    assert [tuple(x.shape[1:]) for x in item['inputs'][::2]] == [(20, 30), (30, 45), (40, 60)]
    gt = mmcv.imread(osp.join(root, 'SegmentationClass', '2007_000001.png'), flag='unchanged')
    assert np.array_equal(item['data_samples'][0].gt_sem_seg.data[0].numpy(), gt)


def test_tiny_config_matches_the_synthetic_benchmark():
    from wsss_toolbox.datasets.synthetic_benchmark import SyntheticBenchmarkConfig
    cfg = _config(TINY)
    assert cfg.model.decode_head.num_classes == SyntheticBenchmarkConfig().num_classes + 1
    assert cfg.crop_size == (SyntheticBenchmarkConfig().image_size, ) * 2


def test_tiny_config_trains_validates_and_tests_with_tta_and_crf(tmp_path, one_thread,
                                                                monkeypatch):
    from tiny_benchmark import skip_runner_env_and_config_text

    from wsss_toolbox.datasets.synthetic_benchmark import generate_synthetic_benchmark
    skip_runner_env_and_config_text(monkeypatch)  # most of this test's time otherwise
    root = str(tmp_path / 'synthetic')
    generate_synthetic_benchmark(root, num_train=4, num_val=2, image_size=32)
    # pseudo labels = ground truth with an ignored border (stage 2 is tested elsewhere)
    pseudo_dir = str(tmp_path / 'pseudo_labels')
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        for img_id in f.read().split():
            label = mmcv.imread(osp.join(root, 'SegmentationClass', f'{img_id}.png'),
                                flag='unchanged').copy()
            label[:4] = 255
            mmcv.imwrite(label, osp.join(pseudo_dir, f'{img_id}.png'))

    cfg = _config(TINY)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(num_workers=0, persistent_workers=False)
        loader.dataset.data_root = root
    cfg.train_dataloader.update(batch_size=2)
    cfg.train_dataloader.dataset.pseudo_label_dir = pseudo_dir
    # the config's random resize and crop, at the 32 px of the images instead of 128 px
    for transform in cfg.train_dataloader.dataset.pipeline:
        if transform.type == 'RandomResize':
            transform.scale = (32, 32)
        elif transform.type == 'RandomCrop':
            transform.crop_size = (32, 32)
    cfg.model.data_preprocessor.size = (32, 32)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.param_scheduler[0].end = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))
    assert runner.train_dataloader.dataset.get_data_info(0)['seg_map_path'].startswith(
        pseudo_dir)
    metrics = runner.val_loop.run()
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}
    assert 0 <= metrics['mIoU'] <= 100

    # tools/test.py --tta: multi-scale + flip, mean fusion, then DenseCRF
    test_cfg = _config(TINY)
    test_cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    test_cfg.test_dataloader.dataset.data_root = root
    test_cfg.test_dataloader.dataset.pipeline = test_cfg.tta_pipeline
    test_cfg.tta_model.module = test_cfg.model
    test_cfg.model = test_cfg.tta_model
    test_cfg.load_from = osp.join(cfg.work_dir, 'iter_2.pth')
    test_cfg.work_dir = str(tmp_path / 'test')
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
                'val_dataloader', 'val_cfg', 'val_evaluator'):
        test_cfg.pop(key)
    tester = Runner.from_cfg(test_cfg)
    metrics = tester.test()
    assert 0 <= metrics['mIoU'] <= 100
    assert type(tester.model).__name__ == 'CRFSegTTAModel'
    assert type(tester.model.crf_refiner).__name__ == 'DenseCRFRefiner'
