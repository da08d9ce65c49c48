"""Generator of the embedded synthetic WSSS benchmark (VOC layout).

It reproduces, at a size a CPU can train on, the difficulties WSSS methods are built for
(design and measured statistics: ``docs/synthetic_benchmark.md``):

* every class = an elongated **body** whose texture and colour it shares with the other classes
  of its *body family* (its shape is drawn per object; bodies without a part also appear as
  unlabelled *decoys* in the background), so the body is weakly discriminative, + a small
  **part** near one end, of a colour unique to the class (highly discriminative): a plain CAM
  classifier finds the part and misses most of the body;
* several objects and classes per image, with occlusion;
* cluttered backgrounds and a **context** texture per class (water, grass, ...) that appears
  under most of that class's objects and sometimes elsewhere, so maps can leak into it;
* **saliency** maps that are a class-agnostic, imperfect foreground estimate: blurred, objects
  or pieces of them missed, decoys and random blobs detected.

Output (``out_dir``)::

    JPEGImages/<id>.jpg           RGB images (JPEG)
    SegmentationClass/<id>.png    uint8 grayscale: 0 = background, k + 1 = class k, 255 = ignore
    Saliency/<id>.png             uint8 grayscale 0..255
    ImageSets/Segmentation/{train,val}.txt
    classes.txt                   one foreground class per line
    cls_labels.txt                "img_id class class ..." (names) for both splits
    benchmark.json                the configuration, the class specs and the statistics
    RegionKinds/<id>.png          only with write_region_kinds=True: what every pixel is
                                  (REGION_KINDS: background, context, decoy, body, part, ignore)

Every image is drawn from its own generator seeded by ``(seed, split, index)``, so the output
is byte-identical for a seed whatever the number of worker processes.

(Over 400 lines: the drawing of bodies, parts, decoys, contexts and saliency shares one
random stream per image, which a split into modules would have to thread through every call.)
"""
import colorsys
import json
import multiprocessing
import os
import os.path as osp
import shutil
from dataclasses import asdict, dataclass, fields
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

SPLITS = ('train', 'val')
IGNORE_INDEX = 255
SUMMARY_FILE = 'benchmark.json'
#: values of the optional ``RegionKinds/<id>.png`` analysis maps
REGION_KINDS = dict(background=0, context=1, decoy=2, body=3, part=4, ignore=IGNORE_INDEX)
GENERATED_ENTRIES = ('JPEGImages', 'SegmentationClass', 'Saliency', 'RegionKinds', 'ImageSets',
                     'classes.txt',
                     'cls_labels.txt', SUMMARY_FILE)

BODY_SHAPES = ('ellipse', 'box', 'diamond', 'star')
BODY_TEXTURES = ('stripes', 'checker', 'spots', 'shaded')
COLOUR_NAMES = ((0.0, 'red'), (0.08, 'orange'), (0.16, 'yellow'), (0.25, 'lime'),
                (0.33, 'green'), (0.45, 'teal'), (0.5, 'cyan'), (0.58, 'azure'), (0.66, 'blue'),
                (0.75, 'violet'), (0.83, 'magenta'), (0.92, 'pink'), (1.0, 'red'))
CONTEXTS = ('water', 'grass', 'sand', 'brick')
#: named variants: generator options applied before the caller's own. ``many-classes``: 50
#: classes, one object class per image (extra instances of that class still occur), for
#: the LID 2020 track-3 (WSOL) protocol and many-way heads (``configs/lid/README.md``)
#: ``pretrain``: the "synthetic ImageNet" the shipped backbone is pretrained on: 64 classes
#: named by what a whole body looks like (shape x texture x colour), no class part, no decoys,
#: no class-related context; one class per image as in ImageNet, one or two objects of it
#: (``configs/pretrain/README.md``)
VARIANTS = {
    'many-classes': dict(num_classes=50, class_count_probs=(1.0, )),
    'pretrain': dict(num_classes=64, classes_by='body', class_count_probs=(1.0, ),
                     extra_instance_prob=0.4, max_objects=2, decoy_rate=0.0, context_prob=0.0,
                     unrelated_context_prob=0.5),
}
#: hues of the body-defined classes (``classes_by='body'``): far from each other
BODY_CLASS_HUES = (0.05, 0.3, 0.55, 0.8, 0.175, 0.425, 0.675, 0.925)


@dataclass
class SyntheticBenchmarkConfig:
    """All knobs of the generator (sizes in fractions of the image side unless noted).

    ``classes_by``: ``'part'`` (the benchmark: a class is its part's colour on a body shared
    with other classes) or ``'body'`` (a class is the look of a whole body -- its shape,
    texture and colour -- drawn without a part: the pretraining set, whose labels are not the
    benchmark's, as ImageNet's are not VOC's).

    Difficulty knobs: ``part_size`` (smaller = CAM covers less of the object),
    ``num_body_families`` (fewer = bodies shared by more classes), ``decoy_rate`` (more =
    bodies less discriminative), ``context_prob`` / ``unrelated_context_prob`` (context
    correlation), the ``saliency_*`` knobs (saliency quality), ``max_classes_per_image``.
    """
    num_train: int = 1500
    num_val: int = 300
    image_size: int = 128
    num_classes: int = 8
    num_body_families: Optional[int] = None  # None: num_classes // 4 (4 classes per body)
    num_contexts: int = 4
    seed: int = 0
    classes_by: str = 'part'  # 'part' or 'body' (see above)
    # objects
    class_count_probs: Tuple[float, ...] = (0.5, 0.35, 0.15)  # P(1, 2, 3 classes in an image)
    extra_instance_prob: float = 0.3  # P(a second instance of a class)
    max_objects: int = 4
    object_radius: Tuple[float, float] = (0.2, 0.34)  # semi-major axis
    object_aspect: Tuple[float, float] = (0.4, 0.7)  # semi-minor / semi-major
    part_size: float = 0.42  # part radius / body semi-minor axis
    body_colour_jitter: float = 0.05  # hue jitter of a body around its family colour
    shape_per_family: bool = False  # True: a family also fixes the body shape (first design)
    min_visible_pixels: int = 12  # fewer visible pixels: the object becomes "ignore"
    # background
    context_prob: float = 0.85  # P(the context of one present class is drawn)
    context_placement_prob: float = 0.8  # P(an object of that class is placed on it)
    unrelated_context_prob: float = 0.2  # P(a context of no present class is drawn)
    decoy_rate: float = 1.5  # mean number of unlabelled part-less bodies per image
    clutter_range: Tuple[int, int] = (3, 8)
    noise_std: float = 6.0  # pixel noise (0..255 scale)
    # saliency
    saliency_blur: float = 0.02  # Gaussian sigma
    saliency_miss_prob: float = 0.1  # an object is missed entirely
    saliency_cut_prob: float = 0.3  # a piece of an object (20-50 %) is missed
    saliency_decoy_prob: float = 0.5  # a decoy body is detected
    saliency_false_blob_rate: float = 0.4  # mean number of false blobs per image
    # output
    ignore_boundary: int = 0  # width (px) of a 255 band on object boundaries, as VOC
    jpeg_quality: int = 90
    write_region_kinds: bool = False  # also write RegionKinds/<id>.png (see REGION_KINDS)

    def __post_init__(self) -> None:
        if self.num_body_families is None:
            self.num_body_families = max(1, self.num_classes // 4)

    def validate(self) -> None:
        if self.num_classes < 1 or self.num_body_families < 1 or self.num_contexts < 1:
            raise ValueError('num_classes, num_body_families and num_contexts must be >= 1')
        if self.num_body_families > self.num_classes:
            raise ValueError('num_body_families cannot exceed num_classes')
        if self.image_size < 16:
            raise ValueError('image_size must be at least 16 pixels')
        if abs(sum(self.class_count_probs) - 1) > 1e-6:
            raise ValueError('class_count_probs must sum to 1')
        if self.classes_by not in ('part', 'body'):
            raise ValueError(f"classes_by must be 'part' or 'body', got {self.classes_by!r}")
        if self.classes_by == 'body':
            most = len(BODY_SHAPES) * len(BODY_TEXTURES) * len(BODY_CLASS_HUES)
            if self.num_classes > most:
                raise ValueError(f"classes_by='body' defines at most {most} classes "
                                 f'(shapes x textures x colours), not {self.num_classes}')
            if self.decoy_rate > 0 or self.context_prob > 0:
                raise ValueError("classes_by='body' draws no decoys and no class context: "
                                 'set decoy_rate=0 and context_prob=0 (a decoy body would '
                                 'look like a labelled class)')


#: fields added after the first release, with their defaults: recorded in ``benchmark.json``
#: only when set otherwise, so the folders written before them still match their configs
LATER_FIELDS = dict(classes_by='part')


def config_record(config: SyntheticBenchmarkConfig) -> dict:
    """The config as ``benchmark.json`` records it (:data:`LATER_FIELDS` at their defaults
    left out)."""
    record = asdict(config)
    for name, default in LATER_FIELDS.items():
        if record[name] == default:
            del record[name]
    return record


# ---------------------------------------------------------------------------------- specs
def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb(hue % 1.0, min(max(saturation, 0.0), 1.0),
                              min(max(value, 0.0), 1.0))
    return np.array(rgb, dtype=np.float32) * 255


def _colour_name(hue: float) -> str:
    return min(COLOUR_NAMES, key=lambda item: abs(item[0] - hue))[1]


def class_specs(config: SyntheticBenchmarkConfig) -> List[dict]:
    """Appearance of every class: body family (shape, texture, colour), part colour, context.

    Classes ``k`` and ``k + F`` share body family ``k % F``; their contexts differ whenever
    there are enough contexts, so body + context still identify a class only weakly.
    """
    if config.classes_by == 'body':
        return _body_class_specs(config)
    specs, used = [], {}
    family_names = [spec['name'] for spec in family_specs(config)]
    for k in range(config.num_classes):
        family = k % config.num_body_families
        part_hue = k / config.num_classes
        name = f'{family_names[family]}_{_colour_name(part_hue)}'
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f'{name}{used[name]}'
        specs.append(
            dict(
                name=name,
                family=family,
                part_hue=part_hue,
                context=(k + k // config.num_body_families) % config.num_contexts))
    return specs


def _body_class_specs(config: SyntheticBenchmarkConfig) -> List[dict]:
    """Classes defined by a whole body (``classes_by='body'``): class ``k`` has shape
    ``k % 4``, texture ``k // 4 % 4`` and colour ``k // 16``, so neighbouring classes differ
    in shape only, and shape, texture and colour are each needed to tell all classes apart."""
    specs = []
    for k in range(config.num_classes):
        shape = BODY_SHAPES[k % len(BODY_SHAPES)]
        texture_index = k // len(BODY_SHAPES) % len(BODY_TEXTURES)
        hue = BODY_CLASS_HUES[k // (len(BODY_SHAPES) * len(BODY_TEXTURES))]
        specs.append(
            dict(
                name=f'{shape}_{BODY_TEXTURES[texture_index]}_{_colour_name(hue)}',
                shape=shape,
                texture=BODY_TEXTURES[texture_index],
                frequency=2.0 + (texture_index % 3) * 0.75,
                hue=hue,
                context=-1))
    return specs


def family_specs(config: SyntheticBenchmarkConfig) -> List[dict]:
    """Texture, texture frequency, colour (and, with ``shape_per_family``, shape) of every
    body family. By default the shape of a body is drawn per object, so it says nothing about
    the class, and a family is named after its texture."""
    specs = []
    for family in range(config.num_body_families):
        cycle = family // len(BODY_TEXTURES)
        texture = BODY_TEXTURES[(family + cycle) % len(BODY_TEXTURES)]
        spec = dict(
            name=texture + (f'{cycle + 1}' if cycle else ''),
            texture=texture,
            frequency=2.0 + (family % 3) * 0.75 + cycle * 0.5,
            hue=(0.1 + family * 0.37) % 1.0)
        if config.shape_per_family:
            spec['shape'] = BODY_SHAPES[family % len(BODY_SHAPES)]
            spec['name'] = spec['shape'] + (f'{cycle + 1}' if cycle else '')
        specs.append(spec)
    return specs


def context_specs(config: SyntheticBenchmarkConfig) -> List[dict]:
    """Name, colour and placement ('lower' region below a horizon or 'upper') of contexts."""
    base = dict(
        water=dict(hue=0.58, saturation=0.55, value=0.62, placement='lower'),
        grass=dict(hue=0.30, saturation=0.55, value=0.45, placement='lower'),
        sand=dict(hue=0.11, saturation=0.35, value=0.78, placement='lower'),
        brick=dict(hue=0.03, saturation=0.5, value=0.5, placement='upper'))
    specs = []
    for index in range(config.num_contexts):
        name = CONTEXTS[index % len(CONTEXTS)]
        spec = dict(base[name], name=name, kind=name)
        if index >= len(CONTEXTS):
            spec['name'] = f'{name}{index // len(CONTEXTS) + 1}'
            spec['hue'] = (spec['hue'] + 0.09 * (index // len(CONTEXTS))) % 1.0
        specs.append(spec)
    return specs


# ---------------------------------------------------------------------------------- drawing
class _Canvas:
    """Pixel grid helpers for one image size; shapes are evaluated in local windows."""

    def __init__(self, size: int) -> None:
        self.size = size
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
        self.xs, self.ys = xs, ys

    def window(self, centre: Tuple[float, float], reach: float) -> Tuple[slice, slice]:
        """The pixel window within ``reach`` pixels of ``centre`` (clipped to the image)."""
        x0, x1 = int(max(centre[0] - reach, 0)), int(min(centre[0] + reach + 1, self.size))
        y0, y1 = int(max(centre[1] - reach, 0)), int(min(centre[1] + reach + 1, self.size))
        return slice(y0, max(y1, y0)), slice(x0, max(x1, x0))

    def frame(self, window, centre: Tuple[float, float], angle: float,
              radii: Tuple[float, float]):
        """Normalised object-frame coordinates (u along the major axis) in a window."""
        dx, dy = self.xs[window] - centre[0], self.ys[window] - centre[1]
        cos, sin = np.cos(angle), np.sin(angle)
        return (dx * cos + dy * sin) / radii[0], (-dx * sin + dy * cos) / radii[1]

    def disc(self, centre: Tuple[float, float], radius: float):
        """(window, local mask) of a disc."""
        window = self.window(centre, radius + 1)
        dx, dy = self.xs[window] - centre[0], self.ys[window] - centre[1]
        return window, dx * dx + dy * dy <= radius * radius


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray, phase: float) -> np.ndarray:
    u2, v2 = u * u, v * v
    if shape == 'ellipse':
        return u2 + v2 <= 1.0
    if shape == 'box':
        return u2 * u2 + v2 * v2 <= 1.0
    if shape == 'diamond':
        return np.abs(u) + np.abs(v) + 0.35 * np.minimum(np.abs(u), np.abs(v)) <= 1.1
    radius = np.sqrt(u2 + v2)
    return radius <= 0.82 + 0.2 * np.cos(5 * np.arctan2(v, u) + phase)


def _texture(kind: str, u: np.ndarray, v: np.ndarray, frequency: float) -> np.ndarray:
    """Texture modulation in [-1, 1] in the object frame."""
    if kind == 'stripes':
        return np.sign(np.sin(np.pi * frequency * u))
    if kind == 'checker':
        return np.sign(np.sin(np.pi * frequency * u) * np.sin(np.pi * frequency * v))
    if kind == 'spots':
        return np.where(
            np.sin(np.pi * frequency * u) * np.sin(np.pi * frequency * v) > 0.45, 1.0, -0.3)
    return np.clip(0.8 * u - 0.4 * v, -1, 1)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _paint(image: np.ndarray, window, mask: np.ndarray, colour: np.ndarray,
           modulation: Optional[np.ndarray] = None, amplitude: float = 0.0) -> None:
    """Colour the pixels ``mask`` of ``image[window]`` (optionally textured)."""
    target = image[window]
    if modulation is None:
        target[mask] = colour
    else:
        target[mask] = colour + amplitude * modulation[mask][:, None]


def _dull_colour(rng: np.random.Generator) -> np.ndarray:
    return _hsv(rng.random(), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.8))


def _draw_background(rng, canvas: _Canvas) -> np.ndarray:
    size = canvas.size
    start, end = _dull_colour(rng), _dull_colour(rng)
    corners = np.array([[0.0, rng.random()], [rng.random(), 1.0]], dtype=np.float32)
    ramp = cv2.resize(corners, (size, size), interpolation=cv2.INTER_LINEAR)
    ramp += 0.25 * _smooth_noise(rng, size, 5)
    return (start + (end - start) * ramp[..., None]).astype(np.float32)


def _context_region(rng, canvas: _Canvas, placement: str) -> np.ndarray:
    size = canvas.size
    horizon = size * rng.uniform(0.35, 0.6)
    wave = size * rng.uniform(0.02, 0.06) * np.sin(
        2 * np.pi * canvas.xs / (size * rng.uniform(0.5, 1.2)) + rng.uniform(0, 2 * np.pi))
    if placement == 'lower':
        return canvas.ys >= horizon + wave
    return canvas.ys <= size - horizon + wave


def _draw_context(rng, canvas: _Canvas, image: np.ndarray, region: np.ndarray,
                  spec: dict) -> None:
    colour = _hsv(spec['hue'] + rng.uniform(-0.02, 0.02), spec['saturation'],
                  spec['value'] + rng.uniform(-0.06, 0.06))
    xs, ys, size = canvas.xs, canvas.ys, canvas.size
    kind = spec['kind']
    if kind == 'water':  # horizontal waves
        pattern = np.sin(2 * np.pi * ys / (size * 0.06) + 1.5 * np.sin(2 * np.pi * xs /
                                                                         (size * 0.3)))
        amplitude = 28.0
    elif kind == 'grass':  # vertical blades
        pattern = np.sin(2 * np.pi * xs / (size * 0.035) + 2 * _smooth_noise(rng, size, 8))
        amplitude = 30.0
    elif kind == 'sand':  # speckle
        pattern = np.clip(rng.standard_normal((size, size)).astype(np.float32), -2, 2) / 2
        amplitude = 30.0
    else:  # brick wall: rows of bricks with mortar lines
        row = np.floor(ys / (size * 0.08))
        mortar = (np.mod(ys, size * 0.08) < size * 0.015) | (np.mod(
            xs + (row % 2) * size * 0.08, size * 0.16) < size * 0.015)
        pattern = np.where(mortar, 1.5, -0.3).astype(np.float32)
        amplitude = 35.0
    _paint(image, np.s_[:, :], region, colour, pattern.astype(np.float32), amplitude)


def _draw_clutter(rng, canvas: _Canvas, image: np.ndarray, count: int) -> None:
    size = canvas.size
    for _ in range(count):
        colour = _dull_colour(rng)
        kind = rng.integers(3)
        centre = tuple(rng.uniform(0, size, 2).tolist())
        if kind == 0:  # small disc
            window, mask = canvas.disc(centre, size * rng.uniform(0.02, 0.06))
        else:  # small rectangle or thin line
            radii = ((size * rng.uniform(0.03, 0.1), size * rng.uniform(0.02, 0.05))
                     if kind == 1 else (size * rng.uniform(0.1, 0.3), size * 0.008))
            window = canvas.window(centre, max(radii) * 1.5)
            u, v = canvas.frame(window, centre, rng.uniform(0, np.pi), radii)
            mask = (np.abs(u) <= 1) & (np.abs(v) <= 1)
        _paint(image, window, mask, colour)


class _Body:
    """One body drawn on the canvas: its window, local mask, frame and geometry."""

    def __init__(self, rng, canvas: _Canvas, family: dict, config: SyntheticBenchmarkConfig,
                 centre: Tuple[float, float], scale: float = 1.0) -> None:
        size = canvas.size
        self.centre = centre
        self.major = size * rng.uniform(*config.object_radius) * scale
        self.minor = self.major * rng.uniform(*config.object_aspect)
        self.angle = rng.uniform(0, 2 * np.pi)
        self.window = canvas.window(centre, self.major * 1.1 + 1)
        self.u, self.v = canvas.frame(self.window, centre, self.angle, (self.major, self.minor))
        self.shape = family.get('shape') or BODY_SHAPES[rng.integers(len(BODY_SHAPES))]
        self.mask = _shape_mask(self.shape, self.u, self.v, rng.uniform(0, 2 * np.pi))

    def paint(self, rng, image: np.ndarray, family: dict,
              config: SyntheticBenchmarkConfig) -> None:
        colour = _hsv(family['hue'] + rng.uniform(-1, 1) * config.body_colour_jitter,
                      0.45 + rng.uniform(-0.1, 0.1), 0.6 + rng.uniform(-0.12, 0.12))
        texture = _texture(family['texture'], self.u, self.v, family['frequency'])
        _paint(image, self.window, self.mask, colour, texture, 30.0)

    def part(self, canvas: _Canvas, config: SyntheticBenchmarkConfig):
        """The part: a disc on the major axis near one end of the body (a "head"), and the
        dot at its centre, as (window, mask) pairs."""
        radius = config.part_size * self.minor
        offset = self.major - 0.9 * radius
        centre = (self.centre[0] + offset * np.cos(self.angle),
                  self.centre[1] + offset * np.sin(self.angle))
        return canvas.disc(centre, radius), canvas.disc(centre, 0.45 * radius)


def _half_plane_cut(rng, region: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` beyond a random line that removes roughly 20-50 % of it."""
    ys, xs = np.nonzero(region)
    if len(xs) == 0:
        return region
    angle = rng.uniform(0, 2 * np.pi)
    projection = xs * np.cos(angle) + ys * np.sin(angle)
    threshold = np.quantile(projection, 1 - rng.uniform(0.2, 0.5))
    cut = np.zeros_like(region)
    beyond = projection > threshold
    cut[ys[beyond], xs[beyond]] = True
    return cut


def _saliency(rng, canvas: _Canvas, instance_map: np.ndarray, decoy_map: np.ndarray,
              config: SyntheticBenchmarkConfig) -> np.ndarray:
    """A class-agnostic, imperfect foreground estimate, like a real saliency model's."""
    size = canvas.size
    saliency = np.zeros((size, size), dtype=np.float32)
    kernel = np.ones((3, 3), np.uint8)
    for instance in range(1, int(instance_map.max()) + 1):
        region = instance_map == instance
        if not region.any() or rng.random() < config.saliency_miss_prob:
            continue
        if rng.random() < config.saliency_cut_prob:
            region = region & ~_half_plane_cut(rng, region)
        morph = rng.integers(-1, 2)
        if morph:
            operation = cv2.dilate if morph > 0 else cv2.erode
            region = operation(region.astype(np.uint8), kernel, iterations=1).astype(bool)
        saliency[region] = np.maximum(saliency[region], rng.uniform(0.65, 1.0))
    for decoy in range(1, int(decoy_map.max()) + 1):
        region = decoy_map == decoy
        if region.any() and rng.random() < config.saliency_decoy_prob:
            saliency[region] = np.maximum(saliency[region], rng.uniform(0.4, 0.9))
    for _ in range(rng.poisson(config.saliency_false_blob_rate)):
        centre = tuple(rng.uniform(0, size, 2).tolist())
        radii = (size * rng.uniform(0.05, 0.14), size * rng.uniform(0.04, 0.1))
        window = canvas.window(centre, radii[0] + 1)
        u, v = canvas.frame(window, centre, rng.uniform(0, np.pi), radii)
        target = saliency[window]
        blob = u * u + v * v <= 1
        target[blob] = np.maximum(target[blob], rng.uniform(0.3, 0.8))
    sigma = max(config.saliency_blur * size, 0.1)
    saliency = cv2.GaussianBlur(saliency, (0, 0), sigma)
    saliency += 0.03 * rng.standard_normal((size, size)).astype(np.float32)
    return np.clip(np.round(saliency * 255), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------- one image
_CACHE: Dict[str, object] = {}


def _setup_worker(config_dict: dict, out_dir: str) -> None:
    config = SyntheticBenchmarkConfig(**config_dict)
    _CACHE.update(
        config=config,
        out_dir=out_dir,
        canvas=_Canvas(config.image_size),
        classes=class_specs(config),
        families=family_specs(config),
        contexts=context_specs(config))


def _render(split: str, index: int) -> dict:
    """Draw and write one image; return its id, labels and statistics."""
    config: SyntheticBenchmarkConfig = _CACHE['config']
    canvas: _Canvas = _CACHE['canvas']
    classes, families, contexts = _CACHE['classes'], _CACHE['families'], _CACHE['contexts']
    size, num_classes = config.image_size, config.num_classes
    rng = np.random.default_rng([config.seed % (2**63), SPLITS.index(split), index])

    # which classes, which context
    probs = np.asarray(config.class_count_probs[:num_classes], dtype=np.float64)
    num_present = 1 + rng.choice(len(probs), p=probs / probs.sum())
    present = sorted(rng.choice(num_classes, size=num_present, replace=False).tolist())
    context = -1
    if rng.random() < config.context_prob:
        context = classes[present[rng.integers(len(present))]]['context']
    elif rng.random() < config.unrelated_context_prob:
        related = {classes[k]['context'] for k in present}
        unrelated = [c for c in range(config.num_contexts) if c not in related]
        if unrelated:
            context = unrelated[rng.integers(len(unrelated))]

    image = _draw_background(rng, canvas)
    context_region = np.zeros((size, size), dtype=bool)
    if context >= 0:
        context_region = _context_region(rng, canvas, contexts[context]['placement'])
        _draw_context(rng, canvas, image, context_region, contexts[context])
    _draw_clutter(rng, canvas, image, int(rng.integers(config.clutter_range[0],
                                                        config.clutter_range[1] + 1)))

    def centre_for(class_index: Optional[int]):
        margin = 0.2 * size
        if (class_index is not None and context >= 0
                and classes[class_index]['context'] == context
                and rng.random() < config.context_placement_prob):
            ys, xs = np.nonzero(context_region)
            pick = rng.integers(len(xs))
            return (float(np.clip(xs[pick], margin, size - margin)),
                    float(np.clip(ys[pick], margin, size - margin)))
        return tuple(rng.uniform(margin, size - margin, 2).tolist())

    # decoys: part-less bodies, unlabelled (background), behind the objects
    decoy_map = np.zeros((size, size), dtype=np.int32)
    for decoy in range(1, rng.poisson(config.decoy_rate) + 1):
        family = families[rng.integers(len(families))]
        body = _Body(rng, canvas, family, config, centre_for(None), rng.uniform(0.7, 1.0))
        body.paint(rng, image, family, config)
        decoy_map[body.window][body.mask] = decoy

    # objects, drawn in random order (later ones occlude earlier ones)
    instances = list(present)
    for k in present:
        if rng.random() < config.extra_instance_prob:
            instances.append(k)
    instances = instances[:max(config.max_objects, len(present))]
    rng.shuffle(instances)
    label_map = np.zeros((size, size), dtype=np.uint8)
    part_map = np.zeros((size, size), dtype=bool)
    instance_map = np.zeros((size, size), dtype=np.int32)
    for number, k in enumerate(instances, start=1):
        if config.classes_by == 'body':  # the class is the body's look; no part
            body = _Body(rng, canvas, classes[k], config, centre_for(k))
            body.paint(rng, image, classes[k], config)
            label_map[body.window][body.mask] = k + 1
            instance_map[body.window][body.mask] = number
            part_map[body.window][body.mask] = False
            continue
        family = families[classes[k]['family']]
        body = _Body(rng, canvas, family, config, centre_for(k))
        body.paint(rng, image, family, config)
        (part_window, part), (dot_window, dot) = body.part(canvas, config)
        hue = classes[k]['part_hue']
        image[part_window][part] = _hsv(hue, 0.95, 0.95)
        image[dot_window][dot] = _hsv(hue + 0.5, 0.3, 0.2 if k % 2 else 0.95)
        for window, mask in ((body.window, body.mask), (part_window, part)):
            label_map[window][mask] = k + 1
            instance_map[window][mask] = number
            decoy_map[window][mask] = 0
            part_map[window][mask] = False
        part_map[part_window][part] = True

    # labels: classes with enough visible pixels; tiny remnants become "ignore"
    labels = []
    for k in present:
        visible = label_map == k + 1
        if visible.sum() >= config.min_visible_pixels:
            labels.append(k)
        else:
            label_map[visible] = IGNORE_INDEX
            part_map[visible] = False
    if config.ignore_boundary > 0:
        kernel = np.ones((2 * config.ignore_boundary + 1, ) * 2, np.uint8)
        boundary = cv2.dilate(label_map, kernel) != cv2.erode(label_map, kernel)
        label_map[boundary] = IGNORE_INDEX

    image += config.noise_std * rng.standard_normal(image.shape).astype(np.float32)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    image_bgr = cv2.cvtColor(np.clip(np.round(image), 0, 255).astype(np.uint8),
                             cv2.COLOR_RGB2BGR)
    saliency = _saliency(rng, canvas, instance_map, decoy_map, config)

    img_id = f'{split}_{index:05d}'
    out_dir = _CACHE['out_dir']
    _write(osp.join(out_dir, 'JPEGImages', img_id + '.jpg'), image_bgr,
           [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
    _write(osp.join(out_dir, 'SegmentationClass', img_id + '.png'), label_map)
    _write(osp.join(out_dir, 'Saliency', img_id + '.png'), saliency)
    if config.write_region_kinds:
        kinds = np.full((size, size), REGION_KINDS['background'], dtype=np.uint8)
        background = label_map == 0
        kinds[context_region & background] = REGION_KINDS['context']
        kinds[(decoy_map > 0) & background] = REGION_KINDS['decoy']
        kinds[(label_map > 0) & (label_map != IGNORE_INDEX)] = REGION_KINDS['body']
        kinds[part_map & (label_map != IGNORE_INDEX)] = REGION_KINDS['part']
        kinds[label_map == IGNORE_INDEX] = REGION_KINDS['ignore']
        _write(osp.join(out_dir, 'RegionKinds', img_id + '.png'), kinds)
    return dict(img_id=img_id, labels=labels,
                stats=_image_stats(label_map, part_map, saliency, context, labels, instances,
                                   decoy_map, config))


def _write(path: str, array: np.ndarray, params: Sequence[int] = ()) -> None:
    ok, encoded = cv2.imencode(osp.splitext(path)[1], array, list(params))
    if not ok:
        raise OSError(f'could not encode {path!r}')
    with open(path, 'wb') as f:
        f.write(encoded.tobytes())


def _image_stats(label_map, part_map, saliency, context, labels, instances, decoy_map,
                 config) -> dict:
    valid = label_map != IGNORE_INDEX
    foreground = (label_map > 0) & valid
    salient = saliency >= 128
    num_labels = config.num_classes + 1
    part_prediction = np.where(part_map, label_map, 0)
    part_confusion = np.bincount(
        label_map[valid].astype(np.int64) * num_labels + part_prediction[valid],
        minlength=num_labels**2)
    saliency_confusion = np.zeros(num_labels**2, dtype=np.int64)
    if len(labels) == 1:  # saliency + the (known) image label: a single-class oracle
        prediction = np.where(salient, labels[0] + 1, 0)
        saliency_confusion = np.bincount(
            label_map[valid].astype(np.int64) * num_labels + prediction[valid],
            minlength=num_labels**2)
    return dict(
        objects=len(instances),
        classes=len(labels),
        context=context,
        decoy_pixels=int((decoy_map > 0).sum()),
        object_pixels=int(foreground.sum()),
        part_pixels=int((part_map & foreground).sum()),
        pixels=int(label_map.size),
        saliency_tp=int((salient & foreground).sum()),
        saliency_fp=int((salient & ~foreground & valid).sum()),
        saliency_fn=int((~salient & foreground).sum()),
        part_confusion=part_confusion,
        saliency_confusion=saliency_confusion)


# ---------------------------------------------------------------------------------- summary
def _miou(confusion: np.ndarray) -> float:
    size = int(round(np.sqrt(confusion.size)))
    matrix = confusion.reshape(size, size).astype(np.float64)
    true_positive = np.diag(matrix)
    union = matrix.sum(0) + matrix.sum(1) - true_positive
    present = union > 0
    return float((true_positive[present] / union[present]).mean()) if present.any() else 0.0


def summarise(results: List[dict], specs: List[dict], num_contexts: int) -> dict:
    """Dataset-level difficulty statistics of one split (see the docs for their meaning)."""
    stats = [result['stats'] for result in results]
    num_classes = len(specs)
    total = {key: sum(s[key] for s in stats)
             for key in ('object_pixels', 'part_pixels', 'pixels', 'saliency_tp',
                         'saliency_fp', 'saliency_fn', 'decoy_pixels')}
    tp, fp, fn = total['saliency_tp'], total['saliency_fp'], total['saliency_fn']
    present = np.zeros((len(results), num_classes), dtype=bool)
    for row, result in enumerate(results):
        present[row, result['labels']] = True
    contexts = np.array([s['context'] for s in stats])
    with_context, without_context = [], []
    for k, spec in enumerate(specs):
        has_context = contexts == spec['context']
        if present[:, k].any():
            with_context.append(float(has_context[present[:, k]].mean()))
        if (~present[:, k]).any():
            without_context.append(float(has_context[~present[:, k]].mean()))
    single = np.array([s['classes'] == 1 for s in stats])
    return dict(
        images=len(results),
        objects_per_image=float(np.mean([s['objects'] for s in stats])),
        classes_per_image=float(np.mean([s['classes'] for s in stats])),
        multi_class_image_fraction=float(np.mean([s['classes'] > 1 for s in stats])),
        images_per_class=present.sum(0).tolist(),
        foreground_fraction=total['object_pixels'] / max(total['pixels'], 1),
        part_fraction_of_object=total['part_pixels'] / max(total['object_pixels'], 1),
        decoy_fraction=total['decoy_pixels'] / max(total['pixels'], 1),
        context_given_class=float(np.mean(with_context)) if with_context else 0.0,
        context_given_no_class=float(np.mean(without_context)) if without_context else 0.0,
        images_with_context=float(np.mean(contexts >= 0)),
        saliency_precision=tp / max(tp + fp, 1),
        saliency_recall=tp / max(tp + fn, 1),
        saliency_iou=tp / max(tp + fp + fn, 1),
        part_only_miou=_miou(sum(s['part_confusion'] for s in stats)),
        saliency_oracle_miou_single_class=_miou(
            sum(s['saliency_confusion'] for s in stats)) if single.any() else None,
        single_class_images=int(single.sum()))


def _prepare_out_dir(out_dir: str, region_kinds: bool) -> None:
    if osp.isdir(out_dir) and os.listdir(out_dir):
        if not osp.isfile(osp.join(out_dir, SUMMARY_FILE)):
            raise FileExistsError(
                f'{out_dir!r} is not empty and holds no {SUMMARY_FILE} of an earlier '
                'benchmark; choose an empty or new folder')
        for entry in GENERATED_ENTRIES:  # regenerate from scratch: no stale images
            path = osp.join(out_dir, entry)
            if osp.isdir(path):
                shutil.rmtree(path)
            elif osp.isfile(path):
                os.remove(path)
    for folder in ('JPEGImages', 'SegmentationClass', 'Saliency',
                   osp.join('ImageSets', 'Segmentation')):
        os.makedirs(osp.join(out_dir, folder), exist_ok=True)
    if region_kinds:
        os.makedirs(osp.join(out_dir, 'RegionKinds'), exist_ok=True)


def resolve_benchmark_config(num_train: int = 1500, num_val: int = 300, image_size: int = 128,
                             num_classes: Optional[int] = None, seed: int = 0,
                             variant: Optional[str] = None,
                             **options) -> SyntheticBenchmarkConfig:
    """The validated generator config of :func:`generate_synthetic_benchmark`'s options (a
    variant's presets and the defaults applied): what ``benchmark.json`` records as
    ``config``."""
    unknown = set(options) - {f.name for f in fields(SyntheticBenchmarkConfig)}
    if unknown:
        raise TypeError(f'unknown generator option(s): {sorted(unknown)}')
    if variant is not None:
        if variant not in VARIANTS:
            raise ValueError(f'unknown benchmark variant {variant!r}; choose one of '
                             f'{sorted(VARIANTS)} or None')
        preset = dict(VARIANTS[variant])
        if num_classes is None:
            num_classes = preset.pop('num_classes', None)
        preset.pop('num_classes', None)
        options = dict(preset, **options)
    num_classes = 8 if num_classes is None else num_classes
    config = SyntheticBenchmarkConfig(num_train=num_train, num_val=num_val,
                                      image_size=image_size, num_classes=num_classes,
                                      seed=seed, **options)
    config.validate()
    return config


def generate_synthetic_benchmark(out_dir: str,
                                 num_train: int = 1500,
                                 num_val: int = 300,
                                 image_size: int = 128,
                                 num_classes: Optional[int] = None,
                                 seed: int = 0,
                                 num_workers: int = 1,
                                 show_progress: bool = False,
                                 variant: Optional[str] = None,
                                 **options) -> dict:
    """Write the synthetic WSSS benchmark into ``out_dir`` (VOC layout) and return a summary.

    Args:
        out_dir: output folder; created, or regenerated when it holds an earlier benchmark.
        num_train / num_val: images per split.
        image_size: side of the square images in pixels.
        num_classes: foreground classes (default 8, or the variant's).
        seed: everything is a function of it (byte-identical output).
        num_workers: worker processes (the output does not depend on it).
        show_progress: show a progress bar.
        variant: None (the default benchmark) or a name of :data:`VARIANTS`, whose options
            apply unless given explicitly (``benchmark.json`` records the resolved config).
        **options: any other field of :class:`SyntheticBenchmarkConfig`.

    Returns:
        dict with ``config``, ``classes`` (names), ``class_specs``, ``family_specs``,
        ``context_specs`` and per-split ``stats`` (also written to ``benchmark.json``).
    """
    config = resolve_benchmark_config(num_train, num_val, image_size, num_classes, seed,
                                      variant, **options)
    _prepare_out_dir(out_dir, config.write_region_kinds)
    config_dict = config_record(config)
    tasks = [(split, index) for split, count in zip(SPLITS, (num_train, num_val))
             for index in range(count)]
    progress = _Progress(len(tasks)) if show_progress else None
    results = []
    if num_workers > 1:
        context = multiprocessing.get_context('fork' if os.name == 'posix' else 'spawn')
        with context.Pool(num_workers, initializer=_setup_worker,
                          initargs=(config_dict, out_dir)) as pool:
            for result in pool.imap(_render_task, tasks, chunksize=16):
                results.append(result)
                if progress is not None:
                    progress.step()
    else:
        _setup_worker(config_dict, out_dir)
        for task in tasks:
            results.append(_render_task(task))
            if progress is not None:
                progress.step()

    specs = class_specs(config)
    names = [spec['name'] for spec in specs]
    by_split = {split: [r for r, t in zip(results, tasks) if t[0] == split] for split in SPLITS}
    for split in SPLITS:
        with open(osp.join(out_dir, 'ImageSets', 'Segmentation', f'{split}.txt'), 'w') as f:
            f.writelines(f'{result["img_id"]}\n' for result in by_split[split])
    with open(osp.join(out_dir, 'classes.txt'), 'w') as f:
        f.writelines(f'{name}\n' for name in names)
    with open(osp.join(out_dir, 'cls_labels.txt'), 'w') as f:
        for result in results:
            f.write(' '.join([result['img_id']] + [names[k] for k in result['labels']]) + '\n')
    summary = dict(
        config=config_dict,
        classes=names,
        class_specs=specs,
        family_specs=family_specs(config),
        context_specs=context_specs(config),
        stats={split: summarise(by_split[split], specs, config.num_contexts)
               for split in SPLITS if by_split[split]})
    with open(osp.join(out_dir, SUMMARY_FILE), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


class _Progress:
    """mmengine's progress bar, redrawn about 50 times in all (quiet in log files)."""

    def __init__(self, total: int) -> None:
        from mmengine.utils import ProgressBar  # lazy: the generator needs only numpy + cv2
        self.bar = ProgressBar(total)
        self.every = max(total // 50, 1)
        self.total, self.pending, self.done = total, 0, 0

    def step(self) -> None:
        self.pending += 1
        self.done += 1
        if self.pending >= self.every or self.done == self.total:
            self.bar.update(self.pending)
            self.pending = 0


def _render_task(task: Tuple[str, int]) -> dict:
    return _render(*task)


def format_summary(summary: dict) -> str:
    """A plain-text table of the per-split statistics of a generator summary."""
    rows = [
        ('images', 'images', '{:d}'),
        ('objects / image', 'objects_per_image', '{:.2f}'),
        ('classes / image', 'classes_per_image', '{:.2f}'),
        ('images with >1 class', 'multi_class_image_fraction', '{:.1%}'),
        ('foreground pixels', 'foreground_fraction', '{:.1%}'),
        ('part pixels / object pixels', 'part_fraction_of_object', '{:.1%}'),
        ('decoy-body pixels', 'decoy_fraction', '{:.1%}'),
        ('P(class context | class)', 'context_given_class', '{:.1%}'),
        ('P(class context | no class)', 'context_given_no_class', '{:.1%}'),
        ('saliency precision @0.5', 'saliency_precision', '{:.1%}'),
        ('saliency recall @0.5', 'saliency_recall', '{:.1%}'),
        ('saliency IoU @0.5', 'saliency_iou', '{:.1%}'),
        ('mIoU, part pixels only', 'part_only_miou', '{:.1%}'),
        ('mIoU, saliency + label (1-class imgs)', 'saliency_oracle_miou_single_class',
         '{:.1%}'),
    ]
    splits = list(summary['stats'])
    width = max(len(row[0]) for row in rows) + 2
    lines = [''.ljust(width) + ''.join(split.rjust(10) for split in splits)]
    for title, key, fmt in rows:
        cells = []
        for split in splits:
            value = summary['stats'][split].get(key)
            cells.append(('-' if value is None else fmt.format(value)).rjust(10))
        lines.append(title.ljust(width) + ''.join(cells))
    return '\n'.join(lines)
