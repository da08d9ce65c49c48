"""The files a step reads are part of what decides its result: an edited image remakes that
image's outputs only, later per-image steps redo it, the steps after them rerun, a training
step whose training files changed retrains, and the plan names the changed files. Before,
the fingerprint held only the data_root string: an edited image changed nothing."""
import os
import os.path as osp
import shutil
from contextlib import contextmanager

import mmcv
import numpy as np
import pytest
from conftest import REPO_ROOT
from mmengine.config import Config

from wsss_toolbox.pipeline import PipelineRunner, PipelineStep, read_json
from wsss_toolbox.pipeline.file_digest import (
    FileNamer,
    InputFiles,
    describe_file_changes,
    digest_table,
    stat_files,
)
from wsss_toolbox.registry import PIPELINE_STEPS


@contextmanager
def edited(path: str, write):
    """``write(path)`` new contents with a later mtime; the file and its mtime restored after."""
    with open(path, 'rb') as f:
        original = f.read()
    info = os.stat(path)
    try:
        write(path)
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
        yield path
    finally:
        with open(path, 'wb') as f:
            f.write(original)
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def mtimes(folder: str, suffix: str) -> dict:
    return {name: os.stat(osp.join(folder, name)).st_mtime_ns
            for name in sorted(os.listdir(folder)) if name.endswith(suffix)}


def states(runner: PipelineRunner) -> dict:
    return {name: 'done' if fresh else reason for name, _, fresh, reason in runner.plan()}


# ---------------------------------------------------------------------- the digest itself
def test_stat_table_and_its_messages(tmp_path):
    a, b, listing = tmp_path / 'a.jpg', tmp_path / 'b.png', tmp_path / 'list.txt'
    a.write_bytes(b'aaaa')
    listing.write_text('a b\n')
    name = FileNamer([('', str(tmp_path))])
    files = InputFiles(required=[str(a)], optional=[str(b)], annotations=[str(listing)],
                       values={'record of a': dict(gt_label=[1.0, 0.0])})
    before = stat_files(files, name)
    assert set(before) == {'a.jpg', 'list.txt', 'record of a'}  # a missing optional file
    # same size, same mtime, other contents: only the hash of a list file tells
    info = os.stat(listing)
    listing.write_text('b a\n')
    os.utime(listing, ns=(info.st_atime_ns, info.st_mtime_ns))
    b.write_bytes(b'b')
    after = stat_files(files, name)
    assert digest_table(after) != digest_table(before)
    assert describe_file_changes(before, after) == \
        '2 of 4 entries: b.png (new), list.txt (modified)'
    files.values['record of a'] = dict(gt_label=[0.0, 1.0])
    assert describe_file_changes(after, stat_files(files, name)) == \
        '1 of 4 entries: record of a (modified)'
    # a missing required file: an error naming it (and counting the others)
    with pytest.raises(FileNotFoundError, match=r'input file .*gone\.jpg does not exist '
                                                r'\(1 more input files are missing too\)'):
        stat_files(InputFiles(required=[str(tmp_path / 'gone.jpg'),
                                        str(tmp_path / 'gone2.jpg')]), name)
    # names: relative to the longest root that holds the file, else absolute
    named = FileNamer([('', str(tmp_path)), ('<work_dir>/', str(tmp_path / 'work'))])
    assert named(str(tmp_path / 'work' / 'maps' / 'x.npz')) == '<work_dir>/maps/x.npz'
    assert named('/elsewhere/x.jpg') == '/elsewhere/x.jpg'


# ---------------------------------------------------------------------- the runner's logic
@PIPELINE_STEPS.register_module(force=True)
class _CopyImages(PipelineStep):
    """Per-image: ``<img_id>.out`` = the bytes of ``<data_root>/<img_id>.img``, or of the
    ``source`` step's ``<img_id>.out``; ``together``: every output also reads every image."""
    input_args = ('source', )
    per_image_outputs = True

    def __init__(self, name, runner, source=None, together=False):
        super().__init__(name, runner, source=source, together=together)

    def samples(self):
        root = self.runner.cfg.data_root
        ids = sorted(name[:-4] for name in os.listdir(root) if name.endswith('.img'))
        return [dict(img_id=i, img_path=osp.join(root, f'{i}.img')) for i in ids], ['thing']

    def image_outputs(self, img_id):
        return [osp.join(self.out_dir, f'{img_id}.out')]

    def _source(self, sample):
        if self.options['source'] is None:
            return sample['img_path']
        return self.runner.step(self.options['source']).image_outputs(sample['img_id'])[0]

    def image_inputs(self, sample):
        return InputFiles(required=[self._source(sample)])

    def images_depend_on_each_other(self):
        return self.options['together']

    def run(self):
        os.makedirs(self.out_dir, exist_ok=True)
        made = []
        for sample in self.samples()[0]:
            out = self.image_outputs(sample['img_id'])[0]
            if not osp.exists(out):  # resumable, as every per-image step
                shutil.copyfile(self._source(sample), out)
                made.append(sample['img_id'])
        return dict(made=made)


@PIPELINE_STEPS.register_module(force=True)
class _CountBytes(PipelineStep):
    """Not per image: the bytes of every output of the ``source`` step."""
    input_args = ('source', )
    writes_folder = False

    def __init__(self, name, runner, source):
        super().__init__(name, runner, source=source)

    def run(self):
        source = self.runner.step(self.options['source'])
        return dict(total=sum(osp.getsize(source.image_outputs(s['img_id'])[0])
                              for s in source.samples()[0]))


def toy_runner(root, together=False) -> PipelineRunner:
    cfg = Config(dict(data_root=str(root / 'data'), steps=['copy', 'copy2', 'count'],
                      copy=dict(type='_CopyImages', together=together),
                      copy2=dict(type='_CopyImages', source='copy'),
                      count=dict(type='_CountBytes', source='copy2')))
    return PipelineRunner(cfg, str(root / 'work'))


@pytest.fixture
def toy(tmp_path):
    (tmp_path / 'data').mkdir()
    for img_id in 'abc':
        (tmp_path / 'data' / f'{img_id}.img').write_text(img_id)
    return tmp_path


def test_a_changed_file_remakes_that_image_here_and_downstream(toy):
    runner = toy_runner(toy)
    runner.run()
    ids = {name: read_json(runner.path('.pipeline', f'{name}.json'))['run_id']
           for name in runner.names}
    assert set(states(runner).values()) == {'done'}
    data = toy / 'data'
    (data / 'b.img').write_text('bbbb')
    os.utime(data / 'b.img', ns=(0, os.stat(data / 'b.img').st_mtime_ns + 10**9))
    (data / 'c.img').unlink()
    (data / 'd.img').write_text('d')
    plan = states(runner)
    assert plan['copy'] == ('3 of 3 images changed since it ran, only they are remade (b: b.img '
                            '(modified); d: new in the image list; c: no longer in the image '
                            'list)')
    assert 'b: input step "copy" remakes it' in plan['copy2']
    assert plan['count'] == "input step(s) ['copy2'] remade some of their images since"
    kept = mtimes(runner.path('copy2'), '.out')['a.out']
    results = runner.run()
    assert results['copy']['made'] == ['b', 'd'] and results['copy2']['made'] == ['b', 'd']
    assert results['count']['total'] == len('a') + len('bbbb') + len('d')
    assert sorted(os.listdir(runner.path('copy2'))) == ['a.out', 'b.out', 'd.out']
    assert mtimes(runner.path('copy2'), '.out')['a.out'] == kept
    after = {name: read_json(runner.path('.pipeline', f'{name}.json')) for name in runner.names}
    assert after['copy']['run_id'] == ids['copy'] and after['copy2']['run_id'] == ids['copy2']
    assert after['count']['run_id'] != ids['count']
    assert set(states(runner).values()) == {'done'}


def test_outputs_that_read_other_images_are_all_remade(toy):
    runner = toy_runner(toy, together=True)
    runner.run()
    with edited(str(toy / 'data' / 'a.img'), lambda path: open(path, 'w').write('A')):
        plan = states(runner)
        assert plan['copy'].startswith('3 of 3 images changed')
        assert 'a: a.img (modified); b: another image it reads changed' in plan['copy']
        assert runner.run()['copy']['made'] == ['a', 'b', 'c']


def test_an_interrupted_run_resumes_without_the_images_changed_since(toy):
    runner = toy_runner(toy)
    runner.run()
    record = read_json(runner.path('.pipeline', 'copy.json'))
    os.remove(runner.path('.pipeline', 'copy.json'))  # interrupted: record gone, marker left
    from wsss_toolbox.pipeline import write_json
    write_json(runner.path('.pipeline', 'copy.started.json'),
               dict(fingerprint=record['fingerprint'], inputs=record['inputs'],
                    files=record['files']))
    with edited(str(toy / 'data' / 'a.img'), lambda path: open(path, 'w').write('A')):
        assert states(runner)['copy'] == 'interrupted before, resuming'
        results = runner.run()
        assert results['copy']['made'] == ['a']  # b and c were kept
        with open(runner.path('copy', 'a.out')) as f:
            assert f.read() == 'A'


# ---------------------------------------------------------------------- real steps
CAM = osp.join(REPO_ROOT, 'configs', 'cam', 'cam_tiny_1xb16-8e_synthetic-128x128.py')
LOADER = dict(num_workers=0, persistent_workers=False)


def tiny_pipeline(data_root: str) -> Config:
    """A classifier trained one epoch on 8 images of 32 px; maps, labels and their
    evaluation on the 4 validation images (the images the classifier did not train on)."""
    return Config(dict(
        data_root=data_root,
        synthetic_benchmark=dict(num_train=8, num_val=4, image_size=32, num_workers=1),
        steps=['stage1', 'maps_val', 'labels_val', 'eval_val'],
        stage1=dict(type='TrainClassifier', config=CAM, cfg_options=dict(
            train_cfg=dict(max_epochs=1, val_interval=1), train_dataloader=LOADER,
            val_dataloader=LOADER, test_dataloader=LOADER)),
        maps_val=dict(type='InferMaps', classifier='stage1', split='val', scales=(1.0, ),
                      flip=False),
        labels_val=dict(type='MakePseudoLabels', maps='maps_val',
                        generator=dict(type='ThresholdLabelGenerator', bg_threshold=0.3)),
        eval_val=dict(type='EvaluateMaps', maps='maps_val')))


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    """``(data_root, work dir)`` of one finished tiny pipeline; tests run on copies of the
    work dir and restore the files they edit."""
    from wsss_toolbox.utils import register_all_modules
    register_all_modules()
    root = tmp_path_factory.mktemp('fingerprints')
    data_root, work_dir = str(root / 'data'), str(root / 'work')
    PipelineRunner(tiny_pipeline(data_root), work_dir).run()
    return data_root, work_dir


def copied_runner(finished, tmp_path) -> PipelineRunner:
    data_root, work_dir = finished
    shutil.copytree(work_dir, str(tmp_path / 'work'))  # copy2: mtimes kept
    return PipelineRunner(tiny_pipeline(data_root), str(tmp_path / 'work'))


def new_pixels(path: str) -> None:
    mmcv.imwrite(np.full((32, 32, 3), 200, np.uint8), path)


def test_an_edited_image_remakes_its_map_and_label_only(finished, tmp_path):
    runner = copied_runner(finished, tmp_path)
    assert set(states(runner).values()) == {'done'}  # a copied work dir stays up to date
    samples, _ = runner.step('maps_val').samples()
    img_id = samples[1]['img_id']
    before = {name: read_json(runner.path('.pipeline', f'{name}.json')) for name in runner.names}
    maps, labels = mtimes(runner.path('maps_val'), '.npz'), mtimes(runner.path('labels_val'),
                                                                   '.png')
    with edited(samples[1]['img_path'], new_pixels):
        plan = states(runner)
        assert plan['stage1'] == 'done'  # it never read the validation images
        assert plan['maps_val'] == (
            f'1 of {len(samples)} images changed since it ran, only they are remade '
            f'({img_id}: JPEGImages/{img_id}.jpg (modified))')
        assert f'{img_id}: ' in plan['labels_val'] and 'JPEGImages' in plan['labels_val']
        assert plan['eval_val'] == "input step(s) ['maps_val'] remade some of their images since"
        runner.run()
        changed_maps = [k for k, v in mtimes(runner.path('maps_val'), '.npz').items()
                        if v != maps[k]]
        changed_labels = [k for k, v in mtimes(runner.path('labels_val'), '.png').items()
                          if v != labels[k]]
        assert changed_maps == [f'{img_id}.npz'] and changed_labels == [f'{img_id}.png']
        after = {name: read_json(runner.path('.pipeline', f'{name}.json'))
                 for name in runner.names}
        assert after['stage1'] == before['stage1']
        for name in ('maps_val', 'labels_val'):  # updated, not rerun: the same run id
            assert after[name]['run_id'] == before[name]['run_id']
            assert after[name]['update_id'] != before[name]['update_id']
        assert after['eval_val']['run_id'] != before['eval_val']['run_id']
        assert set(states(runner).values()) == {'done'}


@pytest.mark.filterwarnings('ignore:.*instance named of stage1_visualizer')  # 2nd training
def test_an_edited_training_image_retrains_and_is_named(finished, tmp_path):
    runner = copied_runner(finished, tmp_path)
    samples, _ = runner.dataset_samples(runner.step('stage1').stage_config()
                                        .train_dataloader.dataset)
    img_id = samples[0]['img_id']
    with edited(samples[0]['img_path'], new_pixels):
        plan = states(runner)
        assert plan['stage1'].startswith('input files changed: 1 of ')
        assert plan['stage1'].endswith(f' entries: JPEGImages/{img_id}.jpg (modified)')
        assert plan['maps_val'] == "input step(s) ['stage1'] rerun"
        before = read_json(runner.path('.pipeline', 'stage1.json'))['run_id']
        runner.run(until='stage1')
        assert read_json(runner.path('.pipeline', 'stage1.json'))['run_id'] != before


def test_a_label_edit_counts_for_the_images_it_changes(finished, tmp_path):
    """cls_labels.txt rewritten with the size and mtime it had: the parsed records tell; a
    validation image's new label remakes its map, and does not retrain the classifier."""
    runner = copied_runner(finished, tmp_path)
    samples, classes = runner.step('maps_val').samples()
    # an image with a class whose name has the length of another class's, not its own
    target, name, other = next(
        (sample, classes[k], other) for sample in samples
        for k in np.flatnonzero(sample['gt_label']) for other in classes
        if len(other) == len(classes[k]) and not sample['gt_label'][classes.index(other)])
    label_file = osp.join(finished[0], 'cls_labels.txt')

    def relabel(path):
        with open(path) as f:
            lines = f.read().splitlines()
        lines = [' '.join([line.split()[0]] + [other if token == name else token
                                               for token in line.split()[1:]])
                 if line.split()[0] == target['img_id'] else line for line in lines]
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    info = os.stat(label_file)
    with edited(label_file, relabel):
        os.utime(label_file, ns=(info.st_atime_ns, info.st_mtime_ns))  # only contents tell
        assert os.stat(label_file).st_size == info.st_size
        plan = states(runner)
        assert plan['stage1'] == 'done'
        assert plan['maps_val'] == (
            f'1 of {len(samples)} images changed since it ran, only they are remade '
            f'({target["img_id"]}: its record (labels) or its list of files changed)')
