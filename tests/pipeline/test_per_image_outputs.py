"""A per-image step whose image list grew since it ran (e.g. an image without tags got one)
reruns, saying why; before, its cached outputs lacked the image, and stage 3 stayed stuck."""
import os
import os.path as osp

from mmengine.config import Config

from wsss_toolbox.pipeline import PipelineRunner, PipelineStep
from wsss_toolbox.pipeline.steps import missing_image_files
from wsss_toolbox.registry import PIPELINE_STEPS


def _file(folder, img_id):
    return osp.join(folder, f'{img_id}.txt')


@PIPELINE_STEPS.register_module(force=True)
class _OneFilePerImage(PipelineStep):
    """Writes <img_id>.txt for every image of the class-level list ``images``."""
    images = ['a', 'b']

    def samples(self):
        return [dict(img_id=img_id) for img_id in self.images], ['thing']

    def run(self):
        os.makedirs(self.out_dir, exist_ok=True)
        for sample in self.samples()[0]:
            with open(_file(self.out_dir, sample['img_id']), 'w') as f:
                f.write('done')
        return {}

    def missing_outputs(self, result):
        return super().missing_outputs(result) or missing_image_files(self, _file, 'file')


def test_a_grown_image_list_reruns_the_step(tmp_path, monkeypatch):
    cfg = Config(dict(steps=['images'], images=dict(type='_OneFilePerImage')))
    runner = PipelineRunner(cfg, str(tmp_path / 'work'))
    runner.run()
    assert runner.plan() == [('images', '_OneFilePerImage', True, 'up to date')]
    monkeypatch.setattr(_OneFilePerImage, 'images', ['a', 'b', 'c'])
    (_, _, fresh, reason), = runner.plan()
    assert not fresh
    assert reason == (f'1 of 3 images have no file in {runner.path("images")} (e.g. "c"): '
                      'the image list changed since it ran')
    runner.run()
    assert osp.isfile(_file(runner.path('images'), 'c'))
    assert runner.plan()[0][2]
