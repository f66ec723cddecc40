"""The LLM call cache answers only for the server that gave the answer; a password in
--base-url is never stored nor printed.

Real summarize processes, the real SDKs over HTTP to tests/llm_server.py, and a dead URL
(127.0.0.1:9, nothing listens there) for the server that is gone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import summary_fixtures as fx
from conftest import run_cli
from summary_fixtures import N_CLUSTERS

from lmsys_tui.core.llm.providers import (
    make_client,
    redact_url,
    resolve_model,
    resumed_url,
    stored_url,
)
from lmsys_tui.errors import UsageError

DEAD = "http://127.0.0.1:9/v1"
FEW = ["--cluster-id", "0", "--cluster-id", "1", "--cluster-id", "2"]


def _env(cli_env: dict[str, str]) -> dict[str, str]:
    # fail fast against the dead URL: one attempt, a short timeout
    return cli_env | {
        "OPENAI_API_KEY": "test-key",
        "LMSYS_TUI_LLM_RETRY_BASE": "0.01",
        "LMSYS_TUI_LLM_MAX_ATTEMPTS": "1",
        "LMSYS_TUI_LLM_TIMEOUT": "5",
    }


def _summarize(env: dict[str, str], url: str, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        ["--headless", "summarize", fx.RUN_ID, "--model", "openai/gpt-4o-mini", "--base-url",
         url, *FEW, "--json", *extra],
        env,
    )  # fmt: skip


def test_a_dead_server_is_never_answered_from_another_servers_cache(db, cli_env, server) -> None:
    env = _env(cli_env)
    first = _summarize(env, server.openai_url)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["llm"]["paid"] == 3
    # same server, same prompts: answered from the ledger, nothing paid twice
    again = _summarize(env, server.openai_url)
    assert again.returncode == 0, again.stderr
    llm = json.loads(again.stdout)["llm"]
    assert (llm["cached"], llm["requests"]) == (3, 0)
    # another (dead) server: stopped by the probe, nothing "cached" from the live one
    dead = _summarize(env, DEAD)
    assert dead.returncode == 4 and dead.stdout == "", dead.stderr
    assert max(server.paid().values()) == 1 and len(server.paid()) == 3
    # the SDK's own URL variable is an endpoint too: the same server by either route
    via_env = run_cli(
        ["--headless", "summarize", fx.RUN_ID, "--model", "openai/gpt-4o-mini", *FEW, "--json"],
        env | {"OPENAI_BASE_URL": server.openai_url},
    )
    assert via_env.returncode == 0 and json.loads(via_env.stdout)["llm"]["cached"] == 3
    assert N_CLUSTERS > 3


def test_a_password_in_the_base_url_is_not_stored_nor_printed(db, cli_env, server) -> None:
    env = _env(cli_env)
    url = server.openai_url.replace("http://", "http://alice:s3cret-pw@")
    out = _summarize(env, url)
    assert out.returncode == 0, out.stderr
    verbose = run_cli(
        ["--headless", "-v", "summarize", fx.RUN_ID, "--model", "openai/gpt-4o-mini",
         "--base-url", url, "--cluster-id", "3", "--json"],
        env,
    )  # fmt: skip
    assert verbose.returncode == 0, verbose.stderr
    assert "s3cret-pw" not in out.stdout + out.stderr + verbose.stdout + verbose.stderr
    stored = fx.query(db, "SELECT parameters FROM summary_runs")
    assert stored and all("s3cret-pw" not in p for (p,) in stored)
    assert json.loads(stored[0][0])["base_url"] == redact_url(url)
    errors = fx.query(db, "SELECT COALESCE(error, '') FROM llm_calls")
    assert not any("s3cret-pw" in e for (e,) in errors)
    for path in db.parent.iterdir():  # the store, its WAL, the embeddings: nowhere on disk
        assert b"s3cret-pw" not in path.read_bytes(), path


def test_the_password_still_reaches_the_server_as_basic_auth() -> None:
    """Taken out of the URL, the user info is sent as the same Basic header httpx would send."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps({"object": "list", "data": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://al%40ice:s3cret:pw@127.0.0.1:{server.server_address[1]}/v1"
        spec = resolve_model("compat/some-model", url)
        _client, raw = make_client(spec, timeout=5)
        assert "s3cret" not in str(raw.base_url)

        async def listing() -> None:
            await raw.models.list()
            await raw.close()

        asyncio.run(listing())
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["Basic " + base64.b64encode(b"al@ice:s3cret:pw").decode()]


def test_a_resumed_merge_asks_for_the_password_again() -> None:
    saved = stored_url("http://u:pw@h/v1")
    assert saved == "http://u:***@h/v1"
    assert resumed_url(saved, "http://u:pw@h/v1") == "http://u:pw@h/v1"
    with pytest.raises(UsageError, match="give --base-url again"):
        resumed_url(saved, None)
    with pytest.raises(UsageError):
        resumed_url(saved, "http://other:pw@h/v1")
    assert resumed_url("http://h/v1", None) == "http://h/v1"
    assert resumed_url(None, None) is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@h:8/v1", "http://u:***@h:8/v1"),
        ("http://h/v1", "http://h/v1"),
        ("https://tok@h/v1", "https://tok@h/v1"),
        ("http://u:p:q@[::1]:8/x?y=1", "http://u:***@[::1]:8/x?y=1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# -- an endpoint that is malformed, dead or refusing: said at once --------------------------


@pytest.mark.parametrize("url", ["not-a-url", "ftp://127.0.0.1/v1", "http:///v1", "http://h:x/v1"])
def test_a_malformed_base_url_is_a_usage_error(url, cli_env) -> None:
    for command in ("summarize", "merge-clusters"):
        out = run_cli(["--headless", command, "some-run", "--base-url", url], cli_env)
        assert out.returncode == 2, out.stderr
        assert "--base-url" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def _one_line_and_no_pass(out, db, url: str) -> None:  # type: ignore[no-untyped-def]
    assert out.returncode == 4, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0], out.stderr
    assert fx.query(db, "SELECT COUNT(*) FROM llm_calls") == [(0,)]


def test_a_dead_endpoint_stops_summarize_and_merge_before_a_pass(db, cli_env) -> None:
    env = _env(cli_env) | {"LMSYS_TUI_LLM_MAX_ATTEMPTS": "5"}
    summ = _summarize(env, DEAD)
    _one_line_and_no_pass(summ, db, DEAD)
    assert fx.query(db, "SELECT COUNT(*) FROM summary_runs") == [(0,)]
    offline = run_cli(["--headless", "summarize", fx.RUN_ID, *FEW, "--model", "offline"], env)
    assert offline.returncode == 0, offline.stderr
    merge = run_cli(
        ["--headless", "merge-clusters", fx.RUN_ID, "--model", "openai/gpt-4o-mini",
         "--base-url", DEAD, "--json"],
        env,
    )  # fmt: skip
    _one_line_and_no_pass(merge, db, DEAD)
    assert fx.query(db, "SELECT COUNT(*) FROM hierarchy_runs") == [(0,)]


def test_ollama_with_nothing_listening_is_one_line(db, cli_env) -> None:
    env = cli_env | {"OLLAMA_BASE_URL": DEAD}  # the default port may have a real ollama
    out = run_cli(["--headless", "summarize", fx.RUN_ID, "--model", "ollama/llama3"], env)
    _one_line_and_no_pass(out, db, DEAD)


def test_a_refusing_endpoint_is_one_line(db, cli_env) -> None:
    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        out = _summarize(_env(cli_env), url)
    finally:
        server.shutdown()
        server.server_close()
    _one_line_and_no_pass(out, db, url)
    assert "HTTP 401" in out.stderr


# -- a server that accepts and never answers: bounded, and SIGTERM is a cancel --------------


class _Silent(BaseHTTPRequestHandler):
    """Answers the probe, then holds every LLM request open without a word."""

    posts: ClassVar[list[float]] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        type(self).posts.append(time.monotonic())
        time.sleep(30)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def silent() -> Iterator[str]:
    _Silent.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_silent_server_costs_each_cluster_its_deadline_only(db, cli_env, silent) -> None:
    env = _env(cli_env) | {"LMSYS_TUI_LLM_MAX_ATTEMPTS": "5"}
    started = time.monotonic()
    out = _summarize(env, silent, "--request-timeout", "0.5", "--cluster-deadline", "1.5")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert (report["done"], report["failed"]) == (0, 3)
    assert time.monotonic() - started < 60
    assert fx.query(db, "SELECT status FROM summary_runs") == [("done",)]


@pytest.mark.parametrize(
    ("command", "table"), [("summarize", "summary_runs"), ("merge-clusters", "hierarchy_runs")]
)
def test_sigterm_cancels_like_ctrl_c(command, table, db, cli_env, silent) -> None:
    if command == "merge-clusters":
        offline = run_cli(["--headless", "summarize", fx.RUN_ID, "--model", "offline"], cli_env)
        assert offline.returncode == 0, offline.stderr
    cmd = [sys.executable, "-m", "lmsys_tui", "--headless", command, fx.RUN_ID, "--model",
           "openai/gpt-4o-mini", "--base-url", silent]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=_env(cli_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _Silent.posts and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _Silent.posts, "no request reached the server"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert ("cancelled",) in fx.query(db, f"SELECT status FROM {table}")
    assert ("running",) not in fx.query(db, f"SELECT status FROM {table}")
