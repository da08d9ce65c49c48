"""The training dataset of MCIS: the core's :class:`ImageGroupDataset` that also takes the
wrapped dataset's settings."""
from typing import Union

from mmengine.dataset import BaseDataset

from wsss_toolbox.datasets import ImageGroupDataset
from wsss_toolbox.registry import DATASETS


@DATASETS.register_module()
class MCISPairDataset(ImageGroupDataset):
    """:class:`ImageGroupDataset` whose extra keyword arguments (``data_root``, ``pipeline``,
    ``lazy_init``, ...) go to the wrapped dataset's config.

    The pipeline runner sets ``train_dataloader.dataset.data_root``, and map inference /
    pseudo labels build ``train_dataloader.dataset`` with ``pipeline=[]`` to list the
    training images: with this wrapper those settings reach the image dataset, and
    ``get_data_info`` lists every image once, in dataset order.

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
                    f'MCISPairDataset: {sorted(dataset_overrides)} can only be set on a '
                    f'dataset config, not on a built {type(dataset).__name__}')
            dataset = dict(dataset, **dataset_overrides)
        super().__init__(dataset, group_size=group_size, seed=seed,
                         exclude_anchor=exclude_anchor)
