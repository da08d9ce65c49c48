"""Publish a pretraining checkpoint as a shipped checkpoint, with its provenance.

    .venv/bin/python tools/model_converters/publish_pretrained.py CONFIG CHECKPOINT \
        [--name tiny-convnet_synthetic-pretrain] [--handful 32] [--out-dir DIR]

Writes ``<out-dir>/<file>.pth`` (the classifier's weights and a short ``meta``, without the
optimizer state; ``<file>`` from ``wsss_toolbox.engine.pretrained.SHIPPED_CHECKPOINTS``) and
``<file>.json``: the config, the checkpoint it came from, the training seed and time, the
pretraining data, the date, the sha256 of the ``.pth``, and the classifier's mAP and top-1
accuracy (percent) on the whole val split and on its first ``--handful`` images, which the
test of the shipped checkpoint regenerates and checks (``configs/pretrain/README.md``). Like mmseg's
``tools/model_converters``, the step after training, in the same way as ``publish_model``.
"""
import argparse
import datetime
import glob
import hashlib
import io
import json
import os.path as osp
import re
import sys
import tempfile
from typing import Optional

import numpy as np
import torch
from mmengine.runner import Runner

from wsss_toolbox.engine.checkpoint import load_local_checkpoint
from wsss_toolbox.engine.config import load_config
from wsss_toolbox.engine.pretrained import CHECKPOINT_DIR, SHIPPED_CHECKPOINTS
from wsss_toolbox.evaluation.classification_metric import average_precision
from wsss_toolbox.maps.io import atomic_write
from wsss_toolbox.utils import register_all_modules

LOG_TIME = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('checkpoint', help='its last checkpoint (work_dirs/.../epoch_N.pth)')
    parser.add_argument('--name', default='tiny-convnet_synthetic-pretrain',
                        choices=sorted(SHIPPED_CHECKPOINTS),
                        help='the name the checkpoint is loaded by (wsss_toolbox://NAME)')
    parser.add_argument('--handful', type=int, default=32,
                        help='the first N val images, the ones the shipped-checkpoint test '
                        'regenerates and evaluates')
    parser.add_argument('--out-dir', default=CHECKPOINT_DIR)
    return parser.parse_args(argv)


def training_seconds(checkpoint: str) -> Optional[float]:
    """Wall time of the training run that wrote ``checkpoint``: first to last line of the
    mmengine log in its folder (None without a log)."""
    logs = sorted(glob.glob(osp.join(osp.dirname(checkpoint), '*', '*.log')))
    if not logs:
        return None
    with open(logs[-1]) as f:
        stamps = [match.group(1) for match in map(LOG_TIME.match, f) if match]
    if len(stamps) < 2:
        return None
    first, last = (datetime.datetime.strptime(stamp, '%Y/%m/%d %H:%M:%S')
                   for stamp in (stamps[0], stamps[-1]))
    return (last - first).total_seconds()


def file_sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def evaluate(cfg, checkpoint: str, images: Optional[int], split: str = 'val') -> dict:
    """mAP over classes and top-1 accuracy (percent) of ``checkpoint`` on ``split`` of the
    config's test dataset (its first ``images``). The pretraining set has one class per
    image, as ImageNet: top-1 is the share of images whose highest score is their class.
    (The threshold metrics of ``ImageLabelMetric`` mean little for a softmax-trained
    classifier: its sigmoid scores exceed 0.5 for most classes.)"""
    cfg = cfg.copy()
    cfg.load_from = checkpoint
    cfg.test_dataloader.dataset.split = split
    if images is not None:
        cfg.test_dataloader.dataset.indices = images
    scores, labels = [], []
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        runner = Runner.from_cfg(cfg)
        runner.load_or_resume()
        model = runner.model.eval()
        with torch.no_grad():
            for batch in runner.test_dataloader:
                for sample in model.test_step(batch):
                    scores.append(torch.as_tensor(sample.pred_scores).float().numpy())
                    labels.append(torch.as_tensor(sample.gt_label).numpy() > 0)
    scores, labels = np.stack(scores), np.stack(labels)
    per_class = [average_precision(scores[:, c], labels[:, c]) for c in range(scores.shape[1])]
    top1 = labels[np.arange(len(scores)), scores.argmax(axis=1)].mean()
    return dict(mAP=round(100 * float(np.nanmean(per_class)), 4),
                top1=round(100 * float(top1), 4))


def main(argv=None) -> int:
    args = parse_args(argv)
    register_all_modules()
    cfg = load_config(args.config)
    source = load_local_checkpoint(args.checkpoint, map_location='cpu')
    meta = source.get('meta', {})
    published = dict(state_dict=source['state_dict'],
                     meta=dict(config=args.config, seed=meta.get('seed'),
                               epoch=meta.get('epoch'), iter=meta.get('iter')))
    path = osp.join(args.out_dir, SHIPPED_CHECKPOINTS[args.name])
    buffer = io.BytesIO()
    torch.save(published, buffer)
    sha256 = hashlib.sha256(buffer.getvalue()).hexdigest()
    if not osp.isfile(path) or file_sha256(path) != sha256:
        # the same weights keep their file (and its time stamp): pipelines that read it as
        # an input file do not retrain for a republished record
        atomic_write(path, lambda f: f.write(buffer.getvalue()))

    data_root = cfg.test_dataloader.dataset.data_root
    with open(osp.join(data_root, 'benchmark.json')) as f:
        data_config = json.load(f)['config']
    record = dict(
        name=args.name,
        load_as=f'wsss_toolbox://{args.name}',
        file=osp.basename(path),
        sha256=sha256,
        size_bytes=osp.getsize(path),
        config=args.config,
        source_checkpoint=args.checkpoint,
        command='make pretrain',
        seed=meta.get('seed'),
        epochs=meta.get('epoch'),
        training_seconds=training_seconds(args.checkpoint),
        data=dict(data_root=data_root, generator=data_config),
        date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d'),
        torch=torch.__version__,
        val=evaluate(cfg, path, None),
        handful=dict(images=args.handful, metrics=evaluate(cfg, path, args.handful)),
        # the same measure on training images (in eval mode): underfitting or memorising
        train_first_600=evaluate(cfg, path, 600, split='train'))
    json_path = osp.splitext(path)[0] + '.json'
    atomic_write(json_path, lambda f: f.write((json.dumps(record, indent=2) + '\n').encode()))
    print(json.dumps(record, indent=2))
    print(f'wrote {path} and {json_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
