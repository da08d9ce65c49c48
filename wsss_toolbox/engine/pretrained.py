"""Checkpoints the toolbox ships, loaded by name as ``wsss_toolbox://NAME``.

``init_cfg=dict(type='Pretrained', checkpoint='wsss_toolbox://tiny-convnet_synthetic-pretrain')``
on a ``TinyConvNet`` loads the backbone pretrained on the synthetic "ImageNet" (the
generator's ``pretrain`` variant), the way ``checkpoint='torchvision://vgg16'`` loads
ImageNet weights: the scheme hands mmengine the backbone's weights only (the file's
``backbone.`` keys without that prefix). The file itself is a whole classifier checkpoint
(backbone + CAM head over the 64 pretraining classes), which ``tools/test.py`` evaluates
with its config; its provenance (command, config, seed, accuracy, date, sha256) is the JSON
file next to it (``configs/pretrain/README.md``).
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.runner.checkpoint import CheckpointLoader

SCHEME = 'wsss_toolbox://'
CHECKPOINT_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'checkpoints')
#: name -> file in :data:`CHECKPOINT_DIR` (its provenance: the same stem + ``.json``)
SHIPPED_CHECKPOINTS: Dict[str, str] = {
    'tiny-convnet_synthetic-pretrain': 'cam_tiny_synthetic-pretrain-64cls.pth',
}
#: the prefix of the backbone's weights in a shipped classifier checkpoint
BACKBONE_PREFIX = 'backbone.'


def shipped_checkpoint(name: str) -> str:
    """Path of the shipped checkpoint ``name`` (an error lists the names there are)."""
    if name not in SHIPPED_CHECKPOINTS:
        raise KeyError(f'{SCHEME}{name}: no such shipped checkpoint; the toolbox ships '
                       f'{", ".join(SCHEME + known for known in SHIPPED_CHECKPOINTS)}')
    path = osp.join(CHECKPOINT_DIR, SHIPPED_CHECKPOINTS[name])
    if not osp.isfile(path):
        raise FileNotFoundError(f'{SCHEME}{name}: the file {path} is missing from this '
                                'installation (reinstall the toolbox, or retrain it: '
                                '`make pretrain`)')
    return path


def shipped_provenance(name: str) -> dict:
    """The provenance record of the shipped checkpoint ``name``."""
    path = osp.splitext(shipped_checkpoint(name))[0] + '.json'
    with open(path) as f:
        return json.load(f)


@CheckpointLoader.register_scheme(prefixes=SCHEME)
def load_from_wsss_toolbox(filename: str, map_location: Optional[str] = None) -> dict:
    """mmengine's loader for ``wsss_toolbox://NAME``: the backbone weights of a shipped
    checkpoint, as ``torchvision://`` gives a bare backbone's."""
    checkpoint = CheckpointLoader.load_checkpoint(
        shipped_checkpoint(filename[len(SCHEME):]), map_location=map_location)
    state_dict = checkpoint.get('state_dict', checkpoint)
    backbone = {key[len(BACKBONE_PREFIX):]: value for key, value in state_dict.items()
                if key.startswith(BACKBONE_PREFIX)}
    return dict(state_dict=backbone, meta=checkpoint.get('meta', {}))


def pretrained_files(model_cfg: Any) -> List[str]:
    """The local files the ``Pretrained`` initialisations of a model config load: shipped
    checkpoints (``wsss_toolbox://NAME``) and plain paths that exist (remote ones, e.g.
    ``torchvision://``, are left out: they cannot be looked at without a download)."""
    files: List[str] = []
    if isinstance(model_cfg, dict):
        checkpoint = model_cfg.get('checkpoint')
        if model_cfg.get('type') == 'Pretrained' and isinstance(checkpoint, str):
            if checkpoint.startswith(SCHEME):
                files.append(shipped_checkpoint(checkpoint[len(SCHEME):]))
            elif '://' not in checkpoint and osp.isfile(checkpoint):
                files.append(osp.abspath(checkpoint))
        for value in model_cfg.values():
            files.extend(pretrained_files(value))
    elif isinstance(model_cfg, (list, tuple)):
        for value in model_cfg:
            files.extend(pretrained_files(value))
    return files
