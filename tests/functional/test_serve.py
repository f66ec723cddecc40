"""`lmsys-tui serve`: the real TUI through textual-serve, opened in headless Chromium.

The server runs as a real process on a free port of 127.0.0.1, on tui_store's fixed run
(`--run-id`, so the tree is the first screen). The page is driven over the DevTools protocol
(tests/browser.py); the terminal draws into a canvas, so the test waits until the glyphs only
the tree shows (its nodes' toggles) have been drawn, then for the picture to settle, and keeps
the screenshot (tmp_path/serve.png). Skipped, saying why, only when no Chromium exists.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time

import pytest
import tui_store
from browser import chromium, open_page
from conftest import run_cli

pytestmark = pytest.mark.anyio
# the tree's node toggle: no other screen draws it (xterm.js draws block characters, such as
# the share bars, as shapes rather than text, so they cannot be told from the canvas calls)
TREE_GLYPHS = {"▶"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"serve did not listen on {port}")


def test_help_says_it_binds_to_localhost(cli_env) -> None:
    out = run_cli(["serve", "--help"], cli_env)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "127.0.0.1" in text and "0.0.0.0" in text


def test_a_bad_port_is_a_usage_error(cli_env) -> None:
    out = run_cli(["serve", "--port", "70000"], cli_env)
    assert out.returncode == 2 and "--port" in out.stderr


@pytest.mark.skipif(chromium() is None, reason="no chromium binary (.ci/run installs it)")
async def test_the_tree_opens_in_headless_chromium(fx, cli_env, tmp_path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lmsys_tui", "serve", "--port", str(port),
         "--db-path", str(fx.db), "--run-id", tui_store.RUN_ID],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_listening(port, server)
        # bound to the loopback address only (the default): the machine's own name is refused
        other = socket.gethostbyname(socket.gethostname())
        if not other.startswith("127."):
            with socket.socket() as s:
                assert s.connect_ex((other, port)) != 0
        async with open_page(f"http://127.0.0.1:{port}/") as page:
            drawn: set[str] = set()
            for _ in range(120):  # up to a minute: the session starts a Python process
                drawn = await page.glyphs()
                if drawn & TREE_GLYPHS and set("Work and code") <= drawn:
                    break
                await asyncio.sleep(0.5)
            assert drawn & TREE_GLYPHS, f"the tree was never drawn (glyphs: {sorted(drawn)})"
            shot, previous = await page.screenshot(), b""
            for _ in range(20):  # until two shots in a row are the same picture
                if shot == previous:
                    break
                await asyncio.sleep(0.5)
                previous, shot = shot, await page.screenshot()
            (tmp_path / "serve.png").write_bytes(shot)
            assert shot[:4] == b"\x89PNG" and len(shot) > 20_000
            errors = [m for m in page.console if "error" in m.lower()]
            assert errors == []
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
