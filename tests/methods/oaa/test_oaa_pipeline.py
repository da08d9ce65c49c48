"""OAA's pipeline step: stage 2 takes the recorder's exported maps (oaa_synthetic.py), and
OAA+ trains on the maps of an OAA step listed before it (oaa-plus_synthetic.py)."""
import glob
import os
import os.path as osp

from tiny_benchmark import tiny_pipeline_options
from tool_runs import run_ok


def tiny(*stages):
    return tiny_pipeline_options(num_train=16, epoch_stages=stages, iter_stages=(),
                                 nproc_steps=('eval_maps', ))


def run_pipeline(config, work_dir, *extra):
    return run_ok('pipeline', [config, '--work-dir', work_dir, '--verbose', *extra])


def test_oaa_plus_trains_on_the_maps_of_its_oaa_step(tmp_path):
    data_root = str(tmp_path / 'data')
    work_dir = str(tmp_path / 'plus')
    log = run_pipeline('configs/pipelines/oaa-plus_synthetic.py', work_dir, '--until', 'maps',
                       '--cfg-options', f'data_root={data_root}', *tiny('stage0', 'stage1'),
                       'stage0.cfg_options.train_cfg.max_epochs=2',
                       'stage1.cfg_options.train_cfg.max_epochs=1', 'maps.scales=[1.0]')
    maps_of_stage0 = osp.join(work_dir, 'stage0_maps')
    assert len(os.listdir(maps_of_stage0)) == 16
    dumps = glob.glob(osp.join(work_dir, 'stage1', '*.py'))
    assert len(dumps) == 1 and maps_of_stage0 in open(dumps[0]).read()  # soft-label map_dir
    assert 'step "maps": inferring maps of 16 train images' in log
    assert len(os.listdir(osp.join(work_dir, 'maps'))) == 16

    # OAA itself: stage 2's maps are the recorder's, no inference
    work_dir = str(tmp_path / 'oaa')
    log = run_pipeline('configs/pipelines/oaa_synthetic.py', work_dir, '--until', 'eval_maps',
                       '--cfg-options', f'data_root={data_root}', *tiny('stage1'),
                       'stage1.cfg_options.train_cfg.max_epochs=1')
    assert 'taking the maps step "stage1" exported' in log and 'inferring maps' not in log
    assert sorted(os.listdir(osp.join(work_dir, 'maps'))) == sorted(
        os.listdir(osp.join(work_dir, 'stage1', 'cumulative_maps')))
    assert 'step "eval_maps" (EvaluateMaps): running' in log
