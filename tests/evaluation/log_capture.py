"""Capture what mmengine's ``print_log`` logs (pytest's caplog does not see MMLogger)."""
import contextlib
import logging
from typing import Iterator, List

from mmengine.logging import MMLogger


@contextlib.contextmanager
def logged_warnings() -> Iterator[List[str]]:
    """The messages logged at WARNING or above on the current MMLogger inside the block."""
    logger = MMLogger.get_current_instance()
    messages: List[str] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
