"""What the `edit` commands take, named as the reference `lmsys edit` names them.

Id lists are written as the reference writes them, comma-separated (`--query-ids 3,7,9`,
`--source 2,5`) and checked here (one-line error naming the flag). `EditBy` (who and why) is
shared by every command that changes something; the run is the command's `RunArg`.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmsys_tui.core.curate.labels import QUALITIES
from lmsys_tui.core.options import Options, option
from lmsys_tui.errors import UsageError


def id_list(flag: str, text: str | None) -> list[int]:
    """`"3, 7,9"` -> [3, 7, 9]; anything else is a usage error naming `flag`."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"{flag} must be comma-separated ids, not {text!r}") from None


@dataclass(frozen=True)
class EditBy(Options):
    """Who made the edit (default: the OS user) and why."""

    editor: str | None = option()
    reason: str | None = option()


@dataclass(frozen=True)
class MoveOptions(Options):
    """`move-query` (--query-id) and `move-queries` (--query-ids)."""

    to_cluster: int | None = option(missing="--to-cluster: name the cluster to move to")
    query_id: int | None = option()
    query_ids: str | None = option()

    def ids(self) -> list[int]:
        if self.query_id is not None:
            return [self.query_id]
        found = id_list("--query-ids", self.query_ids)
        if not found:
            raise UsageError("--query-ids names no query")
        return found


@dataclass(frozen=True)
class RenameOptions(Options):
    cluster_id: int | None = option(missing="--cluster-id: name the cluster")
    title: str | None = option()
    description: str | None = option()
    hierarchy_run_id: str | None = option()  # rename that hierarchy's node instead


@dataclass(frozen=True)
class MergeEditOptions(Options):
    source: str | None = option(missing="--source: name the clusters to merge (2,5)")
    target: int | None = option(missing="--target: name the cluster to merge into")
    new_title: str | None = option()
    new_description: str | None = option()


@dataclass(frozen=True)
class SplitOptions(Options):
    cluster_id: int | None = option(missing="--cluster-id: name the cluster")
    query_ids: str | None = option()
    new_title: str | None = option(missing="--new-title: name the new cluster")
    new_description: str | None = option()


@dataclass(frozen=True)
class DeleteClusterOptions(Options):
    cluster_id: int | None = option(missing="--cluster-id: name the cluster")
    orphan: bool = option(False)
    move_to: int | None = option()


@dataclass(frozen=True)
class TagOptions(Options):
    cluster_id: int | None = option(missing="--cluster-id: name the cluster")
    coherence: int | None = option(minimum=1)
    quality: str | None = option(choices=QUALITIES, lower=True)
    notes: str | None = option()

    def check(self) -> None:
        if self.coherence is not None and self.coherence > 5:
            raise UsageError("--coherence must be between 1 and 5")


@dataclass(frozen=True)
class FlagOptions(Options):
    cluster_id: int | None = option(missing="--cluster-id: name the cluster")
    flag: str | None = option(missing="--flag: say what to flag (e.g. language_mixing)")


@dataclass(frozen=True)
class HistoryOptions(Options):
    cluster_id: int | None = option()
    since: str | None = option()  # audit only


@dataclass(frozen=True)
class BadClusterOptions(Options):
    max_size: int | None = option(minimum=0)
    min_size: int | None = option(minimum=0)
    min_languages: int | None = option(minimum=1)
    quality: str | None = option(choices=QUALITIES, lower=True)
    max_coherence: int | None = option(minimum=1)


@dataclass(frozen=True)
class UndoOptions(Options):
    """`edit undo [EDIT_ID]`: the edit (default: the newest one left, of --run if given)."""

    run: str | None = option()
