"""Stage-3 segmentation dataset: images + pseudo labels (training) or ground truth (val).

Masks follow the project convention: single-channel uint8 PNGs with ``0`` = background,
``k + 1`` = foreground class ``k`` and ``255`` = ignore, so the dataset has C + 1 classes
with ``'background'`` first and no label remapping.
"""
import os.path as osp
import warnings
from typing import Iterator, List, Optional, Sequence

import mmengine
import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset

from wsss_toolbox.registry import DATASETS

_SHOWN_MISSING = 5


@DATASETS.register_module()
class PseudoLabelSegDataset(BaseSegDataset):
    """mmseg ``BaseSegDataset`` whose masks come from a pseudo-label folder.

    The image list is an ``ann_file`` of image ids (VOC layout: ``JPEGImages/<id>.jpg``,
    labels ``<label folder>/<id>.png``); without ``ann_file`` every image of the image
    folder is used. ``METAINFO`` is empty, so the class names given by the config are used
    as they are: mmseg's ``get_label_map`` only remaps when the class defines its own
    classes, and pseudo-label PNGs already hold the final indices.

    Args:
        pseudo_label_dir: folder of the stage-2 pseudo labels. When given it replaces
            ``data_prefix['seg_map_path']`` and is used as written (absolute, or relative to
            the working directory like ``work_dir``), *not* joined with ``data_root``.
            Override it with ``--cfg-options train_dataloader.dataset.pseudo_label_dir=DIR``.
            Leave it ``None`` for datasets read with ground truth (validation). Images of the
            list that the folder's ``labelled_images.txt`` (written by stage 2) does not name
            are skipped with one warning: stages 1 and 2 skipped them (no positive tag).
        class_file: used when ``metainfo`` gives no ``classes``: a text file with one class
            a line (first token), as the image-label datasets' ``classes.txt`` (foreground
            classes only); ``'background'`` is put first unless the file starts with it.
            Relative to ``data_root``.
        check_files: check at start-up that every listed image and mask exists (an error
            names the missing files) instead of failing in a data-loader worker later.
        **kwargs: the arguments of mmseg's ``BaseSegDataset`` (``ann_file``, ``data_root``,
            ``data_prefix``, ``metainfo``, ``pipeline``, ``img_suffix``, ...).
    """

    METAINFO: dict = dict()

    def __init__(self,
                 *args,
                 pseudo_label_dir: Optional[str] = None,
                 class_file: Optional[str] = None,
                 check_files: bool = True,
                 **kwargs) -> None:
        self.pseudo_label_dir = pseudo_label_dir
        self.check_files = check_files
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        if class_file is not None and not metainfo.get('classes'):
            metainfo['classes'] = self._read_class_file(class_file, kwargs.get('data_root'))
        classes = metainfo.get('classes')
        if classes is None:
            raise ValueError(
                f'{type(self).__name__} needs the class names: set '
                "metainfo=dict(classes=('background', ...)) or class_file='classes.txt' "
                'in the dataset config.')
        if isinstance(classes, str) or not all(isinstance(name, str) for name in classes):
            raise TypeError(
                f"{type(self).__name__}: metainfo['classes'] must be a sequence of class "
                f'names, got {classes!r} (use class_file= to read them from a file).')
        metainfo['classes'] = tuple(classes)
        super().__init__(*args, metainfo=metainfo, **kwargs)

    @staticmethod
    def _read_class_file(class_file: str, data_root: Optional[str]) -> tuple:
        """'background' + the first token of every non-empty line of ``class_file``."""
        if data_root and not osp.isabs(class_file):
            class_file = osp.join(data_root, class_file)
        if not osp.isfile(class_file):
            raise FileNotFoundError(f'Class file {class_file} does not exist; set class_file '
                                    "(relative to data_root) or metainfo=dict(classes=...).")
        names = [line.split()[0] for line in mmengine.list_from_file(class_file)
                 if line.strip()]
        if not names:
            raise ValueError(f'Class file {class_file} lists no class.')
        if names[0] != 'background':
            names.insert(0, 'background')
        return tuple(names)

    def load_data_list(self) -> List[dict]:
        """Image/mask pairs of ``ann_file``; checks that the folders and files exist."""
        if self.pseudo_label_dir is not None:
            self.data_prefix['seg_map_path'] = self.pseudo_label_dir
        img_dir = self.data_prefix.get('img_path')
        label_dir = self.data_prefix.get('seg_map_path')
        label_kind = 'pseudo-label' if self.pseudo_label_dir is not None else 'label'

        if self.ann_file and not fileio.exists(self.ann_file, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'Image list (ann_file) {self.ann_file} does not exist; check data_root and '
                'ann_file in the dataset config.')
        if not img_dir or not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise FileNotFoundError(
                f"Image folder {img_dir!r} does not exist; check data_root and "
                "data_prefix['img_path'] in the dataset config.")
        if label_dir and not fileio.isdir(label_dir, backend_args=self.backend_args):
            hint = ('Generate the pseudo labels first (stage 2) or point '
                    'train_dataloader.dataset.pseudo_label_dir at them.'
                    if self.pseudo_label_dir is not None else
                    "Check data_root and data_prefix['seg_map_path'].")
            raise FileNotFoundError(f'The {label_kind} folder {label_dir} does not exist. '
                                    f'{hint}')

        data_list = super().load_data_list()
        if not data_list:
            raise ValueError(f'No image found: ann_file={self.ann_file!r}, '
                             f'image folder={img_dir!r}, img_suffix={self.img_suffix!r}.')
        if self.pseudo_label_dir is not None:
            data_list = self._skip_unlabelled(data_list, label_dir)
        if self.check_files:
            self._check_exist([info['img_path'] for info in data_list], 'image')
            if label_dir:
                self._check_exist([info['seg_map_path'] for info in data_list], label_kind)
        return data_list

    def prepare_data(self, idx: int):
        """The item of mmengine's ``BaseDataset`` (``pipeline(get_data_info(idx))``), whose
        mask is checked: a value that is neither a class id (``0..len(classes) - 1``) nor
        ``ignore_index`` raises ``ValueError`` naming the mask file, the ids and the number of
        classes. mmseg's ``LoadAnnotations`` and ``IoUMetric`` take such a mask silently (the
        metric drops ids >= num_classes from the ground truth but not from the prediction, a
        lower mIoU); checking here covers every pipeline (test, train, TTA) of every config
        of these datasets, on the ids the metric and the loss see (after mmseg's
        ``reduce_zero_label`` shift), for the cost of a comparison per pixel.
        """
        data_info = self.get_data_info(idx)
        path = data_info.get('seg_map_path')
        shifted = bool(data_info.get('reduce_zero_label'))
        remapped = data_info.get('label_map') is not None
        results = self.pipeline(data_info)
        if results is not None and path:
            self._check_class_ids(results, path, shifted, remapped)
        return results

    def _check_class_ids(self, results: dict, path: str, shifted: bool,
                         remapped: bool) -> None:
        # lazy: the datasets package does not load the stage-2 package
        from wsss_toolbox.pseudo_labels.label_io import class_id_message, out_of_range_ids
        num_classes = len(self.metainfo['classes'])
        for mask in _packed_masks(results):
            ids = out_of_range_ids(mask, num_classes, self.ignore_index)
            if not ids:
                continue
            note = ''
            if remapped:
                note = ' (after the label_map of the dataset)'
            elif shifted:  # LoadAnnotations: 0 -> 255, v -> v - 1: report the file's values
                note = f' (after reduce_zero_label; {", ".join(str(i + 1) for i in ids)} ' \
                       'in the file)'
            kind = 'pseudo label' if self.pseudo_label_dir is not None else 'mask'
            raise ValueError(class_id_message(path, ids, num_classes, self.ignore_index,
                                              kind, note))

    def _skip_unlabelled(self, data_list: List[dict], label_dir: str) -> List[dict]:
        """Drop the images that stage 2 did not label, with one warning.

        Stage 2 writes the ids of the images it labels to ``<label dir>/labelled_images.txt``;
        the image-label datasets of stages 1 and 2 skip images without a positive tag, so such
        an image of this list has no pseudo label, and is skipped here too. A listed image
        without its PNG is an interrupted stage 2 (an error in :meth:`_check_exist`).
        """
        # lazy: the datasets package does not load the stage-2 package
        from wsss_toolbox.pseudo_labels.label_io import (
            LABELLED_IMAGES_FILE,
            read_labelled_images,
        )
        labelled = read_labelled_images(label_dir)
        if labelled is None:  # labels from elsewhere: every listed image needs one
            return data_list
        kept, skipped = [], []
        for info in data_list:
            # the image id is the label's path inside the folder, without the suffix
            img_id = osp.relpath(info['seg_map_path'], label_dir)[:-len(self.seg_map_suffix)]
            (kept if img_id in labelled else skipped).append(info)
        if not kept:
            raise ValueError(f'None of the images of {self.ann_file or "the image folder"} is '
                             f'in {osp.join(label_dir, LABELLED_IMAGES_FILE)}: the pseudo '
                             'labels were made for another image list.')
        if skipped:
            names = [osp.basename(info['img_path']) for info in skipped]
            examples = ', '.join(names[:_SHOWN_MISSING]) + (
                ', ...' if len(names) > _SHOWN_MISSING else '')
            warnings.warn(
                f'{type(self).__name__}: skipped {len(skipped)} of {len(data_list)} images of '
                f'{self.ann_file or "the image folder"} that stage 2 did not label (not in '
                f'{osp.join(label_dir, LABELLED_IMAGES_FILE)}: images without a positive '
                f'image-level label are skipped in every stage) ({examples})', stacklevel=2)
        return kept

    def _check_exist(self, paths: Sequence[str], kind: str) -> None:
        missing = [path for path in paths
                   if not fileio.exists(path, backend_args=self.backend_args)]
        if not missing:
            return
        shown = ', '.join(missing[:_SHOWN_MISSING])
        more = f' and {len(missing) - _SHOWN_MISSING} more' if len(missing) > _SHOWN_MISSING else ''
        raise FileNotFoundError(
            f'{len(missing)} of {len(paths)} {kind} files listed by '
            f'{self.ann_file or "the image folder"} are missing: {shown}{more}. '
            + ('Re-run stage 2 on the same image list, or list only the images that have '
               'pseudo labels (the toolbox\'s stage 2 records the images it labels in '
               '<label folder>/labelled_images.txt, and images it skipped for having no '
               'positive image-level label are then skipped here too).'
               if kind == 'pseudo-label' else 'Check the dataset folder and the image list.'))


def _packed_masks(results) -> Iterator:
    """The ground-truth masks of a pipeline's output: ``gt_seg_map`` (before packing) and
    the ``gt_sem_seg`` of ``data_samples`` (one sample, or a list under test-time aug)."""
    if not isinstance(results, dict):
        return
    if results.get('gt_seg_map') is not None:
        yield results['gt_seg_map']
    samples = results.get('data_samples')
    for sample in samples if isinstance(samples, (list, tuple)) else [samples]:
        gt = getattr(sample, 'gt_sem_seg', None) if sample is not None else None
        if gt is not None and 'data' in gt:
            data = gt.data
            yield data.numpy() if hasattr(data, 'numpy') else data
