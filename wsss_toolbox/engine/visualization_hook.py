"""The visualization hook of stage-1 configs (what ``tools/test.py --show-dir`` turns on)."""
import warnings
from typing import Optional

from mmengine.visualization import Visualizer
from mmseg.engine.hooks import SegVisualizationHook

from wsss_toolbox.registry import HOOKS


@HOOKS.register_module()
class MapVisualizationHook(SegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` for stage-1 classifiers: after each validation or
    test iteration it reads every sample's image (``img_path``) and hands it with the
    predicted data sample to the runner's visualizer (``MapLocalVisualizer`` in stage-1
    configs: image, ground truth, one localization map per class of the image).

    It differs from mmseg's in two defaults and one check: ``interval=1`` (every batch, so
    ``--show-dir`` paints every test image; mmseg's paints every 50th), no warning while
    ``draw`` is off (configs keep it off; ``tools/test.py --show-dir/--show`` turns it on,
    as mmseg's ``trigger_visualization_hook``), and with ``draw`` on it stops the run when
    the visualizer cannot paint data samples (mmengine's plain ``Visualizer`` paints nothing,
    so ``--show-dir`` would silently write no image).
    """

    def __init__(self, draw: bool = False, interval: int = 1, show: bool = False,
                 wait_time: float = 0., backend_args: Optional[dict] = None) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='The draw is False')
            super().__init__(draw=draw, interval=interval, show=show, wait_time=wait_time,
                             backend_args=backend_args)

    def before_run(self, runner) -> None:
        if self.draw and type(self._visualizer).add_datasample is Visualizer.add_datasample:
            raise TypeError(
                f'{type(self).__name__}(draw=True) (tools/test.py --show-dir/--show) needs a '
                f'visualizer that paints data samples, but the config\'s visualizer is '
                f'mmengine\'s {type(self._visualizer).__name__}, which paints nothing. Set '
                "visualizer=dict(type='MapLocalVisualizer', "
                "vis_backends=[dict(type='LocalVisBackend')]) for a classifier "
                "('SegLocalVisualizer' for a segmentor).")
