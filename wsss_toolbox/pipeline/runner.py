"""Run stage 1 -> 2 -> 3 with every stage's output cached in the work dir.

Work dir layout (``<work_dir>``)::

    stage0/               optional earlier classifier whose maps train stage 1 (OAA+)
    stage1/               mmengine work dir of the classifier (checkpoints, logs)
    stage1/result.json    written when stage 1 finished: the checkpoint to use
    maps/                 one <img_id>.npz per training image (stage 2a)
    maps_eval.json        map mIoU by background threshold, recall/precision @50 % max
    pseudo_labels/        generator output (stage 2b); pseudo_labels_eval.json
    pseudo_labels_<refiner>/  after each refiner (e.g. DenseCRF); *_eval.json
    stage3/               mmengine work dir of the segmentor; stage3/result.json
    summary.json          the table printed at the end; figure.png

A stage whose result file exists is skipped; an interrupted training stage resumes from its
latest checkpoint, and the stage-2 steps skip the files already written. Nothing here knows
which method made the maps: methods differ only in their stage-1 config.
"""
import copy
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner, find_latest_checkpoint

from wsss_toolbox.maps.io import atomic_write


def load_stage_config(path: str, base_dir: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a stage config given relative to the working directory or to ``base_dir``."""
    candidates = [path] if osp.isabs(path) else [path, osp.join(base_dir, path)]
    for candidate in candidates:
        if osp.isfile(candidate):
            cfg = Config.fromfile(candidate)
            if cfg_options:
                cfg.merge_from_dict(dict(cfg_options))
            return cfg
    raise FileNotFoundError(f'stage config "{path}" not found (looked in {candidates}).')


def _write_json(path: str, data: dict) -> None:
    from wsss_toolbox.evaluation import to_jsonable
    text = json.dumps(to_jsonable(data), indent=2)
    atomic_write(path, lambda f: f.write(text.encode()))


def _read_json(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


class PipelineRunner:
    """Runs a pipeline config (see ``configs/pipelines/``).

    Config keys:
        stage0: optional ``dict(config=path, cfg_options=dict(), maps_to=key)`` -- a classifier
            trained first whose exported maps (its ``maps_from_stage1`` folder) are handed to
            the stage-1 config under the dotted key ``maps_to`` (OAA+: the integral attention
            model learns from OAA's cumulative maps).
        stage1: ``dict(config=path, cfg_options=dict())`` -- the classifier's train config.
            A stage-1 config that sets ``maps_from_stage1 = folder`` (relative to its work
            dir) writes its own maps during training (OAA's recorder); stage 2 then takes
            them instead of running map inference.
        maps: ``dict(scales, flip, fuse, split='train', thresholds=None)`` -- map inference.
        pseudo_labels: ``dict(generator=..., refiners=[...], train_on=-1, nproc=1)``;
            ``train_on`` indexes the outputs (0 = generator only, -1 = after all refiners).
        stage3: ``dict(config=path, cfg_options=dict(), init_backbone_from_stage1=False)``
            -- the segmentor's train config; with ``init_backbone_from_stage1`` its backbone
            starts from the stage-1 classifier's (same architecture needed), which stands in
            for ImageNet weights where there are none (the synthetic demo).
        data_root: optional; replaces the data roots of both stages' dataloaders.
        synthetic_benchmark: optional generator arguments; the benchmark is written to
            ``data_root`` when it does not exist yet.
        report: ``dict(figure_images=4)``.
    """

    def __init__(self, cfg: Config, work_dir: str, config_dir: str = '.') -> None:
        self.cfg = cfg
        self.work_dir = osp.abspath(work_dir)
        self.config_dir = config_dir
        os.makedirs(self.work_dir, exist_ok=True)
        self._sample_cache: Dict[str, tuple] = {}

    # ------------------------------------------------------------------ helpers
    def path(self, *parts: str) -> str:
        return osp.join(self.work_dir, *parts)

    def _stage_cfg(self, key: str) -> Config:
        stage = self.cfg[key]
        cfg = load_stage_config(stage['config'], self.config_dir, stage.get('cfg_options'))
        data_root = self.cfg.get('data_root')
        if data_root is not None:
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
                if cfg.get(loader) is not None:
                    cfg[loader]['dataset']['data_root'] = data_root
        cfg.work_dir = self.path(key)
        # one visualizer instance per stage (mmengine keeps them by name in the process)
        if cfg.get('visualizer') is not None:
            cfg.visualizer['name'] = f'{key}_visualizer'
        cfg.setdefault('launcher', 'none')
        return cfg

    def _train(self, cfg: Config) -> Runner:
        """Train with mmengine's runner, resuming from the latest checkpoint if any."""
        if find_latest_checkpoint(cfg.work_dir) is not None:
            cfg.resume = True
            cfg.load_from = None
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner

    @staticmethod
    def _exported_map_dir(cfg: Config) -> Optional[str]:
        """The folder a stage config says its training run exports maps to, if any."""
        folder = cfg.get('maps_from_stage1')
        if not folder:
            return None
        return folder if osp.isabs(folder) else osp.join(cfg.work_dir, folder)

    def _samples(self, cfg: Config, split: str) -> tuple:
        """``(samples, foreground class names)`` of a stage-1 split, built once per run."""
        if split not in self._sample_cache:
            from wsss_toolbox.pseudo_labels import samples_from_dataset_cfg
            loader = 'train_dataloader' if split == 'train' else 'val_dataloader'
            samples, metainfo = samples_from_dataset_cfg(
                copy.deepcopy(cfg[loader]['dataset']))
            self._sample_cache[split] = (samples, list(metainfo['classes']))
        return self._sample_cache[split]

    # ------------------------------------------------------------------ stages
    def prepare_data(self) -> None:
        options = self.cfg.get('synthetic_benchmark')
        data_root = self.cfg.get('data_root')
        if options is None or data_root is None:
            return
        if osp.isfile(osp.join(data_root, 'benchmark.json')):
            return
        from wsss_toolbox.datasets import format_summary, generate_synthetic_benchmark
        print_log(f'writing the synthetic benchmark to {data_root}', logger='current')
        summary = generate_synthetic_benchmark(data_root, **dict(options))
        print_log('\n' + format_summary(summary), logger='current')

    def stage0(self) -> None:
        """Train the optional stage-0 classifier and point stage 1 at its exported maps."""
        if self.cfg.get('stage0') is None:
            return
        done = _read_json(self.path('stage0', 'result.json'))
        if done is None:
            cfg = self._stage_cfg('stage0')
            map_dir = self._exported_map_dir(cfg)
            if map_dir is None:
                raise KeyError(f"the stage-0 config {self.cfg.stage0['config']} must set "
                               '`maps_from_stage1` (the folder its training exports maps to)')
            self._train(cfg)
            done = dict(checkpoint=find_latest_checkpoint(cfg.work_dir), map_dir=map_dir)
            _write_json(self.path('stage0', 'result.json'), done)
        else:
            print_log('stage 0: done before, skipped', logger='current')
        stage1 = self.cfg['stage1']
        stage1['cfg_options'] = dict(stage1.get('cfg_options') or {},
                                     **{self.cfg['stage0']['maps_to']: done['map_dir']})

    def stage1(self) -> dict:
        done = _read_json(self.path('stage1', 'result.json'))
        if done is not None:
            print_log('stage 1: done before, skipped', logger='current')
            return done
        cfg = self._stage_cfg('stage1')
        self._train(cfg)
        result = dict(checkpoint=find_latest_checkpoint(cfg.work_dir))
        _write_json(self.path('stage1', 'result.json'), result)
        return result

    def stage2_maps(self, checkpoint: str) -> dict:
        done = _read_json(self.path('maps_eval.json'))
        if done is not None:
            print_log('stage 2 (maps): done before, skipped', logger='current')
            return done
        import torch
        from mmengine.runner import load_checkpoint

        from wsss_toolbox.evaluation import evaluate_maps, map_precision_recall
        from wsss_toolbox.maps.inference import infer_maps
        from wsss_toolbox.registry import MODELS
        cfg = self._stage_cfg('stage1')
        options = dict(cfg.get('map_inference', {}))
        options.update(self.cfg.get('maps', {}))
        split = options.pop('split', 'train')
        thresholds = options.pop('thresholds', None)
        samples, classes = self._samples(cfg, split)
        exported = self._exported_map_dir(cfg)
        if exported is not None:
            if not osp.isdir(exported):
                raise FileNotFoundError(
                    f'stage 1 should have exported its maps to {exported} '
                    '(`maps_from_stage1` of its config), but that folder does not exist')
            print_log(f'stage 2: taking the maps stage 1 exported to {exported}',
                      logger='current')
            shutil.copytree(exported, self.path('maps'), dirs_exist_ok=True)
        else:
            model = MODELS.build(cfg.model)
            load_checkpoint(model, checkpoint, map_location='cpu', logger='current')
            print_log(f'stage 2: inferring maps of {len(samples)} {split} images',
                      logger='current')
            with torch.no_grad():
                infer_maps(model, samples, self.path('maps'), **options)
        names = ['background'] + classes
        eval_kwargs = {} if thresholds is None else dict(thresholds=thresholds)
        result = dict(split=split,
                      maps=evaluate_maps(samples, self.path('maps'), len(names),
                                         class_names=names, **eval_kwargs),
                      precision_recall=map_precision_recall(samples, self.path('maps'),
                                                            len(names)))
        _write_json(self.path('maps_eval.json'), result)
        return result

    def stage2_labels(self) -> List[dict]:
        from wsss_toolbox.evaluation import evaluate_labels
        from wsss_toolbox.pseudo_labels import generate_pseudo_labels
        options = self.cfg['pseudo_labels']
        cfg = self._stage_cfg('stage1')
        split = self.cfg.get('maps', {}).get('split', 'train')
        samples, classes = self._samples(cfg, split)
        names = ['background'] + classes
        nproc = options.get('nproc', 1)
        outputs = []
        steps = [('pseudo_labels', options['generator'], [])]
        refiners = list(options.get('refiners', []))
        for index, refiner in enumerate(refiners):
            suffix = refiner['type'].replace('Refiner', '').lower()
            steps.append((f'pseudo_labels_{suffix}', options['generator'], refiners[:index + 1]))
        for folder, generator, chain in steps:
            eval_file = self.path(f'{folder}_eval.json')
            done = _read_json(eval_file)
            if done is None:
                print_log(f'stage 2: {folder} ({len(samples)} images)', logger='current')
                generate_pseudo_labels(samples, self.path('maps'), self.path(folder),
                                       generator, chain, nproc=nproc)
                done = dict(folder=self.path(folder),
                            eval=evaluate_labels(samples, self.path(folder), len(names),
                                                 class_names=names, nproc=nproc))
                _write_json(eval_file, done)
            outputs.append(done)
        return outputs

    def stage3(self, label_dir: str, stage1_checkpoint: str) -> dict:
        done = _read_json(self.path('stage3', 'result.json'))
        if done is not None:
            print_log('stage 3: done before, skipped', logger='current')
            return done
        cfg = self._stage_cfg('stage3')
        cfg.train_dataloader.dataset['pseudo_label_dir'] = label_dir
        if self.cfg['stage3'].get('init_backbone_from_stage1', False):
            cfg.model.backbone['init_cfg'] = dict(
                type='Pretrained', checkpoint=stage1_checkpoint, prefix='backbone.')
        runner = self._train(cfg)
        metrics = runner.test()
        result = dict(checkpoint=find_latest_checkpoint(cfg.work_dir), metrics=metrics,
                      pseudo_label_dir=label_dir)
        _write_json(self.path('stage3', 'result.json'), result)
        return result

    # ------------------------------------------------------------------ all
    def run(self) -> dict:
        self.prepare_data()
        self.stage0()
        stage1 = self.stage1()
        maps = self.stage2_maps(stage1['checkpoint'])
        labels = self.stage2_labels()
        train_on = self.cfg['pseudo_labels'].get('train_on', -1)
        stage3 = self.stage3(labels[train_on]['folder'], stage1['checkpoint'])
        summary = self.summarise(maps, labels, stage3)
        _write_json(self.path('summary.json'), summary)
        print_log('\n' + self.format_table(summary), logger='current')
        report = self.cfg.get('report', {})
        if report.get('figure_images', 4):
            from wsss_toolbox.visualization import save_pipeline_figure
            cfg = self._stage_cfg('stage1')
            samples, classes = self._samples(cfg, maps['split'])
            figure = save_pipeline_figure(
                samples[:report.get('figure_images', 4)], self.path('maps'),
                [self.path(osp.basename(labels[0]['folder'])),
                 self.path(osp.basename(labels[-1]['folder']))],
                len(classes) + 1, self.path('figure.png'))
            print_log(f'figure: {figure}', logger='current')
        return summary

    @staticmethod
    def summarise(maps: dict, labels: List[dict], stage3: dict) -> dict:
        rows = [dict(name=f"maps (best bg threshold {maps['maps']['best_threshold']:.2f})",
                     mIoU=100 * maps['maps']['best_metrics']['mIoU'])]
        rows.append(dict(name='maps recall @50% max', mIoU=None,
                         value=100 * maps['precision_recall']['recall']))
        rows.append(dict(name='maps precision @50% max', mIoU=None,
                         value=100 * maps['precision_recall']['precision']))
        for label in labels:
            rows.append(dict(name=osp.basename(label['folder']),
                             mIoU=100 * label['eval']['metrics']['mIoU'],
                             ignored=100 * label['eval']['ignored_fraction']))
        rows.append(dict(name='DeepLab val', mIoU=float(stage3['metrics']['mIoU'])))
        return dict(rows=rows, stage3=stage3, maps_best_threshold=maps['maps']['best_threshold'])

    @staticmethod
    def format_table(summary: dict) -> str:
        lines = [f"{'result':<42}{'mIoU %':>9}{'other %':>16}", '-' * 67]
        for row in summary['rows']:
            miou = '' if row.get('mIoU') is None else f"{row['mIoU']:.2f}"
            if 'ignored' in row:
                other = f"{row['ignored']:.2f} ignored"
            else:
                other = '' if row.get('value') is None else f"{row['value']:.2f}"
            lines.append(f"{row['name']:<42}{miou:>9}{other:>16}")
        return '\n'.join(lines)
