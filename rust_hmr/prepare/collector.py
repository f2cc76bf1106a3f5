"""Python's cyclic garbage collector, paused while prepare builds or reads a symbol map.

For a large app those build hundreds of thousands of small tuples, lists and instances, none
in a cycle; most live on after (the symbol map), the rest are freed as they go. With the
collector on, each full collection on the way walks them (and the rest of the process) again;
paused, the survivors are walked once, by the first collections after.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off inside, back on after (unless it was off before); also a decorator."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
