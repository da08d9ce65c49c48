"""mmengine hooks of the toolbox (registered in ``wsss_toolbox.registry.HOOKS``)."""
