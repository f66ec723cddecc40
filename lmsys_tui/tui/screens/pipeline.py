"""Pipeline jobs: a form per stage to start one, and every job with its progress, ETA and log.

Forms are declared as data (`tui/forms.py`); each builds its stage's options through
`jobspecs` (the dataclasses the headless command builds) and shows, as it is filled in, the
command line derived from them. Start hands the job to the App (jobs outlive this screen); the
job list and the selected job's bar, ETA and log redraw from the App's `jobs_version`. `x`
cancels the selected job through the stage protocol. Opened on a running job (the demo), the
job fills the screen until `f` or a form key brings the forms back. Over 400 lines (~460) on
purpose: the forms' lazy building, the cost estimate under the command line and the jobs
panel's cheap redraws share the screen's state; split, each part would need the others'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    RichLog,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)

from lmsys_tui.errors import LmsysError
from lmsys_tui.tui import jobspecs
from lmsys_tui.tui.estimates import ESTIMATED, estimate_line
from lmsys_tui.tui.forms import FORMS, Form, FormField
from lmsys_tui.tui.jobs import Job, fmt_seconds
from lmsys_tui.tui.screens.base import LmsysScreen
from lmsys_tui.tui.text import inert, plain

NO_DATASET = "(all datasets)"
COLUMNS = ("id", "job", "status", "progress", "eta")


def status_text(job: Job, now: float) -> str:
    parts = [job.status]
    if job.total:
        parts.append(f"{job.done:,}/{job.total:,}")
    elif job.done:
        parts.append(f"{job.done:,}")
    parts.append(f"elapsed {fmt_seconds(job.elapsed(now))}")
    eta = job.eta(now)
    if eta is not None:
        parts.append(f"ETA {fmt_seconds(eta)}")
    return " · ".join(parts)


class PipelineScreen(LmsysScreen):
    SUB_TITLE = "Pipeline"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "x", "cancel_job", "cancel job", tooltip="Stop the selected job (work so far is kept)."
        ),
        Binding("ctrl+s", "start", "start", tooltip="Start the job of the form in front."),
        Binding("f", "forms", "forms", tooltip="Show the stage forms beside the jobs."),
    ]

    def __init__(
        self,
        *,
        form: str | None = None,
        values: dict[str, Any] | None = None,
        select_job: int | None = None,
    ) -> None:
        super().__init__()
        self.initial_form = form or "load"
        self.initial_values = dict(values or {})
        self.selected_job = select_job
        self._log_shown: tuple[int | None, int] = (None, 0)
        self._shown: dict[str, str] = {}  # selector -> the plain text it shows
        self._cells_shown: dict[str, list[str]] = {}  # job row -> its cells' plain texts
        self._built: set[str] = set()  # forms whose fields exist (or are being mounted)
        self._initial: dict[str, dict[str, Any]] = {}  # the values a form's fields start with
        self._choices: dict[str, list[tuple[str, str]]] = {}  # run / dataset select options
        self._watching = form is None and select_job is not None  # opened to watch a job
        # the selected job fills the screen: opened on it while it ran, with no form asked for
        self.job_in_front = False
        self.preview_command = ""  # the command line the preview shows (estimates match it)

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        job = self.lmsys.jobs.get(self.selected_job) if self._watching else None
        self.job_in_front = in_front = job is not None and job.active
        yield Header()
        with Horizontal(id="pipeline-body", classes="-job-in-front" if in_front else ""):
            with Vertical(id="forms"):
                with TabbedContent(initial=f"form-{self.initial_form}", id="form-tabs"):
                    for form in FORMS:
                        with (
                            TabPane(form.tab, id=f"form-{form.id}"),
                            VerticalScroll(classes="form", id=f"{form.id}-fields"),
                        ):
                            yield Static(Text(form.about), classes="form-about")
                            if form.id == self.initial_form and not in_front:
                                yield from self._rows(form)
                yield Static(id="command-preview")
                with Horizontal(id="form-buttons"):
                    yield Button("Start (ctrl+s)", variant="primary", id="start")
            with Vertical(id="jobs-side"):
                yield Label("Jobs", classes="section")
                yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
                yield Static(id="job-title")
                yield ProgressBar(id="job-bar", show_eta=False)
                yield Static(id="job-status")
                yield RichLog(id="job-log", wrap=True, markup=False, highlight=False, max_lines=500)
        yield Footer()

    def _rows(self, form: Form, values: dict[str, Any] | None = None) -> list[Horizontal]:
        """A form's fields, holding `values` where given. Only the form in front is built with
        the screen, the others when first shown (building all seven took ~0.5 s of opening)."""
        self._built.add(form.id)
        given = values or {}
        hints = jobspecs.placeholders(form.id)
        fields = [self._field(form, f, given.get(f.name), hints) for f in form.fields]
        self._initial[form.id] = {
            f.name: None if w.value is Select.BLANK else w.value
            for f, w in zip(form.fields, fields, strict=True)
        }
        return [
            Horizontal(Label(f.label, classes="form-label"), w, classes="form-row")
            for f, w in zip(form.fields, fields, strict=True)
        ]

    def _field(
        self, form: Form, f: FormField, value: Any, hints: dict[str, str]
    ) -> Input | Select[str]:
        wid = f"{form.id}-{f.name}"
        if f.kind in ("select", "run", "dataset"):
            choices = (
                [(o, o) for o in f.options] if f.kind == "select" else self._choices.get(f.kind, [])
            )
            known = [v for _, v in choices]
            start = str(value) if value is not None and str(value) in known else None
            if start is None and f.kind == "select":
                start = f.default
            elif start is None and choices:
                start = known[0]  # the newest run; for datasets, "(all datasets)"
            if start is None:
                return Select(choices, prompt="(none yet)", id=wid)
            return Select(choices, value=start, allow_blank=f.kind != "select", id=wid)
        text = f.default if value is None else str(value)
        return Input(value=text, placeholder=f.placeholder or hints.get(f.name, ""), id=wid)

    def _default_values(self, form: Form) -> dict[str, Any]:
        """What an unbuilt form's fields would hold (its widgets do not exist yet)."""
        out: dict[str, Any] = {}
        for f in form.fields:
            if f.kind in ("run", "dataset"):
                choices = self._choices.get(f.kind, [])
                out[f.name] = choices[0][1] if choices else None
            else:
                out[f.name] = f.default
        return out

    def on_mount(self) -> None:
        table = self.query_one("#jobs", DataTable)
        table.add_column(Text("#", justify="right"), key="id", width=3)
        table.add_column("Job", key="job")
        table.add_column("Status", key="status", width=10)
        table.add_column(Text("Progress", justify="right"), key="progress", width=8)
        table.add_column(Text("ETA", justify="right"), key="eta", width=7)
        self.watch(self.app, "overview", self._fill_choices, init=True)
        self.watch(self.app, "jobs_version", self._show_jobs, init=True)
        self.set_interval(1.0, self._tick)
        if self.job_in_front:
            table.focus()  # not the hidden tabs: x, the arrows and f work at once
        else:
            self.show_form(self.initial_form, **self.initial_values)

    # -- forms --------------------------------------------------------------------------------

    def _form(self, form_id: str) -> Form:
        return next(f for f in FORMS if f.id == form_id)

    @property
    def active_form(self) -> str:
        active = self.query_one("#form-tabs", TabbedContent).active
        return active.removeprefix("form-") if active else "load"

    def show_form(self, form_id: str, **values: Any) -> None:
        form = self._form(form_id)
        if self.job_in_front:  # the forms come back beside the job
            self.job_in_front = False
            self.query_one("#pipeline-body").remove_class("-job-in-front")
            self.query_one("#form-tabs").query_one(Tabs).focus()
            self.refresh_bindings()
        if form_id not in self._built:
            rows = self._rows(form, values)
            self.query_one(f"#{form.id}-fields", VerticalScroll).mount_all(rows)
            values = {}  # the new fields hold them already
        self.query_one("#form-tabs", TabbedContent).active = f"form-{form_id}"
        for f in form.fields:
            if values.get(f.name) is None:
                continue
            widget = self.query_one(f"#{form.id}-{f.name}")
            if isinstance(widget, Input):
                widget.value = str(values[f.name])
            elif isinstance(widget, Select):
                self._select_value(widget, str(values[f.name]))
        self._preview()

    @staticmethod
    def _select_value(widget: Select[str], value: str) -> None:
        options = getattr(widget, "_options", [])
        if any(v == value for _, v in options):
            widget.value = value

    def _fill_choices(self, overview: Any) -> None:
        if overview is None:
            return
        runs = [
            (
                plain(f"{r['run_id']} ({r['algorithm']}, {r['num_clusters'] or '?'})", 60),
                str(r["run_id"]),
            )
            for r in overview.runs
            if r["status"] == "done"
        ]
        datasets = [(NO_DATASET, "")] + [
            (plain(f"{d['label']} ({d['query_count'] or 0:,})", 60), str(d["label"]))
            for d in overview.datasets
        ]
        self._choices = {"run": runs, "dataset": datasets}
        for form in FORMS:
            if form.id not in self._built:
                continue  # built later, with these choices
            for f in form.fields:
                if f.kind not in ("run", "dataset"):
                    continue
                widget = self.query_one(f"#{form.id}-{f.name}", Select)
                keep = widget.value
                widget.set_options(runs if f.kind == "run" else datasets)
                if keep is not Select.BLANK and keep is not None:
                    self._select_value(widget, str(keep))
                elif f.kind == "run" and runs:
                    widget.value = runs[0][1]
                elif f.kind == "dataset":
                    widget.value = ""
        self._preview()

    def values(self, form_id: str) -> dict[str, Any]:
        form = self._form(form_id)
        if form_id not in self._built:
            return self._default_values(form)
        if any(not self.query(f"#{form.id}-{f.name}") for f in form.fields):
            return dict(self._initial[form_id])  # still mounting: what the fields will hold
        out: dict[str, Any] = {}
        for f in form.fields:
            widget = self.query_one(f"#{form.id}-{f.name}")
            value = widget.value if isinstance(widget, Input | Select) else None
            out[f.name] = None if value is Select.BLANK else value
        return out

    def build(self, form_id: str | None = None) -> jobspecs.JobSpec:
        form_id = form_id or self.active_form
        return self._form(form_id).build(self.lmsys.settings, **self.values(form_id))

    def _preview(self) -> None:
        preview = self.query_one("#command-preview", Static)
        try:
            spec = self.build()
        except LmsysError as exc:
            preview.update(inert(f"! {exc.message}", one_line=False))
            preview.add_class("-invalid")
            return
        preview.remove_class("-invalid")
        preview.update(inert(f"$ {spec.command}", one_line=False))
        self.preview_command = spec.command
        if spec.action in ESTIMATED:  # an LLM job: its cost, before it starts
            self.estimate(spec)

    @work(thread=True, exclusive=True, group="pipeline-estimate", exit_on_error=False)
    def estimate(self, spec: jobspecs.JobSpec) -> None:
        line = estimate_line(self.lmsys.settings.db, spec.action, spec.options)
        if line is not None:
            self.post_message(self.Estimated(spec.command, line))

    @dataclass
    class Estimated(Message):
        """What the job of the form would cost (`command`: the form it was read for)."""

        command: str
        line: str

    def on_pipeline_screen_estimated(self, message: Estimated) -> None:
        if message.command == self.preview_command:  # the form has not changed since
            preview = self.query_one("#command-preview", Static)
            preview.update(inert(f"$ {message.command}\n{message.line}", one_line=False))

    def on_input_changed(self, _event: Input.Changed) -> None:
        self._preview()

    def on_select_changed(self, _event: Select.Changed) -> None:
        self._preview()

    def on_tabbed_content_tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        if self.job_in_front:
            return  # the hidden tabs' first activation; the form is built when shown
        if self.active_form not in self._built:
            self.show_form(self.active_form)
        self._preview()

    def action_forms(self) -> None:
        self.show_form(self.active_form)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`f` only while the job fills the screen; Start only while a form shows."""
        if action in ("forms", "start"):
            return self.job_in_front == (action == "forms")
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_start()

    def action_start(self) -> Job | None:
        try:
            spec = self.build()
        except LmsysError as exc:
            self.notify(exc.message, title="Cannot start", severity="error", markup=False)
            return None
        job = self.lmsys.start_job(spec)
        self.select_job(job.id)
        return job

    def headless(self, action_id: str | None = None) -> tuple[str, list[str]] | None:
        return None

    # -- jobs ---------------------------------------------------------------------------------

    def select_job(self, job_id: int) -> None:
        self.selected_job = job_id
        self._show_jobs(0)

    def _show_jobs(self, _version: int) -> None:
        table = self.query_one("#jobs", DataTable)
        now = self.lmsys.clock()
        jobs = sorted(self.lmsys.jobs.values(), key=lambda j: -j.id)
        keys = [str(j.id) for j in jobs]
        if [k.value for k in table.rows] != keys:
            table.clear()
            self._cells_shown.clear()
            for job in jobs:
                cells = self._cells(job, now)
                table.add_row(*cells, key=str(job.id))
                self._cells_shown[str(job.id)] = [c.plain for c in cells]
        else:
            for job in jobs:
                shown = self._cells_shown[str(job.id)]
                for i, (column, cell) in enumerate(
                    zip(COLUMNS, self._cells(job, now), strict=True)
                ):
                    if shown[i] != cell.plain:  # an unchanged cell is not redrawn
                        table.update_cell(str(job.id), column, cell)
                        shown[i] = cell.plain
        if self.selected_job is None and jobs:
            self.selected_job = jobs[0].id
        if self.selected_job is not None and str(self.selected_job) in keys:
            row = table.get_row_index(str(self.selected_job))
            if table.cursor_row != row:
                table.move_cursor(row=row)
        self._show_selected()

    @staticmethod
    def _cells(job: Job, now: float) -> tuple[Any, ...]:
        fraction = job.fraction()
        progress = (
            f"{fraction * 100:.0f}%"
            if fraction is not None
            else ("" if not job.done else f"{job.done:,}")
        )
        eta = job.eta(now)
        return (
            Text(str(job.id), justify="right"),
            inert(job.title, 40),
            inert(job.status),
            Text(progress, justify="right"),
            Text(fmt_seconds(eta) if eta is not None else "", justify="right"),
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "jobs" and event.row_key.value is not None:
            job_id = int(event.row_key.value)
            if job_id != self.selected_job:
                self.selected_job = job_id
                self._show_selected()

    def _show_selected(self) -> None:
        job = self.lmsys.jobs.get(self.selected_job) if self.selected_job is not None else None
        side = self.query_one("#jobs-side")  # not the screen: restyling all of it cost ~0.4 s
        side.set_class(job is None, "-no-job")
        if job is None:
            self._put("#job-title", Text("No jobs yet: fill in a form and press Start."))
            return
        now = self.lmsys.clock()
        self._put("#job-title", inert(f"#{job.id} {job.title} · $ {job.command}", one_line=False))
        bar = self.query_one("#job-bar", ProgressBar)
        if job.total:
            bar.update(total=job.total, progress=job.done)
        elif job.active:
            bar.update(total=None)
        else:
            bar.update(total=1, progress=1 if job.status == "done" else 0)
        status = status_text(job, now)
        if job.note and job.active:
            status += f"\n{job.note}"
        elif job.message:
            status += f"\n{job.message}"
        self._put("#job-status", inert(status, one_line=False))
        side.set_class(job.status == "failed", "-failed")
        log = self.query_one("#job-log", RichLog)
        shown_job, shown_lines = self._log_shown
        if shown_job != job.id or shown_lines > len(job.log):
            log.clear()
            shown_lines = 0
        for line in job.log[shown_lines:]:
            log.write(inert(line, one_line=False))
        self._log_shown = (job.id, len(job.log))

    def _put(self, selector: str, text: Text) -> None:
        """Show `text` in a Static, skipping what is already shown, and asking for a layout
        pass only when its line count changes: this redraws every second while a job runs,
        and a layout pass over this screen's forms costs tens of ms on a busy machine."""
        before = self._shown.get(selector)
        if before == text.plain:
            return
        self._shown[selector] = text.plain
        relayout = before is None or before.count("\n") != text.plain.count("\n")
        self.query_one(selector, Static).update(text, layout=relayout)

    def _tick(self) -> None:
        if any(j.active for j in self.lmsys.jobs.values()):
            self._show_jobs(0)

    def action_cancel_job(self) -> None:
        if self.selected_job is None:
            return
        if self.lmsys.cancel_job(self.selected_job):
            self.notify(f"Cancelling job #{self.selected_job}…", markup=False)
