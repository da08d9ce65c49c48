"""Scope set-up, as ``mmseg.utils.register_all_modules``."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every wsss_toolbox (and mmseg) module so that all components are registered.

    Args:
        init_default_scope: also make ``wsss`` the current default scope, so unprefixed
            names in configs resolve in our registries first, then in mmseg's.
    """
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

    if not init_default_scope:
        return
    never_created = (DefaultScope.get_current_instance() is None
                     or not DefaultScope.check_instance_created('wsss'))
    if never_created:
        DefaultScope.get_instance('wsss', scope_name='wsss')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'wsss':
        warnings.warn(f'The default scope was "{current_scope.scope_name}"; '
                      'register_all_modules() switches it to "wsss". Pass '
                      'init_default_scope=False to keep it.')
        # a new instance name, since "wsss" already exists with another scope
        new_instance_name = f'wsss-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='wsss')
