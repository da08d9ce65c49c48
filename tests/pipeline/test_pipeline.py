"""tools/pipeline.py end to end on a tiny synthetic benchmark, then rerun / resume."""
import json
import os
import os.path as osp

from conftest import PYTHON, run_tool

TINY = [
    'synthetic_benchmark.num_train=16', 'synthetic_benchmark.num_val=4',
    'synthetic_benchmark.image_size=48', 'synthetic_benchmark.num_workers=1',
    'stage1.cfg_options.train_cfg.max_epochs=1', 'stage1.cfg_options.train_cfg.val_interval=1',
    'stage1.cfg_options.train_dataloader.num_workers=0',
    'stage1.cfg_options.train_dataloader.persistent_workers=False',
    'stage1.cfg_options.val_dataloader.num_workers=0',
    'stage1.cfg_options.val_dataloader.persistent_workers=False',
    'maps.scales=[1.0,0.5]', 'pseudo_labels.nproc=1',
    'stage3.cfg_options.train_cfg.max_iters=4', 'stage3.cfg_options.train_cfg.val_interval=4',
    'stage3.cfg_options.default_hooks.checkpoint.interval=2',
    'stage3.cfg_options.default_hooks.checkpoint.max_keep_ckpts=3',
    'stage3.cfg_options.train_dataloader.num_workers=0',
    'stage3.cfg_options.train_dataloader.persistent_workers=False',
    'stage3.cfg_options.val_dataloader.num_workers=0',
    'stage3.cfg_options.val_dataloader.persistent_workers=False',
    'stage3.cfg_options.test_dataloader.num_workers=0',
    'stage3.cfg_options.test_dataloader.persistent_workers=False',
]


def run_pipeline(work_dir, data_root) -> str:
    """Run the pipeline; its whole output."""
    proc = run_tool([PYTHON, 'tools/pipeline.py', 'configs/pipelines/cam_synthetic.py',
                     '--work-dir', work_dir, '--cfg-options', f'data_root={data_root}'] + TINY)
    return proc.stdout + proc.stderr


def test_pipeline_runs_caches_and_resumes(tmp_path):
    work_dir, data_root = str(tmp_path / 'work'), str(tmp_path / 'data')
    log = run_pipeline(work_dir, data_root)
    assert osp.isfile(osp.join(data_root, 'benchmark.json'))  # generated on first use
    for name in ('stage1/result.json', 'maps_eval.json', 'pseudo_labels_eval.json',
                 'pseudo_labels_densecrf_eval.json', 'stage3/result.json', 'summary.json',
                 'figure.png'):
        assert osp.isfile(osp.join(work_dir, name)), name
    assert len(os.listdir(osp.join(work_dir, 'maps'))) == 16
    assert len([f for f in os.listdir(osp.join(work_dir, 'pseudo_labels_densecrf'))
                if f.endswith('.png')]) == 16
    with open(osp.join(work_dir, 'summary.json')) as f:
        summary = json.load(f)
    names = [row['name'] for row in summary['rows']]
    assert names[-1] == 'DeepLab val' and 'pseudo_labels_densecrf' in names
    assert 0 <= summary['rows'][-1]['mIoU'] <= 100
    assert 'DeepLab val' in log  # the table is printed
    assert 'load backbone. in model from' in log  # init_backbone_from_stage1
    with open(osp.join(work_dir, 'stage3', 'result.json')) as f:
        assert json.load(f)['pseudo_label_dir'].endswith('pseudo_labels_densecrf')

    # a rerun skips every finished stage
    log = run_pipeline(work_dir, data_root)
    for stage in ('stage 1: done before', 'stage 2 (maps): done before', 'stage 3: done before'):
        assert stage in log

    # an interrupted stage 3 (no result file, checkpoints left) resumes from its checkpoint
    os.remove(osp.join(work_dir, 'stage3', 'result.json'))
    os.remove(osp.join(work_dir, 'stage3', 'iter_4.pth'))
    with open(osp.join(work_dir, 'stage3', 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'stage3', 'iter_2.pth'))
    log = run_pipeline(work_dir, data_root)
    assert 'resumed epoch: 0, iter: 2' in log
    assert osp.isfile(osp.join(work_dir, 'stage3', 'result.json'))


def test_stage0_and_maps_exported_by_stage1(tmp_path):
    """OAA+: stage 0 (OAA) exports its cumulative maps during training, stage 1 (the integral
    attention model) learns from them; with OAA itself as stage 1 (oaa_synthetic.py), stage 2
    takes the recorder's maps instead of running inference."""
    data_root = str(tmp_path / 'data')
    common = [f'data_root={data_root}'] + [
        option for option in TINY if not option.startswith(('stage1.', 'maps.'))] + [
        'stage1.cfg_options.train_cfg.max_epochs=1']
    work_dir = str(tmp_path / 'plus')
    proc = run_tool([PYTHON, 'tools/pipeline.py', 'configs/pipelines/oaa-plus_synthetic.py',
                     '--work-dir', work_dir, '--cfg-options'] + common +
                    ['stage0.cfg_options.train_cfg.max_epochs=2'])
    with open(osp.join(work_dir, 'stage0', 'result.json')) as f:
        stage0 = json.load(f)
    assert len(os.listdir(stage0['map_dir'])) == 16
    cfg_dump = open(glob_one(osp.join(work_dir, 'stage1', '*.py'))).read()
    assert stage0['map_dir'] in cfg_dump  # handed to the soft-label transform
    assert 'stage 2: inferring maps' in proc.stdout + proc.stderr

    work_dir = str(tmp_path / 'oaa')
    proc = run_tool([PYTHON, 'tools/pipeline.py', 'configs/pipelines/oaa_synthetic.py',
                     '--work-dir', work_dir, '--cfg-options'] + common)
    log = proc.stdout + proc.stderr
    assert 'taking the maps stage 1 exported' in log and 'inferring maps' not in log
    assert sorted(os.listdir(osp.join(work_dir, 'maps'))) == sorted(
        os.listdir(osp.join(work_dir, 'stage1', 'cumulative_maps')))


def glob_one(pattern):
    import glob
    found = glob.glob(pattern)
    assert len(found) == 1, found
    return found[0]
