"""A setting that the tools can read from two places is refused when both give it (one of the
two would be ignored), with a message naming both; and --list checks step names as a run
does. The tools run in this process through their ``main(argv)``."""
import os
import os.path as osp
import runpy
from types import SimpleNamespace

import mmcv
import numpy as np
import pytest
from conftest import REPO_ROOT

from wsss_toolbox.apis.cli import ConflictingOptionsError, load_cli_config
from wsss_toolbox.maps import map_path, save_maps

CAM_PIPELINE = osp.join(REPO_ROOT, 'configs', 'pipelines', 'cam_synthetic.py')
THRESHOLD = "dict(type='ThresholdLabelGenerator', bg_threshold=0.4)"


def tool_main(name):
    """``main`` of tools/<name>.py (the tools are scripts, not a package)."""
    return runpy.run_path(osp.join(REPO_ROOT, 'tools', f'{name}.py'))['main']


@pytest.fixture(scope='module')
def stage2_root(tmp_path_factory) -> str:
    """Two images with a map file each and a dataset config, ``<root>/dataset.py``."""
    root = str(tmp_path_factory.mktemp('stage2'))
    for index in range(2):
        img_id = f'img{index}'
        mmcv.imwrite(np.zeros((8, 8, 3), np.uint8), osp.join(root, 'images', f'{img_id}.jpg'))
        mmcv.imwrite(np.zeros((8, 8), np.uint8), osp.join(root, 'gt', f'{img_id}.png'))
        save_maps(map_path(osp.join(root, 'maps'), img_id), img_id, np.array([0]),
                  np.full((1, 8, 8), 0.9))
    with open(osp.join(root, 'dataset.py'), 'w') as f:
        f.write(f"dataset = dict(type='BaseSegDataset', data_root={root!r}, "
                "data_prefix=dict(img_path='images', seg_map_path='gt'), img_suffix='.jpg', "
                "seg_map_suffix='.png', metainfo=dict(classes=('background', 'a')))\n")
    return root


def stage2_config(tmp_path, root, body: str) -> str:
    path = tmp_path / 'stage2.py'
    path.write_text(f"_base_ = [{osp.join(root, 'dataset.py')!r}]\n{body}")
    return str(path)


def make_labels(tmp_path, root, body, *options):
    """Run make_pseudo_labels on ``body``; return the output folder."""
    out_dir = str(tmp_path / 'labels')
    tool_main('make_pseudo_labels')([stage2_config(tmp_path, root, body), '--map-dir',
                                     osp.join(root, 'maps'), '--out-dir', out_dir, *options])
    return out_dir


# ---------------------------------------------------------------- make_pseudo_labels recipe
@pytest.mark.parametrize('body, options, key', [
    # before: exit 0, labels made with pseudo_labels.generator; the override was dropped
    (f'pseudo_labels = dict(generator={THRESHOLD}, refiners=[])\n',
     ['--cfg-options', 'generator.type=NoSuchGenerator'], 'generator'),
    (f'pseudo_labels = dict(generator={THRESHOLD})\ngenerator = {THRESHOLD}\n', [],
     'generator'),
    (f"pseudo_labels = dict(generator={THRESHOLD}, refiners=[])\n"
     "refiners = [dict(type='DenseCRFRefiner')]\n", [], 'refiners'),
])
def test_recipe_key_in_both_places_is_refused(tmp_path, stage2_root, body, options, key):
    with pytest.raises(ValueError) as error:
        make_labels(tmp_path, stage2_root, body, *options)
    message = str(error.value)
    assert f'both `pseudo_labels.{key}` and top-level `{key}` are set' in message
    assert str(tmp_path / 'stage2.py') in message
    assert not osp.exists(tmp_path / 'labels')


def test_top_level_recipe_still_works_and_warns(tmp_path, stage2_root):
    # v0.1.0's spelling: labels are made with it, and a warning names pseudo_labels=
    with pytest.warns(DeprecationWarning, match=r'top-level `generator` is deprecated.*'
                      r'pseudo_labels = dict\(generator=\.\.\.\)'):
        make_labels(tmp_path, stage2_root, f'generator = {THRESHOLD}\n')
    assert len([f for f in os.listdir(tmp_path / 'labels') if f.endswith('.png')]) > 0


@pytest.mark.parametrize('key, hint', [('nproc', 'top-level key'), ('refiner', "['generator'")])
def test_recipe_key_the_tool_does_not_read_is_refused(tmp_path, stage2_root, key, hint):
    # before: pseudo_labels.nproc / a misspelt pseudo_labels.refiner was ignored, exit 0
    body = f"pseudo_labels = dict(generator={THRESHOLD}, {key}=[])\n"
    with pytest.raises(ValueError, match=rf"`pseudo_labels` has key\(s\) \['{key}'\]") as error:
        make_labels(tmp_path, stage2_root, body)
    assert hint in str(error.value)


@pytest.mark.parametrize('body', [
    f'pseudo_labels = dict(generator={THRESHOLD}, refiners=[])\n',
    f'generator = {THRESHOLD}\nrefiners = []\n',
    f'pseudo_labels = dict(generator={THRESHOLD})\nrefiners = []\n',  # each key in one place
])
def test_recipe_from_one_place_makes_the_labels(tmp_path, stage2_root, body):
    out_dir = make_labels(tmp_path, stage2_root, body, '--cfg-options', 'nproc=1')
    assert sorted(name for name in os.listdir(out_dir) if name.endswith('.png')) == [
        'img0.png', 'img1.png']


@pytest.mark.parametrize('option, key', [
    (['--map-dir', 'a'], 'map_dir'), (['--out-dir', 'a'], 'label_dir'),
    (['--nproc', '2'], 'nproc'),
])
def test_make_pseudo_labels_option_and_cfg_option_for_one_key(tmp_path, option, key):
    # before: the option won and the --cfg-options value was dropped
    with pytest.raises(ConflictingOptionsError) as error:
        tool_main('make_pseudo_labels')([str(tmp_path / 'any.py'), *option, '--cfg-options',
                                         f'{key}=b'])
    assert f'{option[0]} {option[1]} and --cfg-options {key}=b both set `{key}`' in str(
        error.value)


# ---------------------------------------------------------------- infer_maps
@pytest.mark.parametrize('key, fix', [
    ('split', 'use --split'), ('overwrite', 'use --overwrite'),
    ('thresholds', 'tools/eval_maps.py --thresholds'), ('fuse', 'not an option of map'),
])
def test_infer_maps_refuses_map_inference_keys_it_would_ignore(tmp_path, key, fix):
    # before: map_inference.split / thresholds were dropped (the default --split train was
    # used), overwrite / a misspelt key failed deep in infer_maps with a TypeError
    config = tmp_path / 'stage1.py'
    config.write_text(f"map_inference = dict(scales=(1.0, ), {key}='val')\n")
    with pytest.raises(ValueError) as error:
        tool_main('infer_maps')([str(config), 'none.pth', '--out-dir', str(tmp_path)])
    assert f'{config}: `map_inference.{key}`' in str(error.value)
    assert fix in str(error.value)


@pytest.mark.parametrize('option, key', [
    (['--scales', '1.0'], 'scales'), (['--no-flip'], 'flip'), (['--stride', '4'], 'stride'),
])
def test_infer_maps_option_and_cfg_option_for_one_key(tmp_path, option, key):
    with pytest.raises(ConflictingOptionsError) as error:
        tool_main('infer_maps')(['any.py', 'none.pth', '--out-dir', str(tmp_path), *option,
                                 '--cfg-options', f'map_inference.{key}=1'])
    assert f'{option[0]}' in str(error.value)
    assert f'--cfg-options map_inference.{key}=1 both set `map_inference.{key}`' in str(
        error.value)


# ---------------------------------------------------------------- train / test (apis.cli)
@pytest.mark.parametrize('option, key, value', [
    (dict(work_dir='a'), 'work_dir', 'b'), (dict(launcher='pytorch'), 'launcher', 'none'),
])
def test_cli_option_and_cfg_option_for_one_key(tmp_path, option, key, value):
    config = tmp_path / 'c.py'
    config.write_text('lr = 0.1\n')
    args = SimpleNamespace(config=str(config), work_dir=None, launcher='none',
                           cfg_options={key: value})
    for name, given in option.items():
        setattr(args, name, given)
    with pytest.raises(ConflictingOptionsError, match=f'--cfg-options {key}={value} both set'):
        load_cli_config(args)
    # the option alone overrides the config's key
    args.cfg_options = None
    assert load_cli_config(args)[key] == option[key]


# ---------------------------------------------------------------- eval_maps / eval_labels
@pytest.mark.parametrize('tool', ['eval_labels', 'eval_maps'])
def test_eval_tools_refuse_options_of_the_unused_sample_source(tmp_path, stage2_root, tool):
    config = osp.join(stage2_root, 'dataset.py')
    # before: --img-dir / --seg-dir were ignored and the config's dataset evaluated, exit 0
    with pytest.raises(ValueError) as error:
        tool_main(tool)([str(tmp_path), '--config', config, '--img-dir', 'x', '--seg-dir', 'y'])
    assert (f'--config {config} and --img-dir / --seg-dir are both given' in str(error.value))
    with pytest.raises(ValueError, match='--img-suffix would be ignored'):
        tool_main(tool)([str(tmp_path), '--config', config, '--img-suffix', '.png'])
    with pytest.raises(ValueError, match='--dataset-key only apply to --config'):
        tool_main(tool)([str(tmp_path), '--img-dir', 'x', '--dataset-key', 'dataset'])


# ---------------------------------------------------------------- pipeline --list
@pytest.mark.parametrize('options', [['--force', 'nosuch'], ['--force', 'maps', 'nosuch'],
                                     ['--until', 'nosuch']])
@pytest.mark.parametrize('listing', [True, False])
def test_pipeline_unknown_step_name_is_the_same_error_with_list(tmp_path, capsys, options,
                                                                 listing):
    # before: --list showed the plan with nothing forced and exited 0
    work_dir = str(tmp_path / 'work')
    code = tool_main('pipeline')([CAM_PIPELINE, '--work-dir', work_dir, *options]
                                 + (['--list'] if listing else []))
    captured = capsys.readouterr()
    assert code == 2
    assert 'error: no step named "nosuch" in `steps` ([\'stage1\', \'maps\'' in captured.err
    assert 'to run' not in captured.out and not osp.exists(osp.join(work_dir, 'stage1'))


def test_pipeline_list_with_known_step_names(tmp_path, capsys):
    code = tool_main('pipeline')([CAM_PIPELINE, '--work-dir', str(tmp_path), '--list',
                                  '--force', 'maps', '--until', 'eval_maps'])
    assert code == 0 and 'maps                    InferMaps               to run: forced' in \
        capsys.readouterr().out


def test_pipeline_work_dir_option_and_cfg_option(tmp_path, capsys):
    code = tool_main('pipeline')([CAM_PIPELINE, '--work-dir', str(tmp_path), '--list',
                                  '--cfg-options', 'work_dir=elsewhere'])
    assert code == 2
    assert f'--work-dir {tmp_path} and --cfg-options work_dir=elsewhere both set `work_dir`' \
        in capsys.readouterr().err


# ---------------------------------------------------------------- train.py / test.py load_from
CAM_CONFIG = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')


def cli_args(tmp_path, **given):
    args = SimpleNamespace(config=CAM_CONFIG, work_dir=str(tmp_path / 'work'), cfg_options=None,
                           launcher='none', resume=None, amp=False, checkpoint=None)
    for name, value in given.items():
        setattr(args, name, value)
    return args


def test_train_resume_checkpoint_and_load_from_option_are_refused(tmp_path):
    build_config = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'train.py'))['build_config']
    # before: --resume CKPT silently replaced --cfg-options load_from=
    args = cli_args(tmp_path, resume='a.pth', cfg_options={'load_from': 'b.pth'})
    with pytest.raises(ConflictingOptionsError,
                       match='--resume a.pth and --cfg-options load_from=b.pth both set'):
        build_config(args)


def test_train_resume_auto_without_checkpoint_keeps_load_from(tmp_path):
    """Before: ``--resume`` (auto) with nothing to resume set load_from=None, so a config's
    load_from (e.g. weights of an earlier stage) was dropped without a word."""
    build_config = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'train.py'))['build_config']
    cfg = build_config(cli_args(tmp_path, resume='auto',
                                cfg_options={'load_from': 'init.pth'}))
    assert cfg.load_from == 'init.pth' and cfg.resume is False
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'x')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    cfg = build_config(cli_args(tmp_path, resume='auto'))
    assert cfg.load_from == str(work / 'epoch_1.pth') and cfg.resume is True


def test_test_checkpoint_and_load_from_option_are_refused(tmp_path):
    build_config = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'test.py'))['build_config']
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'x')
    args = cli_args(tmp_path, checkpoint=str(checkpoint), cfg_options={'load_from': 'b.pth'},
                    out=None, show=False, show_dir=None, tta=False)
    with pytest.raises(ConflictingOptionsError, match='CHECKPOINT .* and --cfg-options '
                                                      'load_from=b.pth both set'):
        build_config(args)
