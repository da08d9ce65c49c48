"""Tiny stage-2 inputs written on the fly: images, GT masks, saliency PNGs and map files."""
import os.path as osp

import mmcv
import numpy as np

from wsss_toolbox.maps import map_path, save_maps


def write_stage2_data(root: str, num_images: int = 6, height: int = 24, width: int = 32,
                      num_classes: int = 3, seed: int = 0) -> list:
    """Return sample dicts (``img_id``, ``img_path``, ``seg_map_path``, ``saliency_path``);
    map files go to ``<root>/maps``."""
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(num_images):
        img_id = f'img{index:02d}'
        image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
        gt = np.zeros((height, width), np.uint8)
        classes = rng.choice(num_classes, size=1 + index % 2, replace=False)
        maps = []
        for slot, cls in enumerate(classes):
            top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
            region = np.zeros((height, width), bool)
            region[top:top + height // 2, left + slot:left + slot + width // 3] = True
            gt[region] = cls + 1
            image[region] = 200 - 60 * cls
            noise = rng.normal(0, 0.15, (height, width))
            maps.append(np.clip(region * 0.8 + 0.1 + noise, 0, 1))
        gt[0, 0] = 255
        saliency = np.where(gt > 0, 230, 10).astype(np.uint8)
        sample = dict(img_id=img_id, img_path=osp.join(root, 'images', f'{img_id}.jpg'),
                      seg_map_path=osp.join(root, 'gt', f'{img_id}.png'),
                      saliency_path=osp.join(root, 'saliency', f'{img_id}.png'))
        mmcv.imwrite(image[..., ::-1], sample['img_path'])  # stored as BGR by mmcv
        mmcv.imwrite(gt, sample['seg_map_path'])
        mmcv.imwrite(saliency, sample['saliency_path'])
        save_maps(map_path(osp.join(root, 'maps'), img_id), img_id, classes.astype(np.int64),
                  np.stack(maps))
        samples.append(sample)
    return samples
