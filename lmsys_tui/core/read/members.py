"""The one pager over queries: a node's (or a run's, or the store's) queries, a page at a time.

Pages are keyset-paged, never OFFSET, so page 1,000 costs what page 1 costs. Orders: `id`,
`distance` (closest to the centroid first) and `-distance` (farthest first); members without a
distance (noise) come after the others, in id order. The keyset is (phase, distance, query id)
with phase 0 = has a distance, 1 = has none, so pages never overlap or skip a row, even on
ties, and each page is an index range scan per cluster (ix_query_clusters_run_cluster_distance),
however deep. A node over many clusters merges one scan per cluster.

Callers: the headless `list` (any order, with filters), `inspect` and `list-clusters` (the most
central queries), the TUI's drill-down (`query_page`) and the detail panel's examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lmsys_tui.core.read.runs import View
from lmsys_tui.core.store.sql import IN_IDS, id_list, reader, rows
from lmsys_tui.errors import Cancelled, UsageError

CancelCheck = Callable[[], bool]
ORDERS = ("id", "distance", "-distance")
MAX_PAGE = 10_000
_SPLIT_MAX = 300  # above this many clusters, one statement over all of them (sorted by SQLite)
_CURSOR_TAG = {"distance": "near", "-distance": "far"}


@dataclass(frozen=True)
class Scope:
    """Which queries to page: the members of a run (all of them, or those of some clusters),
    or every query in the store (`run_id` None: id order only); narrowed by model, language
    and dataset."""

    run_id: str | None = None
    cluster_ids: tuple[int, ...] | None = None
    model: str | None = None
    language: str | None = None
    dataset_id: int | None = None

    def narrowing(self) -> tuple[list[str], list[Any]]:
        """SQL conditions on `queries q` for the filters, with their arguments."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("q.dataset_id", self.dataset_id),
            ("q.model", self.model),
            ("q.language", self.language),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        return where, args


class Key(NamedTuple):
    """Where a row sits in a walk: (phase, distance, query id), and the cluster it is in."""

    phase: int
    distance: float | None
    query_id: int
    cluster_id: int | None


# (order, phase) -> (rows of the phase, after the keyset, sort); one index range scan each
_PHASES = {
    ("distance", 0): ("qc.distance IS NOT NULL", "(qc.distance, qc.query_id) > (?, ?)",
                      "qc.distance, qc.query_id"),
    ("-distance", 0): ("qc.distance IS NOT NULL", "(qc.distance, qc.query_id) < (?, ?)",
                       "qc.distance DESC, qc.query_id DESC"),
    ("id", 0): ("1 = 1", "qc.query_id > ?", "qc.query_id"),
    ("distance", 1): ("qc.distance IS NULL", "qc.query_id > ?", "qc.query_id"),
    ("-distance", 1): ("qc.distance IS NULL", "qc.query_id > ?", "qc.query_id"),
}  # fmt: skip


def check_order(order: str) -> None:
    if order not in ORDERS:
        raise UsageError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")


def _sort_key(order: str, key: Key) -> tuple[Any, ...]:
    if order == "-distance" and key.phase == 0:
        return (0, -(key.distance or 0.0), -key.query_id)
    distance = key.distance if key.phase == 0 and order != "id" else 0.0
    return (key.phase, distance, key.query_id)


def _store_keys(conn: Any, scope: Scope, after: tuple[Any, ...] | None, n: int) -> list[Key]:
    where, args = scope.narrowing()
    found = rows(
        conn,
        f"SELECT q.id FROM queries q WHERE {' AND '.join(['q.id > ?', *where])}"
        " ORDER BY q.id LIMIT ?",
        (after[2] if after is not None else -1, *args, n),
    )
    return [Key(0, None, int(r["id"]), None) for r in found]


def member_keys(
    conn: Any,
    scope: Scope,
    order: str,
    after: tuple[Any, ...] | None,
    n: int,
    cancelled: CancelCheck | None = None,
) -> list[Key]:
    """The first `n` keys after the keyset `after` (None: from the start)."""
    check_order(order)
    if scope.run_id is None:
        if order != "id":
            raise UsageError("a distance order needs a run (distances belong to a run)")
        return _store_keys(conn, scope, after, n)
    clusters = scope.cluster_ids
    if clusters is None and order != "id":  # one range scan per cluster beats sorting the run
        clusters = tuple(
            int(r["cluster_id"])
            for r in rows(conn, "SELECT cluster_id FROM clusters WHERE run_id = ?", (scope.run_id,))
        )
    if clusters is None:
        groups: list[tuple[int, ...] | None] = [None]
    elif len(clusters) <= _SPLIT_MAX:
        groups = [(c,) for c in clusters]
    else:
        groups = [clusters]
    joins, narrow, narrow_args = "", *scope.narrowing()
    if narrow:
        joins = " JOIN queries q ON q.id = qc.query_id"
    out: list[Key] = []
    for phase in (0,) if order == "id" else (0, 1):
        if after is not None and after[0] > phase:
            continue
        present, keyset, by = _PHASES[(order, phase)]
        after_args: tuple[Any, ...] = ()
        if after is not None and after[0] == phase:
            after_args = (after[1], after[2]) if keyset.count("?") == 2 else (after[2],)
        else:
            keyset = "1 = 1"
        found: list[Key] = []
        for group in groups:
            if cancelled is not None and cancelled():
                raise Cancelled("cancelled")
            where = ["qc.run_id = ?", present, keyset, *narrow]
            args: list[Any] = [scope.run_id, *after_args, *narrow_args]
            if group is not None and len(group) == 1:
                where.insert(1, "qc.cluster_id = ?")
                args.insert(1, group[0])
            elif group is not None:
                where.insert(1, f"qc.cluster_id {IN_IDS}")
                args.insert(1, id_list(group))
            found.extend(
                Key(phase, r["distance"] if phase == 0 else None, int(r["query_id"]),
                    int(r["cluster_id"]))
                for r in rows(
                    conn,
                    "SELECT qc.query_id, qc.cluster_id, qc.distance FROM query_clusters qc"
                    f"{joins} WHERE {' AND '.join(where)} ORDER BY {by} LIMIT ?",
                    (*args, n - len(out)),
                )
            )  # fmt: skip
        found.sort(key=lambda k: _sort_key(order, k))
        out.extend(found[: n - len(out)])
        if len(out) >= n:
            break
    return out


def central(
    conn: Any, run_id: str, cluster_ids: list[int], per_cluster: int
) -> dict[int, list[Key]]:
    """The `per_cluster` most central members of each cluster (closest to its centroid)."""
    if per_cluster <= 0:
        return {c: [] for c in cluster_ids}
    return {
        c: member_keys(conn, Scope(run_id, (c,)), "distance", None, per_cluster)
        for c in cluster_ids
    }


# -- cursors: a page's end as one string, for the headless `--after` ----------------------------


def cursor(order: str, key: Key) -> str:
    """The `next_after` a script passes back: the query id in id order, else
    `near|far:<phase>:<distance>:<query id>` (the distance exact, as `repr` writes it)."""
    if order == "id":
        return str(key.query_id)
    distance = "" if key.distance is None else repr(float(key.distance))
    return f"{_CURSOR_TAG[order]}:{key.phase}:{distance}:{key.query_id}"


def parse_cursor(order: str, text: str) -> tuple[Any, ...]:
    """The keyset of a `cursor` string; UsageError when it is not one for this order."""
    bad = UsageError(f"--after {text!r} is not a next_after value of a list in {order} order")
    if order == "id":
        try:
            return (0, None, int(text))
        except ValueError:
            raise bad from None
    parts = text.split(":")
    if len(parts) != 4 or parts[0] != _CURSOR_TAG[order] or parts[1] not in ("0", "1"):
        raise bad
    try:
        distance = float(parts[2]) if parts[1] == "0" else None
        return (int(parts[1]), distance, int(parts[3]))
    except ValueError:
        raise bad from None


# -- the TUI's drill-down ------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryPage:
    rows: list[dict[str, Any]]
    order: str
    after: tuple[Any, ...] | None
    next_after: tuple[Any, ...] | None  # None: this is the last page
    cluster_ids: list[int] = field(default_factory=list)


def clipped_texts(conn: Any, ids: list[int], width: int) -> dict[int, dict[str, Any]]:
    """Model, language, full length and the first `width` characters of these queries."""
    found = rows(
        conn,
        "SELECT id, model, language, length(query_text) AS chars, substr(query_text, 1, ?)"
        f" AS text FROM queries WHERE id {IN_IDS}",
        (width, id_list(ids)),
    )
    return {int(r["id"]): r for r in found}


def query_page(
    view: View,
    cluster_ids: list[int],
    *,
    order: str = "distance",
    after: tuple[Any, ...] | None = None,
    limit: int = 100,
    width: int = 300,
    cancelled: CancelCheck | None = None,
) -> QueryPage:
    """One page of a node's queries (texts clipped to `width`); pass the page's `next_after`
    back for the next one."""
    check_order(order)
    if not 0 < limit <= MAX_PAGE:
        raise UsageError(f"limit must be between 1 and {MAX_PAGE}")
    if not cluster_ids:
        return QueryPage([], order, after, None, [])
    scope = Scope(view.run_id, tuple(cluster_ids))
    with reader(view.db, cancelled) as conn:
        keys = member_keys(conn, scope, order, after, limit + 1, cancelled)
        page = keys[:limit]
        ids = [k.query_id for k in page]
        texts = clipped_texts(conn, ids, width)
        conf = {
            int(r["query_id"]): r["confidence_score"]
            for r in rows(
                conn,
                "SELECT query_id, confidence_score FROM query_clusters WHERE run_id = ?"
                f" AND query_id {IN_IDS}",
                (view.run_id, id_list(ids)),
            )
        }
    out = []
    for k in page:
        t = texts.get(k.query_id, {})
        out.append(
            {
                "query_id": k.query_id,
                "cluster_id": k.cluster_id,
                "distance": k.distance,
                "confidence": conf.get(k.query_id),
                "model": t.get("model"),
                "language": t.get("language"),
                "chars": t.get("chars", 0),
                "text": t.get("text", ""),
            }
        )
    next_after = tuple(page[-1][:3]) if len(keys) > limit else None
    return QueryPage(out, order, after, next_after, list(cluster_ids))
