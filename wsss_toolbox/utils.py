"""Scope set-up, as ``mmseg.utils.register_all_modules``, and :func:`check_choice`, the one
check of an option against its allowed values."""
import datetime
import importlib
import pkgutil
import warnings
from typing import List, Sequence, TypeVar

from mmengine import DefaultScope

from wsss_toolbox.registry import SCOPE

Choice = TypeVar('Choice')


def check_choice(name: str, value: Choice, choices: Sequence[Choice]) -> Choice:
    """Return ``value``, or raise ``ValueError('<name> must be one of <choices>, got
    <value>')`` when it is not one of ``choices``; ``name`` says where the option belongs
    (e.g. ``'RPNetHead: non_local_inference_bn'``)."""
    if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choices)}, got {value!r}')
    return value


#: the package whose sub-packages are the built-in methods (``wsss_toolbox/methods/<name>/``)
METHODS_PACKAGE = 'wsss_toolbox.methods'


def import_builtin_methods() -> List[str]:
    """Import every built-in method folder (``wsss_toolbox/methods/<name>/``), which
    registers its components, and return the method names.

    The methods are found on disk (``pkgutil.iter_modules``), not listed here: the core of
    the toolbox does not depend on any method, and a method folder added to
    ``wsss_toolbox/methods/`` is picked up without changing this function.
    """
    package = importlib.import_module(METHODS_PACKAGE)
    names = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if info.ispkg and not info.name.startswith('_'):
            importlib.import_module(f'{METHODS_PACKAGE}.{info.name}')
            names.append(info.name)
    return names


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every wsss_toolbox (and mmseg) module, the built-in methods included, so that
    all components are registered.

    Args:
        init_default_scope: also make ``wsss_toolbox`` the current default scope, so
            unprefixed names in configs resolve in our registries first, then in mmseg's.
    """
    # lazy: every module of the toolbox imports this one, so it imports them only when called
    from mmseg.utils import register_all_modules as register_mmseg_modules
    register_mmseg_modules(init_default_scope=False)
    import mmseg.visualization  # noqa: F401  (SegLocalVisualizer; not imported by mmseg)

    import wsss_toolbox.datasets  # noqa: F401
    import wsss_toolbox.engine  # noqa: F401
    import wsss_toolbox.evaluation  # noqa: F401
    import wsss_toolbox.models  # noqa: F401
    import wsss_toolbox.pipeline  # noqa: F401
    import wsss_toolbox.pseudo_labels  # noqa: F401
    import wsss_toolbox.visualization  # noqa: F401
    import_builtin_methods()

    if not init_default_scope:
        return
    never_created = (DefaultScope.get_current_instance() is None
                     or not DefaultScope.check_instance_created(SCOPE))
    if never_created:
        DefaultScope.get_instance(SCOPE, scope_name=SCOPE)
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != SCOPE:
        warnings.warn(f'The default scope was "{current_scope.scope_name}"; '
                      f'register_all_modules() switches it to "{SCOPE}". Pass '
                      'init_default_scope=False to keep it.')
        # a new instance name, since SCOPE already exists with another scope
        new_instance_name = f'{SCOPE}-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name=SCOPE)
