"""Registries of wsss_toolbox (scope ``wsss_toolbox``).

Every registry of a kind mmsegmentation already has is a *child* of mmseg's (``FUNCTIONS``,
which mmseg does not declare, is a child of mmengine's), so a config run under
``default_scope='wsss_toolbox'`` can name both mmseg components (``'EncoderDecoder'``,
``'IoUMetric'``) and ours (``'WSSSClassifier'``) without prefixes: an
unprefixed key is looked up in the child first and then in its parents
(mmengine's ``Registry`` with ``parent=``; see mmengine's "Registry" tutorial). The scope is
the package name, as mmengine expects.

Kinds mmseg does not have get new root registries:

* ``LABEL_GENERATORS`` -- turn localization maps into pseudo-label masks (stage 2).
* ``REFINERS`` -- post-process a label mask or class probabilities (e.g. DenseCRF).
* ``PIPELINE_STEPS`` -- the steps a pipeline config lists (``wsss_toolbox.pipeline``).
"""
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

# the scope is the package name: mmengine imports ``<scope>.registry`` when it builds under
# a default scope, and warns ("Failed to import ...") when that module does not exist
SCOPE = 'wsss_toolbox'
# mmengine resolves a `_base_ = ['wsss_toolbox::cam/x.py']` only for the packages it lists
# (mmseg and the other OpenMMLab codebases are built in); the file is then read from the
# installed package's .mim/configs (setup.py)
MODULE2PACKAGE.setdefault(SCOPE, SCOPE)


class ChildRegistry(Registry):
    """A child of an mmseg registry that imports the parent's modules too before a lookup.

    An unprefixed name not registered here is looked up in the parent (mmseg), but mmengine
    imports a registry's ``locations`` only when that registry itself is searched, so mmseg's
    components (``SegVisualizationHook``, ``IoUMetric`` ...) would be missing unless
    something imported them first (``register_all_modules``). This makes configs run under
    ``default_scope='wsss_toolbox'`` work with mmseg's own ``tools/test.py`` flow and
    ``MMSegInferencer`` as they are.
    """

    def import_from_location(self) -> None:
        super().import_from_location()
        if self.parent is not None:
            self.parent.import_from_location()


def _child(name: str, parent: Registry, locations: list) -> Registry:
    return ChildRegistry(name, parent=parent, scope=SCOPE, locations=locations)


RUNNERS = _child('runner', MMSEG_RUNNERS, ['wsss_toolbox.engine'])
LOOPS = _child('loop', MMSEG_LOOPS, ['wsss_toolbox.engine'])
HOOKS = _child('hook', MMSEG_HOOKS, ['wsss_toolbox.engine'])
LOG_PROCESSORS = _child('log_processor', MMSEG_LOG_PROCESSORS, ['wsss_toolbox.engine'])
DATASETS = _child('dataset', MMSEG_DATASETS, ['wsss_toolbox.datasets'])
DATA_SAMPLERS = _child('data sampler', MMSEG_DATA_SAMPLERS, ['wsss_toolbox.datasets'])
TRANSFORMS = _child('transform', MMSEG_TRANSFORMS, ['wsss_toolbox.datasets'])
MODELS = _child('model', MMSEG_MODELS, ['wsss_toolbox.models'])
MODEL_WRAPPERS = _child('model_wrapper', MMSEG_MODEL_WRAPPERS, ['wsss_toolbox.models'])
WEIGHT_INITIALIZERS = _child('weight initializer', MMSEG_WEIGHT_INITIALIZERS,
                             ['wsss_toolbox.models'])
OPTIMIZERS = _child('optimizer', MMSEG_OPTIMIZERS, ['wsss_toolbox.engine'])
OPTIM_WRAPPERS = _child('optim_wrapper', MMSEG_OPTIM_WRAPPERS, ['wsss_toolbox.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMSEG_OPTIM_WRAPPER_CONSTRUCTORS, ['wsss_toolbox.engine'])
PARAM_SCHEDULERS = _child('parameter scheduler', MMSEG_PARAM_SCHEDULERS,
                          ['wsss_toolbox.engine'])
METRICS = _child('metric', MMSEG_METRICS, ['wsss_toolbox.evaluation'])
EVALUATOR = _child('evaluator', MMSEG_EVALUATOR, ['wsss_toolbox.evaluation'])
TASK_UTILS = _child('task util', MMSEG_TASK_UTILS, ['wsss_toolbox.models'])
VISUALIZERS = _child('visualizer', MMSEG_VISUALIZERS, ['wsss_toolbox.visualization'])
VISBACKENDS = _child('vis_backend', MMSEG_VISBACKENDS, ['wsss_toolbox.visualization'])
INFERENCERS = _child('inferencer', MMSEG_INFERENCERS, ['wsss_toolbox.apis'])
# mmseg declares no FUNCTIONS child, so ours hangs below mmengine's root: mmengine's
# BaseInferencer (MMSegInferencer) looks up the loader's collate function in the "function"
# tree under the inferencer's scope and warns when that tree has no 'wsss_toolbox' node.
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, ['wsss_toolbox.datasets'])

# New kinds: stage-2 components (pure functions of their inputs, so they parallelise).
LABEL_GENERATORS = Registry('label generator', scope=SCOPE,
                            locations=['wsss_toolbox.pseudo_labels'])
REFINERS = Registry('refiner', scope=SCOPE, locations=['wsss_toolbox.pseudo_labels'])
# Steps of a pipeline config (tools/pipeline.py): train a classifier, infer maps, make labels ...
PIPELINE_STEPS = Registry('pipeline step', scope=SCOPE, locations=['wsss_toolbox.pipeline'])
