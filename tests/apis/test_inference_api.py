"""The Python API (init_classifier, inference_maps, make_pseudo_label) on the tiny CAM model
with random weights: nothing is trained. The usage example of README.md ("## Python API")
runs as written, with its two file paths replaced."""
import contextlib
import io
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config

from wsss_toolbox.apis import inference_maps, init_classifier, make_pseudo_label
from wsss_toolbox.maps import load_maps, map_path
from wsss_toolbox.maps.inference import infer_maps
from wsss_toolbox.pseudo_labels import DenseCRFRefiner, ThresholdLabelGenerator

CONFIG = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
CLASSES = tuple(f'class{index}' for index in range(8))
EXAMPLE_CHECKPOINT = 'work_dirs/demo/stage1/epoch_8.pth'
EXAMPLE_IMAGE = 'data/synthetic/JPEGImages/train_00000.jpg'


def usage_example() -> str:
    """The first ```python block after the heading "## Python API" of README.md."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    section = readme[readme.index('\n## Python API\n'):]
    start = section.index('```python\n') + len('```python\n')
    return section[start:section.index('```', start)]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A checkpoint of the tiny CAM model with random weights and class names, an image."""
    from wsss_toolbox.registry import MODELS
    from wsss_toolbox.utils import register_all_modules
    root = tmp_path_factory.mktemp('api')
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    checkpoint = str(root / 'cam_tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=CLASSES))),
               checkpoint)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (36, 44, 3), dtype=np.uint8)
    rgb[8:24, 10:30] = (220, 40, 30)
    image = str(root / 'image.png')
    mmcv.imwrite(rgb[..., ::-1], image)  # mmcv writes BGR
    return dict(root=root, checkpoint=checkpoint, image=image, rgb=rgb)


@pytest.fixture(scope='module')
def model(files):
    return init_classifier(CONFIG, files['checkpoint'], device='cpu')


def test_the_usage_example_runs(files, monkeypatch):
    example = usage_example()
    assert example.count(EXAMPLE_CHECKPOINT) == 1 and example.count(EXAMPLE_IMAGE) == 1
    assert len(example.splitlines()) <= 12
    code = example.replace(EXAMPLE_CHECKPOINT, files['checkpoint']).replace(
        EXAMPLE_IMAGE, files['image'])
    monkeypatch.chdir(REPO_ROOT)  # the config path is relative to the repository
    namespace = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, '<usage example>', 'exec'), namespace)
    result, label = namespace['result'], namespace['label']
    assert result['maps'].dtype == np.float32 and result['maps'].shape[1:] == (36, 44)
    assert result['maps'].shape[0] == len(result['classes'])
    assert label.dtype == np.uint8 and label.shape == (36, 44)
    assert set(np.unique(label)) <= {0, 255, *(result['classes'] + 1).tolist()}
    assert '(36, 44) uint8' in printed.getvalue()


def test_init_classifier(model, files):
    assert model.cfg.filename == CONFIG and not model.training
    assert tuple(model.dataset_meta['classes']) == CLASSES
    state = torch.load(files['checkpoint'], weights_only=True)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key])
    # a Config object is not modified; cfg_options apply
    cfg = Config.fromfile(CONFIG)
    other = init_classifier(cfg, cfg_options={'model.head.num_classes': 3})
    assert other.head.num_classes == 3 and cfg.model.head.num_classes == 8
    assert other.dataset_meta is None  # no checkpoint, no metainfo in the config


def test_a_checkpoint_of_another_model_is_an_error_naming_the_file(files, tmp_path):
    wrong = str(tmp_path / 'other_model.pth')
    torch.save(dict(state_dict={'conv.weight': torch.zeros(1)}), wrong)
    with pytest.raises(RuntimeError, match='other_model.pth'):
        init_classifier(CONFIG, wrong)
    with pytest.raises(RuntimeError, match='(?s)cam_tiny.pth.*another shape'):  # fewer classes
        init_classifier(CONFIG, files['checkpoint'], cfg_options={'model.head.num_classes': 3})
    with pytest.raises(FileNotFoundError, match='nothing.py'):
        init_classifier(str(tmp_path / 'nothing.py'))


def test_init_classifier_honours_custom_imports(tmp_path, monkeypatch):
    (tmp_path / 'api_plugin_head.py').write_text(
        'from wsss_toolbox.models.heads import CAMHead\n'
        'from wsss_toolbox.registry import MODELS\n\n\n'
        '@MODELS.register_module()\n'
        'class ApiPluginHead(CAMHead):\n'
        '    pass\n')
    (tmp_path / 'config.py').write_text(
        f"_base_ = [{CONFIG!r}]\n"
        "custom_imports = dict(imports=['api_plugin_head'], allow_failed_imports=False)\n"
        "model = dict(head=dict(type='ApiPluginHead'))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # a Config read without importing: init_classifier imports the plugin itself
    cfg = Config.fromfile(str(tmp_path / 'config.py'), import_custom_modules=False)
    assert 'api_plugin_head' not in sys.modules
    model = init_classifier(cfg)
    assert type(model.head).__name__ == 'ApiPluginHead'


def test_inference_maps_are_those_map_inference_writes(model, files, tmp_path):
    from_path = inference_maps(model, files['image'], scales=(1.0, 0.5), flip=True,
                               classes=[5, 1])
    from_array = inference_maps(model, files['rgb'], scales=(1.0, 0.5), flip=True,
                                classes=['class1', 'class5'])
    assert from_path['classes'].tolist() == [1, 5] == from_array['classes'].tolist()
    np.testing.assert_array_equal(from_path['maps'], from_array['maps'])  # RGB -> BGR
    assert from_path['maps'].min() >= 0 and from_path['maps'].max() == pytest.approx(1)
    label = np.zeros(8, np.float32)
    label[[1, 5]] = 1
    samples = [dict(img_id='image', img_path=files['image'], gt_label=label)]
    infer_maps(model, samples, str(tmp_path), scales=(1.0, 0.5), flip=True)
    written = load_maps(map_path(str(tmp_path), 'image'))
    np.testing.assert_array_equal(written['maps'],
                                  from_path['maps'].astype(np.float16).astype(np.float32))
    # max fusion differs from mean fusion
    maxed = inference_maps(model, files['image'], scales=(1.0, 0.5), fusion='max', classes=[1])
    assert not np.array_equal(maxed['maps'], from_path['maps'][:1])


def test_inference_maps_predicts_the_classes_when_not_given(model, files):
    result = inference_maps(model, files['image'])
    assert result['scores'].shape == (8, )
    assert result['classes'].tolist() == np.flatnonzero(result['scores'] > 0.5).tolist()


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(classes=['dog']), ValueError, "unknown class 'dog'"),
    (dict(classes=[8]), ValueError, 'outside'),
    (dict(fusion='sum'), ValueError, 'fusion must be one of'),
])
def test_inference_maps_errors(model, files, kwargs, error, message):
    with pytest.raises(error, match=message):
        inference_maps(model, files['image'], **kwargs)


def test_inference_maps_rejects_a_bad_array(model):
    with pytest.raises(ValueError, match='RGB uint8 HxWx3'):
        inference_maps(model, np.zeros((8, 8), np.uint8))
    with pytest.raises(FileNotFoundError, match='missing.png'):
        inference_maps(model, 'missing.png')


def test_make_pseudo_label_takes_configs_or_built_components(files):
    rng = np.random.default_rng(1)
    maps = rng.random((2, 36, 44)).astype(np.float32)
    classes = np.array([1, 5])
    from_dicts = make_pseudo_label(maps, classes, files['image'],
                                   refiners=[dict(type='DenseCRFRefiner', iterations=2)])
    built = make_pseudo_label(maps, classes, files['rgb'], ThresholdLabelGenerator(0.3),
                              [DenseCRFRefiner(iterations=2)])
    np.testing.assert_array_equal(from_dicts, built)
    assert from_dicts.dtype == np.uint8 and from_dicts.shape == (36, 44)
    plain = make_pseudo_label(maps, classes, None)  # the default threshold generator
    np.testing.assert_array_equal(plain, ThresholdLabelGenerator(bg_threshold=0.3)(maps, classes))
    saliency = np.zeros((36, 44), np.uint8)
    saliency[5:30, 5:40] = 255
    saliency_path = str(files['root'] / 'saliency.png')
    mmcv.imwrite(saliency, saliency_path)
    with_saliency = make_pseudo_label(maps, classes, None,
                                      dict(type='SaliencyLabelGenerator'), saliency=saliency_path)
    assert with_saliency.shape == (36, 44)
    with pytest.raises(ValueError, match='needs a saliency map'):
        make_pseudo_label(maps, classes, None, dict(type='SaliencyLabelGenerator'))
