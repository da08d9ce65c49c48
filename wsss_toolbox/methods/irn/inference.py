"""Boundary maps of single images and the refinement of one image's map file into labels."""
from typing import Dict, Optional

import numpy as np
import torch

from wsss_toolbox.maps.io import load_maps, map_path

from .models import AffinityNet, grid_size
from .random_walk import random_walk_maps, walk_to_label


def image_boundary(model: AffinityNet, image: np.ndarray, flip: bool = True) -> torch.Tensor:
    """(h, w) boundary probabilities of an RGB uint8 (H, W, 3) image on the model's stride
    grid (h = ceil(H / stride)).

    The normalised image (and with ``flip`` its mirror) is padded to the preprocessor's
    ``pad_size_divisor`` and then to ``model.infer_pad_size`` (right and bottom, zeros after
    normalisation); the logits are cropped to the grid of the image and, with ``flip``, the
    image's and the un-mirrored mirror's averaged before the sigmoid. This follows
    jiwoon-ahn/irn ``net/resnet50_irn.py`` L216-234 (``EdgeDisplacement``, crop size 512)
    with ``infer_pad_size=(512, 512)`` (test_irn_authors_rules.py
    ``test_image_boundary_pads_to_the_crop_as_the_authors``).
    """
    bgr = torch.from_numpy(np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1)))
    views = [bgr] + ([bgr.flip(-1)] if flip else [])
    data = model.data_preprocessor(dict(inputs=views), False)
    height, width = image.shape[:2]
    grid_h, grid_w = grid_size(height, width, model.stride)
    with torch.no_grad():
        inputs = model.pad_for_inference(data['inputs'])
        logits = model.boundary_logits(inputs)[:, 0, :grid_h, :grid_w]
    if flip:
        logits = (logits[0] + logits[1].flip(-1)) / 2
    else:
        logits = logits[0]
    return torch.sigmoid(logits)


def missing_strided_maps_error(path: str, img_id: str, map_dir: str) -> ValueError:
    return ValueError(
        f'Map file "{path}" (image "{img_id}") in the map folder "{map_dir}" has no strided '
        'maps, which the IRN random walk needs: make the maps with stride=4 (the InferMaps '
        'step option `stride=4`, or tools/infer_maps.py --stride 4) and rerun.')


def load_strided_maps(map_dir: str, sample: dict, stride: int) -> Dict[str, object]:
    """The checked map record of a sample with its ``strided_maps`` at ``stride``; a file
    without them, or at another stride, is an error naming the folder and the image."""
    path = map_path(map_dir, sample['img_id'])
    record = load_maps(path, img_id=sample['img_id'], tags=sample.get('gt_label'))
    if 'strided_maps' not in record:
        raise missing_strided_maps_error(path, sample['img_id'], map_dir)
    if record['stride'] != stride:
        raise ValueError(
            f'Map file "{path}" (image "{sample["img_id"]}") holds strided maps at stride '
            f'{record["stride"]}, but the affinity network predicts boundaries at stride '
            f'{stride}; make the maps with stride={stride}.')
    return record


def refine_sample(model: AffinityNet, sample: dict, map_dir: str, image: np.ndarray,
                  beta: float = 10.0, exp_times: int = 8, radius: int = 5,
                  bg_threshold: float = 0.25, power: str = 'steps', flip: bool = True,
                  device: Optional[torch.device] = None,
                  path: str = 'band') -> Dict[str, object]:
    """Random-walk label of one image from its map file and the model's boundary map
    (``path``: the path rule of the walk's affinities, :mod:`.affinity`).

    Returns dict with ``label`` (uint8 (H, W)), ``boundary`` ((h, w) float32 array) and
    ``walked`` ((K, h, w) float32 array), ``classes``.
    """
    record = load_strided_maps(map_dir, sample, model.stride)
    height, width = record['maps'].shape[1:]
    if image.shape[:2] != (height, width):
        raise ValueError(f'Image "{sample["img_path"]}" is {image.shape[0]}x{image.shape[1]} '
                         f'but its map file in "{map_dir}" is {height}x{width}.')
    boundary = image_boundary(model, image, flip)
    strided = torch.from_numpy(record['strided_maps']).to(boundary.device)
    walked = random_walk_maps(strided, boundary, beta, exp_times, radius, power, path)
    label = walk_to_label(walked, record['classes'], (height, width), model.stride,
                          bg_threshold)
    return dict(label=label, boundary=boundary.cpu().numpy(), walked=walked.cpu().numpy(),
                classes=record['classes'])
