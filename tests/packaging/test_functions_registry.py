"""The FUNCTIONS registry: mmseg's inferencer finds a 'wsss_toolbox' node in the function tree."""
import os.path as osp

import mmengine.logging
from conftest import REPO_ROOT
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmseg.apis import MMSegInferencer

from wsss_toolbox.registry import FUNCTIONS, SCOPE

CONFIG = osp.join(REPO_ROOT, 'configs', 'deeplab',
                  'deeplab-largefov_tiny_1xb8-600it_synthetic-pseudo-128x128.py')


def test_functions_is_a_child_of_mmengines_function_registry():
    assert FUNCTIONS.parent is MMENGINE_FUNCTIONS and FUNCTIONS.scope == SCOPE
    assert MMENGINE_FUNCTIONS._search_child(SCOPE) is FUNCTIONS
    # unprefixed names fall back to mmengine's collate functions
    assert FUNCTIONS.get('pseudo_collate') is MMENGINE_FUNCTIONS.get('pseudo_collate')


def test_mmseg_inferencer_under_the_wsss_toolbox_scope_does_not_warn(monkeypatch):
    messages = []
    print_log = mmengine.logging.print_log

    def recording_print_log(msg, *args, **kwargs):
        messages.append(str(msg))
        return print_log(msg, *args, **kwargs)

    # mmengine's Registry imports print_log when it warns, so this sees every such warning
    monkeypatch.setattr(mmengine.logging, 'print_log', recording_print_log)
    inferencer = MMSegInferencer(model=CONFIG, weights=None, device='cpu', scope=SCOPE)
    assert inferencer.collate_fn is MMENGINE_FUNCTIONS.get('pseudo_collate')
    assert not [m for m in messages if 'Failed to search registry' in m], messages
