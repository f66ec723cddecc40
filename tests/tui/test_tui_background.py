"""Jobs stay off the event loop's back: lower thread priority, and a heap frozen after imports."""

from __future__ import annotations

import gc
import os
import sys
import threading
import types

import pytest

from lmsys_tui.core.embed import onnx_runtime
from lmsys_tui.tui import heap
from lmsys_tui.tui.jobs import JOB_NICENESS, run_in_background


def test_heap_is_frozen_only_after_new_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.unfreeze()
    monkeypatch.setattr(heap, "_frozen_at", 0)  # as in a fresh process
    assert heap.freeze_after_imports() is True
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert heap.freeze_after_imports() is False  # nothing imported since: nothing to do
    junk = [[i] for i in range(1000)]  # new tracked objects, but no new module
    assert heap.freeze_after_imports() is False and gc.get_freeze_count() == frozen
    monkeypatch.setitem(sys.modules, "lmsys_tui_fake_model", types.ModuleType("fake"))
    assert heap.freeze_after_imports() is True
    assert gc.get_freeze_count() >= frozen + len(junk)
    gc.unfreeze()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_job_thread_runs_at_lower_priority_and_its_threads_inherit_it() -> None:
    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def job() -> None:
        run_in_background()
        seen["job"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        def child() -> None:  # e.g. a model's compute threads, started by the job
            seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        t = threading.Thread(target=child)
        t.start()
        t.join()

    t = threading.Thread(target=job)
    t.start()
    t.join()
    assert onnx_runtime._share_cpu  # ONNX sessions made by jobs let idle threads sleep
    onnx_runtime.share_cpu(False)
    assert seen["job"] == min(19, main + JOB_NICENESS)
    assert seen["child"] == seen["job"]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main  # UI untouched
