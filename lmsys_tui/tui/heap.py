"""Keep Python's cyclic garbage collector off the event loop's back.

A full (generation 2) collection walks every tracked object. Once a stage has imported torch,
transformers or onnxruntime that is about a million objects, and a collection triggered on the
UI thread froze the event loop for 60-290 ms at a time while an embedding job ran (measured:
tests/bench/test_tui_bench.py). Modules and what they define live as long as the process, so
whenever the set of imported modules has grown, everything alive is moved to the permanent
generation (`gc.freeze`, an O(1) list splice): later collections only walk what came after.
Objects alive at that moment are then never collected as cycles (refcounting still frees them),
which is why this runs only after imports, not on a clock of its own.
"""

from __future__ import annotations

import gc
import sys

_frozen_at = 0  # len(sys.modules) at the last freeze


def freeze_after_imports() -> bool:
    """Freeze the heap if modules were imported since the last call; True if it did."""
    global _frozen_at
    count = len(sys.modules)
    if count == _frozen_at:
        return False
    gc.freeze()
    _frozen_at = count
    return True
