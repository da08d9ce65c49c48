"""Sample lists for the stage-2 tools: plain dicts with ``img_id``, ``img_path`` and optional
``seg_map_path`` / ``saliency_path`` (the dataset items of design.md), built either from a
dataset config or from folders. The package functions only take such dicts, so they do not
depend on any dataset class.
"""
import copy
import inspect
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import Config, DictAction
from mmseg.utils import register_all_modules

from wsss_toolbox.engine.config import load_config
from wsss_toolbox.registry import DATASETS

DEFAULT_DATASET_KEYS = ('dataset', 'train_dataloader.dataset', 'val_dataloader.dataset',
                        'test_dataloader.dataset')


def _lookup(cfg: Config, dotted_key: str):
    node = cfg  # a Config (not a dict subclass) or a ConfigDict / dict
    for part in dotted_key.split('.'):
        if not hasattr(node, 'get'):
            return None
        node = node.get(part)
    return node


def dataset_cfg_from_config(cfg: Config, key: Optional[str] = None,
                            config_path: str = '<config>') -> dict:
    """The dataset config dict found under ``key`` (dotted) or the first of
    ``dataset``, ``train_dataloader.dataset``, ``val_dataloader.dataset``,
    ``test_dataloader.dataset``."""
    keys = [key] if key else DEFAULT_DATASET_KEYS
    for candidate in keys:
        found = _lookup(cfg, candidate)
        if isinstance(found, dict):
            return copy.deepcopy(dict(found))
    raise KeyError(f'No dataset config under {list(keys)} in {config_path}; add a `dataset` '
                   'entry or pass the key that holds it.')


def _wrapped_dataset_cfg(wrapper_cfg: dict) -> dict:
    """The config of the dataset a wrapper config (``dataset=...``) wraps, with the settings
    the wrapper would hand on to it: a wrapper class that takes ``**kwargs`` (e.g.
    ``ImageGroupDataset``) sets every key it does not name itself on the wrapped config."""
    inner = dict(wrapper_cfg['dataset'])
    wrapper = wrapper_cfg.get('type')
    wrapper = DATASETS.get(wrapper) if isinstance(wrapper, str) else wrapper
    if wrapper is None:
        return inner
    parameters = inspect.signature(wrapper.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        inner.update({key: value for key, value in wrapper_cfg.items()
                      if key != 'type' and key not in parameters})
    return inner


def samples_from_dataset_cfg(dataset_cfg: dict) -> tuple:
    """Build the dataset (without its pipeline) and return ``(samples, metainfo)``.

    A wrapper of one dataset (a ``dataset=`` config, e.g. ``ImageGroupDataset`` of the
    cross-image methods) lists the images of the dataset it wraps, each once, in its order,
    with the settings the wrapper hands on to it (``data_root`` ...).
    ``img_id`` is derived from the image file name for datasets (e.g. mmseg's) whose items
    lack it.
    """
    try:
        import wsss_toolbox.datasets  # noqa: F401  (registers our dataset classes)
    except ImportError:
        pass
    register_all_modules(init_default_scope=False)
    dataset_cfg = copy.deepcopy(dict(dataset_cfg))
    while isinstance(dataset_cfg.get('dataset'), dict):  # a wrapper: the images it wraps
        dataset_cfg = _wrapped_dataset_cfg(dataset_cfg)
    dataset_cfg['pipeline'] = []
    dataset_cfg['lazy_init'] = False
    dataset = DATASETS.build(dataset_cfg)
    samples = []
    for index in range(len(dataset)):
        item = dict(dataset.get_data_info(index))
        item.setdefault('img_id', osp.splitext(osp.basename(item['img_path']))[0])
        samples.append(item)
    return samples, dict(dataset.metainfo)


def samples_from_folders(img_dir: str, ann_file: Optional[str] = None,
                         seg_dir: Optional[str] = None, saliency_dir: Optional[str] = None,
                         img_suffix: str = '.jpg', seg_suffix: str = '.png',
                         saliency_suffix: str = '.png') -> List[dict]:
    """Samples from folders: ids are the first token of each line of ``ann_file``, or every
    file in ``img_dir`` ending with ``img_suffix``."""
    if ann_file is not None:
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'Annotation (id list) file "{ann_file}" does not exist.')
        with open(ann_file) as f:
            ids = [line.split()[0] for line in f if line.strip()]
    else:
        if not osp.isdir(img_dir):
            raise FileNotFoundError(f'Image folder "{img_dir}" does not exist.')
        ids = sorted(name[:-len(img_suffix)] for name in os.listdir(img_dir)
                     if name.endswith(img_suffix))
    samples = []
    for img_id in ids:
        samples.append(dict(
            img_id=img_id, img_path=osp.join(img_dir, img_id + img_suffix),
            seg_map_path=osp.join(seg_dir, img_id + seg_suffix) if seg_dir else None,
            saliency_path=(osp.join(saliency_dir, img_id + saliency_suffix)
                           if saliency_dir else None)))
    return samples


def mask_class_names(classes: Sequence[str]) -> List[str]:
    """Class names of the masks: ``'background'`` first, then the foreground classes
    (an mmseg-style list that already starts with background is kept as is)."""
    classes = list(classes)
    if classes and str(classes[0]).lower() in ('background', 'bg', 'bkg', '_background_'):
        return classes
    return ['background'] + classes


def add_sample_source_args(parser) -> None:
    """Add the options that say where the samples come from to an ``argparse`` parser:
    ``--config`` (+ ``--dataset-key``) or ``--img-dir`` / ``--ann-file`` / ``--seg-dir`` /
    ``--saliency-dir`` (+ suffixes), and ``--class-names`` / ``--num-classes``."""
    group = parser.add_argument_group('samples (a dataset config, or folders)')
    group.add_argument('--config', help='config file holding a dataset config')
    group.add_argument('--dataset-key', help='dotted key of the dataset config in --config '
                       f'(default: first of {", ".join(DEFAULT_DATASET_KEYS)})')
    group.add_argument('--cfg-options', nargs='+', action=DictAction,
                       help='override settings of --config, key=value pairs such as '
                       'train_dataloader.dataset.data_root=data/other')
    group.add_argument('--img-dir', help='image folder (instead of --config)')
    group.add_argument('--ann-file', help='text file with one image id per line')
    group.add_argument('--seg-dir', help='ground-truth mask folder')
    group.add_argument('--saliency-dir', help='saliency map folder')
    # suffix defaults are applied in samples_from_args, so that a suffix given with --config
    # (where it would not be read) can be told from the default
    group.add_argument('--img-suffix', help='image file suffix (default: .jpg)')
    group.add_argument('--seg-suffix', help='mask file suffix (default: .png)')
    group.add_argument('--saliency-suffix', help='saliency file suffix (default: .png)')
    group.add_argument('--class-names', nargs='+',
                       help='mask class names, background first (default: the dataset\'s)')
    group.add_argument('--num-classes', type=int,
                       help='number of mask classes, background included (e.g. 21 for VOC)')


FOLDER_OPTIONS = ('img_dir', 'ann_file', 'seg_dir', 'saliency_dir', 'img_suffix', 'seg_suffix',
                  'saliency_suffix')
CONFIG_OPTIONS = ('dataset_key', 'cfg_options')


def _given(args, names: Sequence[str]) -> List[str]:
    return ['--' + name.replace('_', '-') for name in names
            if getattr(args, name, None) is not None]


def check_sample_source_args(args) -> None:
    """Refuse options of the sample source that is not used (they would be ignored): folder
    options with ``--config``, ``--dataset-key`` / ``--cfg-options`` without it."""
    if getattr(args, 'config', None):
        ignored = _given(args, FOLDER_OPTIONS)
        if ignored:
            raise ValueError(f'--config {args.config} and {" / ".join(ignored)} are both given: '
                             f'the samples would come from the config\'s dataset and '
                             f'{" / ".join(ignored)} would be ignored; give one source (to '
                             f'change the config\'s folders use --cfg-options).')
    else:
        ignored = _given(args, CONFIG_OPTIONS)
        if ignored:
            raise ValueError(f'{" / ".join(ignored)} only apply to --config, which is not '
                             'given.')


def samples_from_args(args) -> tuple:
    """``(samples, mask_class_names)`` from the options of :func:`add_sample_source_args`.

    Raises:
        ValueError: options of both sources are given (see :func:`check_sample_source_args`).
    """
    check_sample_source_args(args)
    metainfo = {}
    if args.config:
        cfg = load_config(args.config)
        if getattr(args, 'cfg_options', None):
            cfg.merge_from_dict(args.cfg_options)
        dataset_cfg = dataset_cfg_from_config(cfg, args.dataset_key, args.config)
        samples, metainfo = samples_from_dataset_cfg(dataset_cfg)
    elif args.img_dir:
        samples = samples_from_folders(args.img_dir, args.ann_file, args.seg_dir,
                                       args.saliency_dir, args.img_suffix or '.jpg',
                                       args.seg_suffix or '.png',
                                       args.saliency_suffix or '.png')
    else:
        raise ValueError('Give either --config (with a dataset) or --img-dir.')
    if args.class_names:
        class_names = list(args.class_names)
    elif metainfo.get('classes'):
        class_names = mask_class_names(metainfo['classes'])
    elif args.num_classes:
        class_names = ['background'] + [f'class{index}' for index in
                                        range(args.num_classes - 1)]
    else:
        raise ValueError('Unknown classes: pass --class-names or --num-classes (background '
                         'included), or use a dataset config whose metainfo has `classes`.')
    if args.num_classes and args.num_classes != len(class_names):
        raise ValueError(f'--num-classes {args.num_classes} but {len(class_names)} class '
                         f'names ({class_names}).')
    return samples, class_names


def json_path_next_to(folder: str, suffix: str) -> str:
    """``<parent>/<folder name><suffix>``: a file beside ``folder`` (e.g. ``labels_eval.json``)."""
    folder = osp.abspath(folder.rstrip('/\\'))
    return osp.join(osp.dirname(folder), osp.basename(folder) + suffix)
