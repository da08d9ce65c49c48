"""Built-in WSSS methods, one folder per method (``methods/<name>/``).

A method folder holds the components that only that method uses, in modules named by
component kind (``heads.py``, ``losses.py``, ``hooks.py``, ``transforms.py``, ...), and
registers them into the shared registries of :mod:`wsss_toolbox.registry`. Its configs
(``configs/<name>/``) import it with ``custom_imports``, exactly as a third-party plugin
would: the core of the toolbox never imports this package, and this ``__init__`` imports
nothing. :func:`wsss_toolbox.utils.register_all_modules` discovers and imports every method
folder found here.
"""
