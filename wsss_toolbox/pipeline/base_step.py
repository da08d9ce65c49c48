"""The interface of a pipeline step (``PIPELINE_STEPS``).

A step is built from its dict in the pipeline config (``type`` plus its options) with two
extra arguments, ``name`` (its key in the config, also the name of its folder in the work
dir) and ``runner`` (the :class:`~wsss_toolbox.pipeline.runner.PipelineRunner`, which gives
access to earlier steps, stage configs and the work dir).

A step declares

* :attr:`input_args` -- the names of its options that name *earlier steps* (e.g. ``maps`` of
  ``MakePseudoLabels``); their run ids enter the step's fingerprint, so a rerun upstream
  reruns the step;
* :meth:`fingerprint_config` -- everything else that decides its result (default: its
  options; training steps add the resolved stage config);
* :meth:`run` -- does the work and returns a JSON-able result, stored in the step's record
  and read back by later steps through ``runner.result(name)``;
* :meth:`summary_rows` -- the lines it contributes to the pipeline's result table.

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
import os.path as osp
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from .file_digest import InputFiles

if TYPE_CHECKING:  # pragma: no cover
    from .runner import PipelineRunner


class PipelineStep:
    """Base class of pipeline steps; see the module docstring for the contract."""

    #: option names whose values are names of earlier steps (a str, a list of str, or None)
    input_args: Tuple[str, ...] = ()
    #: whether the step keeps files in ``<work_dir>/<name>/``
    writes_folder: bool = True
    #: one output per image of :meth:`samples` (:meth:`image_outputs`), remade image by image
    per_image_outputs: bool = False

    def __init__(self, name: str, runner: 'PipelineRunner', **options: Any) -> None:
        self.name = name
        self.runner = runner
        self.options = options

    # ------------------------------------------------------------------ inputs / identity
    @property
    def out_dir(self) -> str:
        return self.runner.path(self.name)

    def inputs(self) -> List[str]:
        """Names of the earlier steps this one reads."""
        names: List[str] = []
        for arg in self.input_args:
            value = self.options.get(arg)
            if value is None:
                continue
            for item in ([value] if isinstance(value, str) else list(value)):
                if item not in names:
                    names.append(item)
        return names

    def fingerprint_config(self) -> Any:
        """What, besides its inputs and the toolbox version, decides this step's result."""
        return self.options

    def outputs_exist(self, result: Optional[dict]) -> bool:
        """Whether the outputs a finished run left are still there."""
        return not self.writes_folder or osp.isdir(self.out_dir)

    def missing_outputs(self, result: Optional[dict]) -> Optional[str]:
        """Why the outputs of its finished run no longer serve (a reason to rerun), or None.
        Default: :meth:`outputs_exist` (the runner remakes the missing outputs of
        :attr:`per_image_outputs` steps image by image; other steps with one file per image
        may check them here with :func:`~wsss_toolbox.pipeline.steps.missing_image_files`)."""
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

    def summary_rows(self, result: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Rows ``dict(name, mIoU=None|float, value=None|float, kind, step)`` for the table."""
        return []

    def samples(self) -> Tuple[List[dict], List[str]]:
        """``(image records, foreground class names)`` of the per-image outputs."""
        raise TypeError(f'step "{self.name}" ({type(self).__name__}) makes no per-image '
                        'outputs; name a step that does (e.g. an InferMaps step).')

    # ------------------------------------------------------------------ helpers
    def input_step(self, arg: str, expected: Optional[Sequence[type]] = None) -> 'PipelineStep':
        """The step named by option ``arg``, checked to be one of ``expected`` classes."""
        step = self.runner.step(self.options[arg])
        if expected and not isinstance(step, tuple(expected)):
            raise TypeError(
                f'step "{self.name}": option {arg}="{step.name}" names a '
                f'{type(step).__name__} step, but a '
                f'{" or ".join(cls.__name__ for cls in expected)} is needed.')
        return step
