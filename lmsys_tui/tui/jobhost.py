"""The App's side of pipeline jobs: run a stage in a worker thread, keep its state from messages.

Jobs run on the App, not on a screen, because a screen's workers die when it is popped. The
worker only calls the stage and posts coalescing `JobProgress` and a final `JobEnded`; the
handlers here, on the UI thread, change the job and bump `jobs_version` (the pipeline screen
redraws) and, when a job ends, `data_version` (screens showing the store re-read it).
`LmsysApp` builds on this and reacts to an ended job in `job_ended`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual import work
from textual.app import App
from textual.reactive import reactive
from textual.worker import Worker

from lmsys_tui.errors import Cancelled
from lmsys_tui.tui.heap import freeze_after_imports
from lmsys_tui.tui.jobs import Job, JobFn, result_fields, run_in_background
from lmsys_tui.tui.messages import JobEnded, JobProgress
from lmsys_tui.tui.text import plain

JOB_GROUP = "pipeline-job"
PROGRESS_INTERVAL = 0.05  # seconds between progress messages of one job (the last always goes)


class JobHost(App[None]):
    data_version: reactive[int] = reactive(0, init=False)
    """Bumped when a job ends: screens that show store data re-read it."""
    jobs_version: reactive[int] = reactive(0, init=False, always_update=True)
    """Bumped on every job change: the pipeline screen redraws its list."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock  # job times come from here, so snapshot tests can pin them
        self.jobs: dict[int, Job] = {}
        self._job_workers: dict[Worker[Any], int] = {}

    def start_job(self, spec: Any) -> Job:
        """Run `spec.fn(progress, cancelled)` in a worker thread on the App; returns the job."""
        job = Job(
            id=max(self.jobs, default=0) + 1,
            kind=spec.kind,
            title=spec.title,
            command=spec.command,
            started=self.clock(),
        )
        job.add_log(job.started, f"started: {job.command}")
        self.jobs[job.id] = job
        worker = self._run_job(job, spec.fn)
        self._job_workers[worker] = job.id
        self.jobs_version += 1
        return job

    @work(thread=True, group=JOB_GROUP, exit_on_error=False)
    def _run_job(self, job: Job, fn: JobFn) -> None:
        last, last_phase = 0.0, None

        def progress(done: int, total: int | None, note: str = "") -> None:
            """Called by the stage (worker thread): at most one message per interval, but
            always the first report of a new phase and the one that completes a phase."""
            nonlocal last, last_phase
            now = time.monotonic()
            message = JobProgress(job.id, done, total, note)
            finished = total is not None and done >= total
            if now - last >= PROGRESS_INTERVAL or finished or message.phase != last_phase:
                last, last_phase = now, message.phase
                self.post_message(message)

        run_in_background()
        try:
            value = fn(progress, job.cancelled)
        except Cancelled as exc:
            self.post_message(JobEnded(job.id, "cancelled", exc.message))
            return
        message, data = result_fields(value)
        self.post_message(JobEnded(job.id, "done", message, data))

    def on_job_progress(self, message: JobProgress) -> None:
        freeze_after_imports()  # the stage may have imported its model (see tui/heap.py)
        job = self.jobs.get(message.job_id)
        if job is not None and job.active:
            job.update(self.clock(), message.done, message.total, message.note)
            self.jobs_version += 1

    def on_job_ended(self, message: JobEnded) -> None:
        for worker, job_id in list(self._job_workers.items()):
            if job_id == message.job_id:
                del self._job_workers[worker]
        self._end_job(message.job_id, message.status, message.message, message.result)

    def job_failed(self, worker: Worker[Any], text: str) -> bool:
        """End the job `worker` ran as failed; False when it ran no job."""
        job_id = self._job_workers.pop(worker, None)
        if job_id is None:
            return False
        self._end_job(job_id, "failed", text)
        return True

    def _end_job(
        self, job_id: int, status: str, text: str, result: dict[str, Any] | None = None
    ) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            return
        now = self.clock()
        job.status, job.message, job.finished = status, text, now
        job.result = result or {}
        if status == "done" and job.total:
            job.done = job.total
        job.add_log(now, f"{status}: {text}")
        self.jobs_version += 1
        self.data_version += 1
        severity = {"done": "information", "cancelled": "warning"}.get(status, "error")
        self.notify(
            plain(text, 300),
            title=f"{job.title}: {status}",
            severity=severity,  # type: ignore[arg-type]
            timeout=8 if status == "done" else 12,
            markup=False,
        )
        self.job_ended(job)

    def job_ended(self, job: Job) -> None:
        """What the App does once a job has ended (done, cancelled or failed)."""

    def cancel_job(self, job_id: int) -> bool:
        """Ask a running job to stop at its next check; the stage keeps what it committed."""
        job = self.jobs.get(job_id)
        if job is None or not job.active or job.cancelled():
            return False
        job.cancel_event.set()
        job.add_log(self.clock(), "cancel requested")
        self.jobs_version += 1
        return True
