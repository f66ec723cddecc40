"""The llm_calls ledger: every attempt is written as it completes, and it doubles as a cache.

The reference lost all paid LLM work on one failure. Here each answer is committed the moment
it arrives, keyed by a hash of everything that determines it (model, endpoint, messages,
response schema, sampling parameters), so another server's answers never serve this one. Before
any request the ledger is asked first: an identical prompt that was answered before is served
from it, so a resumed, cancelled or repeated pass pays nothing twice.
Failed attempts are recorded too (status "error"), for cost and latency accounting; only "ok"
rows serve as cache. What a call costs is `pricing`'s to say.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from lmsys_tui.core.store import sql

if TYPE_CHECKING:
    from lmsys_tui.core.store.db import Store


def prompt_hash(model: str, messages: list[dict[str, Any]], schema: Any, params: Any) -> str:
    """Stable key of a request: same key, same answer (temperature 0, same schema)."""
    blob = json.dumps(
        {"model": model, "messages": messages, "schema": schema, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


PREFIX = 16  # hex chars of a prompt hash kept in memory to skip lookups that cannot hit


def known_prefixes(store: Store, model: str) -> set[str]:
    """Prefixes of every answered prompt hash of `model`: one query per pass instead of one
    per request (a miss, the common case, then costs no trip to the database)."""
    with sql.connection(store) as conn:
        found = sql.tuples(
            conn,
            "SELECT DISTINCT substr(prompt_hash, 1, ?) FROM llm_calls WHERE model = ?"
            " AND status = 'ok'",
            (PREFIX, model),
        )
    return {r[0] for r in found}


def lookup(store: Store, model: str, key: str) -> dict[str, Any] | None:
    """The stored answer to an identical prompt, if one was ever paid for."""
    with sql.connection(store) as conn:
        value = sql.scalar(
            conn,
            "SELECT response FROM llm_calls WHERE model = ? AND prompt_hash = ?"
            " AND status = 'ok' AND response IS NOT NULL ORDER BY id DESC LIMIT 1",
            (model, key),
        )
    return json.loads(value) if isinstance(value, str) else value


def record(
    store: Store,
    *,
    stage: str,
    run_id: str | None,
    provider: str,
    model: str,
    key: str,
    tokens_in: int | None,
    tokens_out: int | None,
    latency_ms: float | None,
    cost_usd: float | None,
    status: str,
    response: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Commit one attempt now (called from the pass's single writer thread).

    A plain INSERT on the engine's connection: the ORM's per-row cost (~2 ms) would be paid
    on every request of a pass, while the event loop waits for the GIL.
    """
    with sql.transaction(store) as conn:
        conn.cursor().execute(
            "INSERT INTO llm_calls (stage, run_id, provider, model, prompt_hash, tokens_in,"
            " tokens_out, latency_ms, cost_usd, status, response, error, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stage,
                run_id,
                provider,
                model,
                key,
                tokens_in,
                tokens_out,
                latency_ms,
                cost_usd,
                status,
                None if response is None else json.dumps(response, ensure_ascii=False),
                error,
                sql.db_timestamp(sql.utcnow()),
            ),
        )


def totals(store: Store, run_id: str | None = None, stage: str | None = None) -> dict[str, Any]:
    """Calls, tokens and estimated cost in the ledger (optionally for one run / stage)."""
    where, args = [], []
    if run_id is not None:
        where.append("run_id = ?")
        args.append(run_id)
    if stage is not None:
        where.append("stage = ?")
        args.append(stage)
    query = (
        "SELECT COUNT(*), SUM(status = 'ok'), SUM(status != 'ok'), COALESCE(SUM(tokens_in), 0),"
        " COALESCE(SUM(tokens_out), 0), COALESCE(SUM(cost_usd), 0),"
        " COUNT(DISTINCT prompt_hash) FROM llm_calls"
    )
    if where:
        query += " WHERE " + " AND ".join(where)
    with sql.connection(store) as conn:
        row = sql.tuples(conn, query, args)[0]
    return {
        "calls": row[0],
        "ok": row[1] or 0,
        "errors": row[2] or 0,
        "tokens_in": row[3],
        "tokens_out": row[4],
        "cost_usd": round(row[5], 6),
        "distinct_prompts": row[6],
    }
