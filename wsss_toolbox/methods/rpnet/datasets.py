"""The training dataset of RPNet: the core's :class:`ImageGroupDataset` that also takes the
wrapped dataset's settings."""
from typing import Union

from mmengine.dataset import BaseDataset

from wsss_toolbox.datasets import ImageGroupDataset
from wsss_toolbox.registry import DATASETS


@DATASETS.register_module()
class RPNetGroupDataset(ImageGroupDataset):
    """:class:`ImageGroupDataset` whose extra keyword arguments (``data_root``, ``pipeline``,
    ``lazy_init``, ``ann_file``, ...) are set on the wrapped dataset's config.

    The toolbox treats ``train_dataloader.dataset`` as the image dataset's config (the
    pipeline runner sets its ``data_root``; map inference and pseudo labels build it with an
    empty pipeline to list the training images): with this wrapper those settings reach the
    wrapped dataset, and every image is listed once, in dataset order (``get_data_info``).

    Raises:
        TypeError: overrides given with an already built dataset.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 group_size: int = 2,
                 seed: int = 0,
                 exclude_anchor: bool = False,
                 **dataset_overrides) -> None:
        if dataset_overrides:
            if not isinstance(dataset, dict):
                raise TypeError(
                    f'RPNetGroupDataset: {sorted(dataset_overrides)} can only be set on a dataset '
                    f'config, not on a built {type(dataset).__name__}')
            dataset = dict(dataset, **dataset_overrides)
        super().__init__(dataset, group_size=group_size, seed=seed,
                         exclude_anchor=exclude_anchor)
