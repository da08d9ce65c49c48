"""What `tools/pipeline.py --list` spends its time on: with the imported modules' objects
frozen out of the garbage collector, the gc.collect() that mmengine runs on every dataset
build (--list builds each stage's datasets to fingerprint their files) scans only what the
listing made. Before, each scan went over every object of torch / mmengine / mmseg: about
half of --list's own time. The freeze is undone when the tool returns."""
import gc
import os.path as osp
import runpy

from conftest import REPO_ROOT

from wsss_toolbox.pipeline import PipelineRunner

CAM_PIPELINE = osp.join(REPO_ROOT, 'configs/pipelines/cam_synthetic.py')


def test_list_plans_with_the_imported_objects_frozen(tmp_path, monkeypatch, capsys):
    frozen = []
    plan = PipelineRunner.plan

    def recording_plan(self, *args, **kwargs):
        frozen.append(gc.get_freeze_count())
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(PipelineRunner, 'plan', recording_plan)
    main = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'pipeline.py'))['main']
    before = gc.get_freeze_count()
    code = main([CAM_PIPELINE, '--work-dir', str(tmp_path / 'work'), '--list',
                 '--cfg-options', f'data_root={tmp_path / "data"}'])
    assert code == 0
    assert 'stage1' in capsys.readouterr().out
    assert frozen and frozen[0] > before + 10000  # torch alone holds far more objects
    assert gc.get_freeze_count() == before
    assert not osp.exists(tmp_path / 'work')  # --list writes nothing
