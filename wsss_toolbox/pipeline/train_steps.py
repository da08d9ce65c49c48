"""The training steps of the pipeline (a classifier, a segmentor: an mmengine config trained
in the step's folder) and the test of a trained segmentor."""
import os
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.config import Config
from mmengine.runner import Runner

# the latest checkpoint of a work dir, looked up inside it (shared with tools/train.py)
from wsss_toolbox.engine.checkpoint import latest_checkpoint_in
from wsss_toolbox.engine.pretrained import pretrained_files
from wsss_toolbox.registry import PIPELINE_STEPS

from .base_step import PipelineStep, SummaryRow
from .file_digest import InputFiles


class TrainStep(PipelineStep):
    """Shared by the training steps: an mmengine config trained in ``<work_dir>/<name>/``,
    resumed from its latest checkpoint when an interrupted run left one.

    Options: ``config`` (its train config), ``cfg_options`` (overrides), ``input_dirs``
    (``{config key: step name}``: the config key is set to that step's folder). Its
    fingerprint is the resolved stage config plus :attr:`fingerprint_options`."""
    fingerprint_options = ('input_dirs', )
    #: a ``TrainClassifier`` step whose backbone starts this one's (steps with the option)
    init_backbone_from: Optional[str] = None

    def __init__(self, name: str, runner, config: str, cfg_options: Optional[dict] = None,
                 input_dirs: Optional[Dict[str, str]] = None) -> None:
        super().__init__(name, runner)
        self.config = config
        self.cfg_options = cfg_options or {}
        self.input_dirs = input_dirs or {}
        self._cfg: Optional[Config] = None

    def inputs(self) -> List[str]:
        names = super().inputs()
        return names + [name for name in self.input_dirs.values() if name not in names]

    def stage_config(self) -> Config:
        """The resolved stage config (``_base_`` merged, options applied)."""
        if self._cfg is None:
            options = dict(self.cfg_options)
            # ``input_dirs``: config key -> the folder of an earlier step (e.g. OAA+'s soft
            # labels come from the maps an OAA step exported)
            for key, step_name in self.input_dirs.items():
                options[key] = self.runner.step(step_name).out_dir
            self._cfg = self.runner.stage_config(self.config, options, self.name)
        return self._cfg

    def fingerprint_config(self) -> Any:
        return dict(self.stage_config().to_dict(), **super().fingerprint_config())

    def input_files(self) -> InputFiles:
        """Its training set: images, masks, saliency maps, pseudo labels ... and each
        image's record (what the list / label files say of it) -- and the local checkpoints
        its model's ``Pretrained`` initialisations load. A change retrains."""
        cfg = self.stage_config()
        return self.runner.dataset_files(cfg.train_dataloader.dataset) + InputFiles(
            required=pretrained_files(cfg.model))

    def config_to_train(self) -> Config:
        """A copy of the stage config; a step with an ``init_backbone_from`` option (a
        ``TrainClassifier`` step) starts its backbone from that step's last checkpoint."""
        cfg = self.stage_config().copy()
        if self.init_backbone_from is not None:
            classifier = self.input_step('init_backbone_from', [TrainClassifier])
            cfg.model.backbone['init_cfg'] = dict(
                type='Pretrained', checkpoint=classifier.checkpoint(), prefix='backbone.')
        return cfg

    def train(self, cfg: Optional[Config] = None) -> Runner:
        """Train ``cfg`` (default: the stage config), resuming an interrupted run."""
        cfg = (cfg or self.stage_config()).copy()
        checkpoint = latest_checkpoint_in(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        if checkpoint is not None:
            cfg.resume, cfg.load_from = True, checkpoint
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner

    def checkpoint(self) -> str:
        """Absolute path of the checkpoint this step finished with."""
        path = osp.join(self.out_dir, self.runner.result(self.name)['checkpoint'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'step "{self.name}" finished with {path}, which no longer '
                                    'exists; rerun the step (--force) or restore the file.')
        return path

    def outputs_exist(self, result: Optional[dict]) -> bool:
        return bool(result) and osp.isfile(osp.join(self.out_dir, result['checkpoint']))

    def _finished(self) -> Dict[str, Any]:
        checkpoint = latest_checkpoint_in(self.out_dir)
        if checkpoint is None:
            raise RuntimeError(f'step "{self.name}" trained but left no checkpoint in '
                               f'{self.out_dir}; keep the CheckpointHook in its config.')
        return dict(checkpoint=osp.basename(checkpoint))


@PIPELINE_STEPS.register_module()
class TrainClassifier(TrainStep):
    """Stage 1: train a classifier (``config``: its train config, ``cfg_options``: overrides;
    ``input_dirs``: ``{config key: step name}`` -- the config key is set to that step's folder).
    Result: ``checkpoint`` (file name in the step's folder)."""

    def run(self) -> Dict[str, Any]:
        self.train()
        return self._finished()


@PIPELINE_STEPS.register_module()
class TrainSegmentor(TrainStep):
    """Stage 3: train an mmseg segmentor on the pseudo labels of the ``labels`` step.

    ``init_backbone_from``: a ``TrainClassifier`` step whose backbone initialises the
    segmentor's (same architecture needed) -- a stand-in for ImageNet weights where there are
    none (the synthetic demo)."""
    input_args = ('labels', 'init_backbone_from')
    # the label folder is an input (its run id), the backbone's step a name
    fingerprint_options = ('input_dirs', 'init_backbone_from')

    def __init__(self, name: str, runner, config: str, labels: str,
                 cfg_options: Optional[dict] = None, init_backbone_from: Optional[str] = None,
                 input_dirs: Optional[Dict[str, str]] = None) -> None:
        super().__init__(name, runner, config, cfg_options, input_dirs)
        self.labels = labels
        self.init_backbone_from = init_backbone_from

    def stage_config(self) -> Config:
        if self._cfg is None:
            super().stage_config().train_dataloader.dataset['pseudo_label_dir'] = \
                self.runner.step(self.labels).out_dir
        return self._cfg

    def fingerprint_config(self) -> Any:
        # the label folder and the backbone's checkpoint are inputs (their run ids), not paths
        config = super().fingerprint_config()
        config['train_dataloader']['dataset'].pop('pseudo_label_dir', None)
        return config

    def run(self) -> Dict[str, Any]:
        self.train(self.config_to_train())
        return dict(self._finished(), labels=self.labels)


@PIPELINE_STEPS.register_module()
class TestSegmentor(PipelineStep):
    """Evaluate the checkpoint of a ``TrainSegmentor`` step on its config's test split with
    mmengine's test loop (metrics as mmseg's ``IoUMetric``)."""
    input_args = ('segmentor', )
    fingerprint_options = ('segmentor', 'cfg_options')

    def __init__(self, name: str, runner, segmentor: str = 'stage3',
                 cfg_options: Optional[dict] = None) -> None:
        super().__init__(name, runner)
        self.segmentor = segmentor
        self.cfg_options = cfg_options or {}

    def test_config(self) -> Config:
        """The segmentor step's config with this step's ``cfg_options``."""
        cfg = self.input_step('segmentor', [TrainSegmentor]).stage_config().copy()
        if self.cfg_options:
            cfg.merge_from_dict(dict(self.cfg_options))
        return cfg

    def input_files(self) -> InputFiles:
        """Its test set: images, masks and each image's record."""
        return self.runner.dataset_files(self.test_config().test_dataloader.dataset)

    def run(self) -> Dict[str, Any]:
        segmentor = self.input_step('segmentor', [TrainSegmentor])
        cfg = self.test_config()
        cfg.work_dir = self.out_dir
        cfg.load_from, cfg.resume = segmentor.checkpoint(), False
        if cfg.get('visualizer') is not None:
            cfg.visualizer['name'] = f'{self.name}_visualizer'
        os.makedirs(self.out_dir, exist_ok=True)
        metrics = Runner.from_cfg(cfg).test()
        return dict(metrics={key: float(value) for key, value in metrics.items()},
                    checkpoint=segmentor.checkpoint(), labels=segmentor.labels)

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        return [SummaryRow(kind='segmentor', step=self.name, name='DeepLab val',
                           mIoU=float(result['metrics']['mIoU']),
                           extra=dict(labels=result['labels']))]
