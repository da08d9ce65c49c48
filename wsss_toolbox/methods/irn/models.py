"""IRN's inter-pixel relation network, boundary branch only (Ahn et al., CVPR 2019, Sec. 3.2).

:class:`BoundaryHead` turns every backbone level into ``channels`` maps (1x1 conv, GroupNorm,
ReLU), resizes them to the stride-4 grid, concatenates them and predicts one boundary logit
per grid pixel. :class:`AffinityNet` (an mmengine ``BaseModel``, trained by the Runner like
the stage-1 classifier) holds a backbone that stays frozen (eval mode, no gradient; after
jiwoon-ahn/irn ``net/resnet50_irn.py`` L111-115 and L139-141) and the head; its loss is IRN's
affinity loss on the pixel pairs of the seed labels (:mod:`.affinity`). IRN's displacement
branch (instance segmentation) is not built.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel, BaseModule
from mmengine.structures import PixelData
from torch import Tensor, nn

from wsss_toolbox.registry import MODELS
from wsss_toolbox.structures import WSSSDataSample
from wsss_toolbox.utils import check_choice

from .affinity import (
    PAIR_SOURCES,
    PATH_RULES,
    SEED_SAMPLINGS,
    affinity_labels,
    affinity_loss,
    boundary_to_affinity,
    strided_seeds,
)

DEFAULT_DATA_PREPROCESSOR = dict(
    type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True, pad_size_divisor=16)


def grid_size(height: int, width: int, stride: int) -> Tuple[int, int]:
    """The boundary grid of an (height, width) input: ceil(H / stride) x ceil(W / stride)."""
    return -(-height // stride), -(-width // stride)


@MODELS.register_module()
class BoundaryHead(BaseModule):
    """Boundary branch: per level 1x1 conv -> GroupNorm -> ReLU (``channels`` maps),
    bilinear resize to the stride grid, concatenation, 1x1 conv -> one logit.

    Args:
        in_channels: channels of each backbone level used.
        channels: maps per level (IRN: 32).
        num_groups: GroupNorm groups (IRN: 4).
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 32, num_groups: int = 4,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.levels = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, channels, 1, bias=False),
                          nn.GroupNorm(num_groups, channels), nn.ReLU(inplace=True))
            for width in in_channels)
        self.classifier = nn.Conv2d(channels * len(in_channels), 1, 1, bias=True)

    def forward(self, feats: Sequence[Tensor], size: Tuple[int, int]) -> Tensor:
        """(N, 1, *size) boundary logits from the backbone levels."""
        if len(feats) != len(self.levels):
            raise ValueError(f'BoundaryHead got {len(feats)} feature levels but was built for '
                             f'{len(self.levels)} (in_channels); set the backbone\'s '
                             'out_indices to match.')
        maps = [F.interpolate(level(feat), size=size, mode='bilinear', align_corners=False)
                for level, feat in zip(self.levels, feats)]
        return self.classifier(torch.cat(maps, dim=1))


@MODELS.register_module()
class AffinityNet(BaseModel):
    """Backbone + :class:`BoundaryHead`, trained with IRN's affinity loss.

    ``forward(inputs, data_samples, mode)``:

    * ``'loss'``: affinity loss of the pairs within ``radius`` of each sample's seed labels
      (``gt_sem_seg``, 255 = ignore), read at ``stride``;
    * ``'predict'``: data samples with ``pred_boundary`` (1, h, w) boundary probabilities on
      the stride grid of their ``img_shape``;
    * ``'tensor'``: (N, 1, h, w) boundary logits on the stride grid of the padded batch.

    Args:
        backbone: backbone config (returns a tuple of feature maps).
        head: :class:`BoundaryHead` config.
        stride: stride of the boundary grid (4, the strided maps' stride).
        radius: pair radius on the grid for training (IRN: 10).
        freeze_backbone: keep the backbone in eval mode without gradients (the authors').
        path: path rule of a pair's affinity (:mod:`.affinity`): ``'band'`` (the authors')
            or ``'line'``.
        pair_sources: source pixels of the training pairs: ``'cropped'`` (the authors') or
            ``'all'``.
        seed_sampling: which pixel of each stride cell a seed is read from:
            ``'pil_nearest'`` (4i + 2, the authors' PIL rescale) or ``'top_left'`` (4i).
        infer_pad_size: ``(h, w)`` the inference inputs (``predict`` and
            :func:`~.inference.image_boundary`) are padded to with zeros after
            normalisation, as the authors' ``EdgeDisplacement(crop_size=512)``
            (jiwoon-ahn/irn ``net/resnet50_irn.py`` L216-234) pads to their training crop;
            a side longer than it is padded to the data preprocessor's ``pad_size_divisor``
            only (the authors' code would crop it). ``None``: the divisor only (the toolbox's
            earlier reading).
        data_preprocessor: mmengine ``ImgDataPreprocessor`` config.
    """

    def __init__(self, backbone: dict, head: dict, stride: int = 4, radius: int = 10,
                 freeze_backbone: bool = True, path: str = 'band',
                 pair_sources: str = 'cropped', seed_sampling: str = 'pil_nearest',
                 infer_pad_size: Optional[Sequence[int]] = (512, 512),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = copy.deepcopy(DEFAULT_DATA_PREPROCESSOR)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.stride = int(stride)
        self.radius = int(radius)
        self.freeze_backbone = freeze_backbone
        self.path = check_choice('AffinityNet path', path, PATH_RULES)
        self.pair_sources = check_choice('AffinityNet pair_sources', pair_sources,
                                         PAIR_SOURCES)
        self.seed_sampling = check_choice('AffinityNet seed_sampling', seed_sampling,
                                          SEED_SAMPLINGS)
        if infer_pad_size is not None:
            infer_pad_size = tuple(int(side) for side in infer_pad_size)
            if len(infer_pad_size) != 2 or min(infer_pad_size) < 1:
                raise ValueError('AffinityNet infer_pad_size must be None or (height, width) '
                                 f'with positive sides, got {infer_pad_size!r}')
        self.infer_pad_size = infer_pad_size
        if freeze_backbone:
            for param in self.backbone.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'AffinityNet':
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        if self.freeze_backbone:
            with torch.no_grad():
                feats = self.backbone(inputs)
        else:
            feats = self.backbone(inputs)
        return (feats, ) if isinstance(feats, Tensor) else tuple(feats)

    def pad_for_inference(self, inputs: Tensor) -> Tensor:
        """Pad a normalised (N, 3, H, W) batch on the right and bottom to
        ``infer_pad_size`` (a longer side keeps its size) with the preprocessor's pad value."""
        if self.infer_pad_size is None:
            return inputs
        height, width = inputs.shape[-2:]
        pad_h = max(self.infer_pad_size[0] - height, 0)
        pad_w = max(self.infer_pad_size[1] - width, 0)
        if not (pad_h or pad_w):
            return inputs
        value = float(getattr(self.data_preprocessor, 'pad_value', 0))
        return F.pad(inputs, (0, pad_w, 0, pad_h), value=value)

    def boundary_logits(self, inputs: Tensor) -> Tensor:
        """(N, 1, ceil(H / stride), ceil(W / stride)) boundary logits of a batch."""
        size = grid_size(*inputs.shape[-2:], self.stride)
        return self.head(self.extract_feat(inputs), size)

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.boundary_logits(inputs)
        raise RuntimeError(f'Invalid mode "{mode}": AffinityNet supports "loss", "predict" '
                           'and "tensor".')

    def loss(self, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        logits = self.boundary_logits(inputs)
        seeds = self._batch_seeds(inputs, data_samples)
        seeds = strided_seeds(seeds, self.stride, tuple(logits.shape[-2:]),
                              self.seed_sampling)
        affinity = boundary_to_affinity(torch.sigmoid(logits), self.radius, self.path)
        return affinity_loss(affinity,
                             affinity_labels(seeds, self.radius, self.pair_sources))

    @staticmethod
    def _batch_seeds(inputs: Tensor, data_samples: list) -> Tensor:
        """The samples' seed labels padded with 255 to the batch input size: (N, H, W)."""
        height, width = inputs.shape[-2:]
        seeds = []
        for sample in data_samples:
            if 'gt_sem_seg' not in sample:
                raise ValueError(
                    f'AffinityNet: sample "{sample.metainfo.get("img_id")}" has no seed label '
                    '(gt_sem_seg); put LoadSeedLabels in the training pipeline.')
            seed = sample.gt_sem_seg.data[0]
            seed = F.pad(seed, (0, width - seed.shape[1], 0, height - seed.shape[0]),
                         value=255)
            seeds.append(seed)
        return torch.stack(seeds)

    def predict(self, inputs: Tensor, data_samples: Optional[list] = None) -> list:
        boundary = torch.sigmoid(self.boundary_logits(self.pad_for_inference(inputs)))
        if data_samples is None:
            data_samples = [WSSSDataSample() for _ in range(inputs.shape[0])]
        for sample, probs in zip(data_samples, boundary):
            height, width = sample.metainfo.get('img_shape', inputs.shape[-2:])
            grid = grid_size(height, width, self.stride)
            sample.pred_boundary = PixelData(data=probs[:, :grid[0], :grid[1]])
        return data_samples
