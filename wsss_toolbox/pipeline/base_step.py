"""The interface of a pipeline step (``PIPELINE_STEPS``).

A step is built from its dict in the pipeline config (``type`` plus its options) with two
extra arguments, ``name`` (its key in the config, also the name of its folder in the work
dir) and ``runner`` (the :class:`~wsss_toolbox.pipeline.runner.PipelineRunner`, which gives
access to earlier steps, stage configs and the work dir).

A step keeps its options as attributes of the same names (``self.split``, ``self.maps``
...; the constructor's arguments are the option names of the pipeline config; an option whose
name a method takes is kept under :attr:`option_attributes`, e.g. ``InferMaps``' ``classifier``
as ``self.classifier_name``) and declares, next to them,

* :attr:`input_args` -- the options that name *earlier steps* (e.g. ``maps`` of
  ``MakePseudoLabels``); their run ids enter the step's fingerprint, so a rerun upstream
  reruns the step;
* :attr:`fingerprint_options` -- the options that decide its result:
  :meth:`fingerprint_config` is ``{option: value}`` of them (parallelism such as ``nproc`` or
  ``device`` is left out); steps that train or read a stage config add the resolved config by
  overriding it;
* :meth:`run` -- does the work and returns a JSON-able result, stored in the step's record
  and read back by later steps through ``runner.result(name)``;
* :meth:`summary_rows` -- the lines (:class:`SummaryRow`) it contributes to the result table.

``step.options`` reads (and writes) the options by name. Steps of earlier versions passed
their options to ``PipelineStep.__init__(name, runner, **options)`` and read
``self.options[...]``: they keep working (the options become attributes, every one of them
decides the fingerprint, as before) with a ``DeprecationWarning`` until they declare
:attr:`fingerprint_options`.

Steps that make per-image outputs also offer :meth:`samples` (the image records and the
foreground class names they cover), which downstream steps ask for instead of reading configs.

What a step reads from disk is part of what decides its result
(:mod:`~wsss_toolbox.pipeline.input_state`):

* :meth:`input_files` -- the files behind the whole result (a training step: its training
  set; an evaluation: the masks); their size + mtime (contents of the small list files) enter
  the step's record, and a change reruns it, naming the files;
* a step with :attr:`per_image_outputs` (one output per image of :meth:`samples`, run
  resumably: images whose outputs exist are skipped) declares :meth:`image_outputs` and
  :meth:`image_inputs` -- the files one image's output is made from, an earlier per-image
  step's file of that image included; an image whose record or files changed is remade
  alone, and later per-image steps then remake that image too.
A step's files live in ``<work_dir>/<name>/`` (:attr:`out_dir`); a step that runs afresh
starts from an empty folder, a step that was interrupted with an unchanged fingerprint keeps
its files and resumes (training from its last checkpoint, per-image steps skip files written).
"""
import inspect
import os.path as osp
import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .file_digest import InputFiles

if TYPE_CHECKING:  # pragma: no cover
    from .runner import PipelineRunner


@dataclass
class SummaryRow:
    """One line of the pipeline's result table (``summary.json``: ``rows``).

    Args:
        name: the line's title.
        kind: what it measures (``'maps'``, ``'labels'``, ``'segmentor'`` ...).
        step: the step it comes from.
        mIoU: an mIoU in percent, or None.
        value: another number in percent (recall, Peak-IoU ...), or None.
        extra: further keys of the row in ``summary.json`` (``ignored``, ``labels`` ...).
    """
    name: str
    kind: str
    step: str
    mIoU: Optional[float] = None
    value: Optional[float] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """The row as written to ``summary.json``."""
        return dict(self.extra, name=self.name, kind=self.kind, step=self.step,
                    mIoU=self.mIoU, value=self.value)

    # dict-style reading, kept for code written when rows were dicts
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


def summary_row_dict(row: Union[SummaryRow, Mapping], step: str) -> Dict[str, Any]:
    """A row of ``summary.json`` from a :class:`SummaryRow` or a plain dict (the rows of
    steps written for earlier versions); a dict needs a ``name``."""
    if isinstance(row, SummaryRow):
        return row.to_dict()
    if not isinstance(row, Mapping) or 'name' not in row:
        raise TypeError(f'step "{step}": summary_rows() gave {row!r}; a row is a SummaryRow '
                        '(or a dict with a `name`).')
    return dict(row)


class StepOptions(MutableMapping):
    """``step.options``: a step's options by name, read from and written to its attributes."""

    def __init__(self, step: 'PipelineStep') -> None:
        self._step = step

    def __getitem__(self, key: str) -> Any:
        if key not in self._step.option_names():
            raise KeyError(key)
        return getattr(self._step, self._step.option_attribute(key))

    def __setitem__(self, key: str, value: Any) -> None:
        self._step.set_option(key, value)

    def __delitem__(self, key: str) -> None:
        raise TypeError(f'step "{self._step.name}": options cannot be removed')

    def __iter__(self) -> Iterator[str]:
        return iter(self._step.option_names())

    def __len__(self) -> int:
        return len(self._step.option_names())

    def __repr__(self) -> str:
        return repr(dict(self))


# the option names of each step class: its constructor's arguments after ``name, runner``
_SIGNATURE_OPTIONS: Dict[type, Tuple[str, ...]] = {}


def _constructor_options(cls: type) -> Tuple[str, ...]:
    if cls not in _SIGNATURE_OPTIONS:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[3:]
        _SIGNATURE_OPTIONS[cls] = tuple(
            p.name for p in parameters
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return _SIGNATURE_OPTIONS[cls]


class PipelineStep:
    """Base class of pipeline steps; see the module docstring for the contract."""

    #: option names whose values are names of earlier steps (a str, a list of str, or None)
    input_args: Tuple[str, ...] = ()
    #: option names that decide the step's result (:meth:`fingerprint_config`)
    fingerprint_options: Tuple[str, ...] = ()
    #: option -> attribute, for an option whose name a method of the step takes
    option_attributes: Dict[str, str] = {}
    #: whether the step keeps files in ``<work_dir>/<name>/``
    writes_folder: bool = True
    #: one output per image of :meth:`samples` (:meth:`image_outputs`), remade image by image
    per_image_outputs: bool = False

    def __init__(self, name: str, runner: 'PipelineRunner', **options: Any) -> None:
        """``options``: the interface of earlier versions (see the module docstring); a step
        sets its options as attributes itself and declares :attr:`fingerprint_options`."""
        self.name = name
        self.runner = runner
        # options passed here by steps that declare none: all of them are fingerprinted
        self.__dict__.setdefault('_passed_options', [])
        if options and not self.fingerprint_options:
            warnings.warn(
                f'step "{name}" ({type(self).__name__}) passes its options '
                f'{sorted(options)} to PipelineStep.__init__ without declaring them; set them '
                'as attributes and declare `fingerprint_options` (the options that decide its '
                'result, docs/design.md "The pipeline"); passing undeclared options is removed in '
                'v0.3.0.', DeprecationWarning, stacklevel=2)
        for key, value in options.items():
            self.set_option(key, value)

    # ------------------------------------------------------------------ options
    def option_attribute(self, option: str) -> str:
        """The attribute that holds ``option``."""
        return self.option_attributes.get(option, option)

    def option_names(self) -> List[str]:
        """The step's options: its constructor's arguments and the options passed to
        ``PipelineStep.__init__``, those that are set."""
        names = list(_constructor_options(type(self)))
        names += [name for name in self.__dict__.get('_passed_options', ())
                  if name not in names]
        return [name for name in names if hasattr(self, self.option_attribute(name))]

    def set_option(self, option: str, value: Any) -> None:
        """Set ``option`` (its attribute); an option the constructor does not name is
        fingerprinted when the step declares no :attr:`fingerprint_options`."""
        attribute = self.option_attribute(option)
        if callable(getattr(type(self), attribute, None)) or isinstance(
                getattr(type(self), attribute, None), property):
            raise TypeError(f'step "{getattr(self, "name", "?")}" ({type(self).__name__}): '
                            f'option `{option}` '
                            f'would hide its method `{attribute}`; map it to another '
                            'attribute in `option_attributes`.')
        setattr(self, attribute, value)
        passed = self.__dict__.setdefault('_passed_options', [])
        if option not in passed:
            passed.append(option)

    @property
    def options(self) -> StepOptions:
        """The options by name (``step.options['split']`` is ``step.split``)."""
        return StepOptions(self)

    @options.setter
    def options(self, options: Mapping) -> None:
        # steps of earlier versions assigned ``self.options = {...}``
        for key, value in options.items():
            self.set_option(key, value)

    # ------------------------------------------------------------------ inputs / identity
    @property
    def out_dir(self) -> str:
        return self.runner.path(self.name)

    def inputs(self) -> List[str]:
        """Names of the earlier steps this one reads."""
        names: List[str] = []
        for arg in self.input_args:
            value = getattr(self, self.option_attribute(arg), None)
            if value is None:
                continue
            for item in ([value] if isinstance(value, str) else list(value)):
                if item not in names:
                    names.append(item)
        return names

    def fingerprint_config(self) -> Any:
        """What, besides its inputs and the toolbox version, decides this step's result:
        ``{option: value}`` of :attr:`fingerprint_options` (of every option passed to
        ``PipelineStep.__init__`` by a step that declares none)."""
        names = self.fingerprint_options or self.__dict__.get('_passed_options', ())
        return {name: getattr(self, self.option_attribute(name)) for name in names}

    def outputs_exist(self, result: Optional[dict]) -> bool:
        """Whether the outputs a finished run left are still there."""
        return not self.writes_folder or osp.isdir(self.out_dir)

    def missing_outputs(self, result: Optional[dict]) -> Optional[str]:
        """Why the outputs of its finished run no longer serve (a reason to rerun), or None.
        Default: :meth:`outputs_exist` (the runner remakes the missing outputs of
        :attr:`per_image_outputs` steps image by image; other steps with one file per image
        may check them here with :func:`missing_image_files`)."""
        if not self.outputs_exist(result):
            return f'its outputs are gone ({self.out_dir})'
        return None

    # ------------------------------------------------------------------ files read
    def input_files(self) -> InputFiles:
        """Files whose contents decide the whole result, besides earlier steps' outputs
        (those are covered by their run ids): a changed one reruns the step."""
        return InputFiles()

    def image_outputs(self, img_id: str) -> List[str]:
        """The files this step writes for one image (:attr:`per_image_outputs` steps)."""
        raise TypeError(f'step "{self.name}" ({type(self).__name__}) makes no per-image '
                        'outputs')

    def image_inputs(self, sample: dict) -> InputFiles:
        """The files the output of one image (a record of :meth:`samples`) is made from,
        an earlier per-image step's file of that image included."""
        return InputFiles()

    def images_depend_on_each_other(self) -> bool:
        """Whether one image's output also reads other images (partners, related images):
        then a change to any image remakes every output."""
        return False

    # ------------------------------------------------------------------ work
    def run(self) -> Dict[str, Any]:
        raise NotImplementedError

    def summary_rows(self, result: Dict[str, Any]) -> List[SummaryRow]:
        """The lines of the result table (:class:`SummaryRow`; a plain dict with the same
        keys is accepted too)."""
        return []

    def samples(self) -> Tuple[List[dict], List[str]]:
        """``(image records, foreground class names)`` of the per-image outputs."""
        raise TypeError(f'step "{self.name}" ({type(self).__name__}) makes no per-image '
                        'outputs; name a step that does (e.g. an InferMaps step).')

    # ------------------------------------------------------------------ helpers
    def input_step(self, arg: str, expected: Optional[Sequence[type]] = None) -> 'PipelineStep':
        """The step named by option ``arg``, checked to be one of ``expected`` classes."""
        step = self.runner.step(getattr(self, self.option_attribute(arg)))
        if expected and not isinstance(step, tuple(expected)):
            raise TypeError(
                f'step "{self.name}": option {arg}="{step.name}" names a '
                f'{type(step).__name__} step, but a '
                f'{" or ".join(cls.__name__ for cls in expected)} is needed.')
        return step


def missing_image_files(step: PipelineStep, path_of, what: str) -> Optional[str]:
    """Why a per-image step must rerun: images of its current list (``step.samples()``)
    without their file in its folder (``path_of(folder, img_id)``), e.g. images that had no
    positive label when it ran and have one now; None when every image has its file."""
    samples, _ = step.samples()
    missing = [sample['img_id'] for sample in samples
               if not osp.isfile(path_of(step.out_dir, sample['img_id']))]
    if not missing:
        return None
    return (f'{len(missing)} of {len(samples)} images have no {what} in {step.out_dir} (e.g. '
            f'"{missing[0]}"): the image list changed since it ran')
