"""Painting through mmseg's visualizer: label masks in the dataset's palette, and stage-1
predictions (image + the localization map of each of the image's classes).

* :func:`mask_meta` -- the classes and palette of the masks of a dataset (background first):
  the dataset's own palette (``metainfo['palette']``), else that of the mmseg dataset with
  the same classes (VOC, ...), else the palette mmseg generates for a dataset without one.
* :class:`MapLocalVisualizer` -- mmseg's ``SegLocalVisualizer`` for ``WSSSDataSample``:
  what ``tools/test.py CONFIG CKPT --show-dir DIR`` paints for a stage-1 classifier.
"""
import functools
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import numpy as np
import torch
from mmengine.dist import master_only
from mmengine.structures import PixelData
from mmseg.datasets import BaseSegDataset
from mmseg.utils import get_classes, get_palette
from mmseg.utils.class_names import dataset_aliases
from mmseg.visualization import SegLocalVisualizer

from wsss_toolbox.datasets.transforms.geometry import restore_geometry
from wsss_toolbox.registry import VISUALIZERS

BACKGROUND = 'background'
IGNORE_INDEX = 255
#: colour of ignored (255) mask pixels in painted masks
IGNORE_COLOUR = (255, 255, 255)
#: colour of the background class in generated palettes (mmseg's random first colour, often
#: a saturated green, read as a class and washed the image out)
BACKGROUND_COLOUR = (0, 0, 0)


def legend_entries(masks: Sequence[np.ndarray], meta: Dict[str, list]) -> List[tuple]:
    """``[(class name, RGB colour)]`` of the mask values present in ``masks`` (painted with
    ``meta``, a :func:`mask_meta`), in class order; ``'ignore'`` (white) last when a mask
    has ignored pixels. Values without a class are named by their number."""
    present = set()
    for mask in masks:
        present.update(int(value) for value in np.unique(np.asarray(mask)))
    entries = []
    for value in sorted(present - {IGNORE_INDEX}):
        if value < len(meta['classes']):
            entries.append((meta['classes'][value], tuple(meta['palette'][value])))
        else:
            entries.append((str(value), (0, 0, 0)))
    if IGNORE_INDEX in present:
        entries.append(('ignore', IGNORE_COLOUR))
    return entries


def mask_classes(classes: Sequence[str]) -> tuple:
    """Class names of the masks (0 = background, ``k + 1`` = class ``k``): ``classes`` with
    ``'background'`` put first unless it already is (image-label datasets list foreground
    classes only; mmseg datasets start with background), as ``PseudoLabelSegDataset``."""
    classes = tuple(classes)
    return classes if classes and classes[0] == BACKGROUND else (BACKGROUND, ) + classes


@functools.lru_cache(maxsize=32)
def _known_dataset_palette(classes: Tuple[str, ...]) -> Optional[tuple]:
    """The palette of the mmseg dataset whose class list is ``classes`` (e.g. VOC)."""
    for name in dataset_aliases:
        if tuple(get_classes(name)) == classes:
            return tuple(tuple(colour) for colour in get_palette(name))
    return None


@functools.lru_cache(maxsize=32)
def _generated_palette(classes: Tuple[str, ...]) -> tuple:
    """The palette mmseg gives a dataset whose metainfo has none (``BaseSegDataset``), with
    black for the background class."""
    dataset = BaseSegDataset(metainfo=dict(classes=classes), lazy_init=True)
    palette = [tuple(colour) for colour in dataset.metainfo['palette']]
    if classes and classes[0] == BACKGROUND:
        palette[0] = BACKGROUND_COLOUR
    return tuple(palette)


def mask_meta(dataset_meta: Optional[dict] = None, num_classes: Optional[int] = None,
              palette: Optional[Sequence[Sequence[int]]] = None) -> Dict[str, list]:
    """``dict(classes, palette)`` for painting masks (0 = background, 255 = ignore).

    Args:
        dataset_meta: a dataset's ``metainfo``: ``classes`` (foreground only, or background
            first) and optionally ``palette``.
        num_classes: classes in the masks, background included, when no class names are
            known (they become ``'background', '1', '2', ...``).
        palette: RGB colours of the mask classes; overrides everything else.

    The palette is, in order: ``palette``; ``dataset_meta['palette']`` when it has one
    colour per mask class; the palette of the mmseg dataset with exactly these classes
    (``mmseg.utils.get_palette``: VOC's for VOC); the one mmseg's ``BaseSegDataset``
    generates for a dataset without a palette (fixed seed, so a stage-3 dataset of the same
    classes paints its foreground alike), with a black background (as VOC's).
    """
    dataset_meta = dict(dataset_meta or {})
    if dataset_meta.get('classes'):
        classes = mask_classes(dataset_meta['classes'])
    elif num_classes is not None:
        classes = (BACKGROUND, ) + tuple(str(index) for index in range(1, num_classes))
    else:
        raise ValueError('mask_meta needs dataset_meta with classes or num_classes.')
    if num_classes is not None and num_classes != len(classes):
        raise ValueError(f'num_classes={num_classes} but the dataset has {len(classes)} '
                         f'classes with background: {classes}')
    if palette is None:
        own = dataset_meta.get('palette')
        if own is not None and len(own) == len(classes):
            palette = own
        else:
            palette = _known_dataset_palette(classes) or _generated_palette(classes)
    if len(palette) != len(classes):
        raise ValueError(f'{len(palette)} palette colours for {len(classes)} classes')
    return dict(classes=list(classes), palette=[[int(v) for v in colour] for colour in palette])


@VISUALIZERS.register_module()
class MapLocalVisualizer(SegLocalVisualizer):
    """mmseg's ``SegLocalVisualizer`` for stage-1 classifiers (``WSSSDataSample``).

    :meth:`add_datasample` paints one image as panels side by side: the image, its ground-truth
    mask over it (when the sample has ``gt_sem_seg``), then, for each class of the image, its
    localization map (``pred_maps``) as a heat map over the image, titled with the class name
    (and score). The image's classes are its labels (``gt_label``) or, for an unlabelled
    sample, the classes scored ``>= score_thr`` (at least the best one). Maps and mask are
    brought back to the original image (``restore_geometry``) first.

    With ``vis_backends=[dict(type='LocalVisBackend')]`` and a ``save_dir`` (what
    ``tools/test.py --show-dir DIR`` sets) each painted image is saved as
    ``DIR/vis_data/vis_image/<name>_<step>.png``.

    Args:
        alpha: opacity of the heat maps and the mask over the image.
        score_thr: class-score threshold for samples without labels.
        max_classes: at most this many maps per image (the highest scored first).
        The others as mmengine's ``Visualizer`` (``name``, ``image``, ``vis_backends``,
        ``save_dir``, ...).

    ``dataset_meta`` is the dataset's metainfo (foreground ``classes``; the runner sets it
    from the test dataset); the mask panel uses :func:`mask_meta` of it.
    """

    def __init__(self, name: str = 'visualizer', image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None, save_dir: Optional[str] = None,
                 alpha: float = 0.5, score_thr: float = 0.5, max_classes: int = 8,
                 **kwargs) -> None:
        super().__init__(name, image, vis_backends, save_dir, alpha=alpha, **kwargs)
        self.score_thr = score_thr
        self.max_classes = max_classes
        self.dataset_meta: dict = {}  # not mmseg's default (Cityscapes) classes

    def draw_mask(self, mask: np.ndarray, image: Optional[np.ndarray] = None,
                  dataset_meta: Optional[dict] = None, num_classes: Optional[int] = None,
                  palette: Optional[Sequence[Sequence[int]]] = None,
                  alpha: Optional[float] = None, with_labels: bool = False,
                  transparent_background: bool = True) -> np.ndarray:
        """A label mask (0 = background, 255 = ignore) painted in the palette of
        :func:`mask_meta` (``dataset_meta`` defaults to this visualizer's), over ``image`` with
        opacity ``alpha`` (default: this visualizer's; 1 = the colours alone). Ignored
        pixels are white. Over an ``image`` the background pixels keep the image's colours
        (``transparent_background``), so that only the objects are tinted; without one they
        get the background colour (black unless the palette says otherwise). Returns RGB
        uint8 HxWx3."""
        meta = mask_meta(self.dataset_meta if dataset_meta is None else dataset_meta,
                         num_classes, palette)
        mask = np.asarray(mask)
        over_image = image is not None
        if image is None:
            image = np.zeros(mask.shape + (3, ), np.uint8)
        # mmseg paints indices below len(classes) only: extend the list to 256 so that 255
        # (ignore) gets its colour, and let larger unknown indices show up too
        classes = meta['classes'] + [''] * (IGNORE_INDEX - len(meta['classes'])) + ['ignore']
        colours = meta['palette'] + [[0, 0, 0]] * (IGNORE_INDEX - len(meta['palette']))
        colours.append(list(IGNORE_COLOUR))
        sem_seg = PixelData(data=torch.from_numpy(mask.astype(np.int64)[None]))
        saved_alpha = self.alpha
        self.alpha = saved_alpha if alpha is None else alpha
        try:
            painted = self._draw_sem_seg(image, sem_seg, classes, colours, with_labels)
        finally:
            self.alpha = saved_alpha
        if over_image and transparent_background and not with_labels:
            painted = painted.copy()
            painted[mask == 0] = image[mask == 0]
        return painted

    def draw_class_map(self, image: np.ndarray, class_map, title: Optional[str] = None,
                       alpha: Optional[float] = None) -> np.ndarray:
        """One localization map (HxW, any scale: min-max normalised) as a jet heat map over
        ``image`` (RGB uint8), with ``title`` written in the corner."""
        class_map = torch.as_tensor(np.asarray(class_map, np.float32))
        panel = self.draw_featmap(class_map[None], image, channel_reduction=None, topk=0,
                                  resize_shape=image.shape[:2],
                                  alpha=self.alpha if alpha is None else alpha)
        if title:
            self.set_image(panel)
            self.draw_texts(title, np.array([1, 1]), colors='white',
                            vertical_alignments='top',
                            font_sizes=max(5, min(image.shape[:2]) // 12),
                            bboxes=dict(facecolor='black', alpha=0.6, pad=1,
                                        edgecolor='none'))
            panel = self.get_image()
        return panel

    def image_classes(self, data_sample) -> List[int]:
        """The classes whose maps are painted: the labelled ones, else those scored
        ``>= score_thr`` (at least the best), highest score first, ``max_classes`` at most."""
        scores = data_sample.get('pred_scores')
        if 'gt_label' in data_sample and bool((data_sample.gt_label > 0).any()):
            classes = torch.nonzero(data_sample.gt_label > 0).flatten().tolist()
        elif scores is not None:
            classes = torch.nonzero(scores >= self.score_thr).flatten().tolist()
            classes = classes or [int(scores.argmax())]
        else:
            classes = list(range(len(data_sample.pred_maps)))
        if scores is not None:
            classes.sort(key=lambda cls: -float(scores[cls]))
        return classes[:self.max_classes]

    def _class_name(self, cls: int) -> str:
        names = self.dataset_meta.get('classes') or ()
        if names and names[0] == BACKGROUND:
            names = names[1:]
        return names[cls] if cls < len(names) else f'class {cls}'

    @master_only
    def add_datasample(self, name: str, image: np.ndarray, data_sample=None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: Optional[str] = None, step: int = 0,
                       with_labels: bool = True) -> None:
        """Paint ``image`` (RGB) with ``data_sample`` (a ``WSSSDataSample`` after
        ``predict``) and show it, write it to ``out_file`` or hand it to the backends
        (``name``, ``step``), as ``SegLocalVisualizer.add_datasample``. ``draw_gt``: the
        mask panel; ``draw_pred``: the map panels; ``with_labels``: their class names."""
        metainfo = data_sample.metainfo if data_sample is not None else {}
        restore = 'ori_shape' in metainfo and tuple(metainfo['ori_shape'][:2]) == image.shape[:2]
        panels = [image]
        if draw_gt and data_sample is not None and 'gt_sem_seg' in data_sample:
            mask = data_sample.gt_sem_seg.data
            if restore:
                mask = restore_geometry(mask, metainfo, fill=IGNORE_INDEX, mode='nearest')
            mask = mask[0].cpu().numpy()
            if mask.shape != image.shape[:2]:
                mask = mmcv.imresize(mask.astype(np.uint8), image.shape[1::-1],
                                     interpolation='nearest')
            panels.append(self.draw_mask(mask, image))
        if draw_pred and data_sample is not None and 'pred_maps' in data_sample:
            maps = data_sample.pred_maps.detach().float().cpu()
            if restore:
                maps = restore_geometry(maps, metainfo)
            scores = data_sample.get('pred_scores')
            for cls in self.image_classes(data_sample):
                title = self._class_name(cls)
                if scores is not None:
                    title = f'{title} {float(scores[cls]):.2f}'
                panels.append(self.draw_class_map(image, maps[cls],
                                                  title if with_labels else None))
        drawn_img = np.concatenate(panels, axis=1)
        self.set_image(drawn_img)
        if show:
            self.show(drawn_img, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn_img), out_file)
        else:
            self.add_image(name, drawn_img, step)
