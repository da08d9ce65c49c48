"""Which MCIS branch drives the shared features at initialisation: the gradient norm on the
backbone of the pair terms against that of the basic branch, for several initialisations of
the head's new layers.

    OMP_NUM_THREADS=1 .venv/bin/python tools/analysis/mcis_init_gradients.py \
        [--config configs/mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py] \
        [--data-root data/synthetic_mcis] [--batches 8] [--seeds 0 1 2] [--out result.json]

For every initialisation and seed the model of ``--config`` is built and initialised
(``init_weights``, as the runner does), then for the first ``--batches`` training batches
(the config's pair sampler and data pipeline) the losses are computed as in training and the
backbone gradient of each group of terms is taken separately:

* ``basic``: ``loss_basic`` + ``loss_self_basic`` (Eq. 1 on every image, self-pair copies
  included);
* ``pair``: ``loss_co_att`` + ``loss_self_co_att`` (+ ``loss_contrast`` where it is on):
  the co-attention terms (Eq. 5, Eq. 9).

Reported per initialisation: the median over batches and seeds of
``||grad_backbone(pair)|| / ||grad_backbone(basic)||``, at epoch 0 (the contrastive term in
its warm-up, as training starts) and at the first epoch with the contrastive term, plus the
mean losses. Initialisations: the old synthetic config (every conv N(0, 0.01)), the old VOC
config's single std on every conv (N(0, sqrt(2 / (9 * 512))) = 0.021) and the authors'
per-layer fan-out rule (``init_mode='kaiming_fan_out'``, GuoleiSun/MCIS_wsss
Classifier/models/vgg.py L90-96).
"""
import argparse
import copy
import json
import statistics
from typing import Dict, List

import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.registry import MODELS
from wsss_toolbox.utils import register_all_modules

INITS = {
    'normal 0.01 (old synthetic config)': dict(init_mode='normal', init_std=0.01),
    'normal 0.021 (old VOC config value)': dict(init_mode='normal',
                                                init_std=(2 / (3 * 3 * 512))**0.5),
    'kaiming_fan_out (authors)': dict(init_mode='kaiming_fan_out', init_std=None),
}
BASIC = ('loss_basic', 'loss_self_basic')
PAIR = ('loss_co_att', 'loss_self_co_att', 'loss_contrast')


def backbone_grad_norm(model, loss: torch.Tensor) -> float:
    params = [p for p in model.backbone.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return float(torch.sqrt(sum((g.detach()**2).sum() for g in grads if g is not None)))


def measure(cfg, init: Dict, seed: int, batches: List, epoch: int) -> List[Dict]:
    head_cfg = copy.deepcopy(cfg.model)
    head_cfg.head.update(init)
    torch.manual_seed(seed)
    model = MODELS.build(head_cfg)
    model.init_weights()
    model.train()
    model.head.epoch = epoch
    rows = []
    for batch in batches:
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        losses = model(data['inputs'], data['data_samples'], mode='loss')
        basic = sum(losses[k] for k in BASIC if k in losses)
        pair = sum(losses[k] for k in PAIR if k in losses)
        rows.append(dict(
            basic_grad=backbone_grad_norm(model, basic),
            pair_grad=backbone_grad_norm(model, pair),
            **{k: float(v.detach()) for k, v in losses.items()}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default='configs/mcis/mcis_tiny_1xb8-4e_synthetic-128x128.py')
    parser.add_argument('--data-root', default='data/synthetic_mcis')
    parser.add_argument('--batches', type=int, default=8)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--out', default=None, help='write the result as JSON')
    args = parser.parse_args()
    # a quiet current logger: init_weights would log every parameter
    MMLogger.get_instance('mcis_init_gradients', log_level='WARNING')
    register_all_modules(init_default_scope=True)
    cfg = load_config(args.config)
    cfg.train_dataloader.dataset.dataset.data_root = args.data_root  # inside ImageGroupDataset
    cfg.model.head.pop('init_std', None)
    cfg.model.head.pop('init_mode', None)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == args.batches:
            break
    start = cfg.model.head.get('contrastive_start_epoch', 2)
    result = {}
    for name, init in INITS.items():
        result[name] = {}
        for label, epoch in (('warm-up (epoch 0)', 0), (f'contrastive on (epoch {start})',
                                                         start)):
            rows = [row for seed in args.seeds
                    for row in measure(cfg, init, seed, batches, epoch)]
            ratios = [row['pair_grad'] / row['basic_grad'] for row in rows]
            keys = sorted({k for row in rows for k in row if k.startswith('loss')})
            result[name][label] = dict(
                median_ratio=round(statistics.median(ratios), 3),
                min_ratio=round(min(ratios), 3), max_ratio=round(max(ratios), 3),
                basic_grad=round(statistics.median(r['basic_grad'] for r in rows), 5),
                pair_grad=round(statistics.median(r['pair_grad'] for r in rows), 5),
                losses={k: round(statistics.mean(r[k] for r in rows), 4) for k in keys})
            print(f'{name:38s} {label:26s} pair/basic backbone gradient: median '
                  f'{result[name][label]["median_ratio"]:.3f} '
                  f'[{result[name][label]["min_ratio"]:.3f}, '
                  f'{result[name][label]["max_ratio"]:.3f}]', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, batches=args.batches, seeds=args.seeds,
                           result=result), f, indent=2)


if __name__ == '__main__':
    main()
