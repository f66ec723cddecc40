"""Headless Chromium for the browser tests, driven over the DevTools protocol (aiohttp's
websocket client, already installed with textual-serve): open a page, record what the page
draws as text, take screenshots, collect console messages. No Selenium, no Playwright.

`glyphs` is every string the page passed to a 2-D canvas' `fillText` (xterm.js draws each
glyph of the terminal that way into its atlas), so a test can wait until the characters only a
given screen shows have been drawn: text that a terminal in a canvas otherwise hides.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

RECORD_TEXT = """
(() => {
  window.__drawn = new Set();
  const original = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    window.__drawn.add(String(text));
    return original.call(this, text, ...rest);
  };
})();
"""


def chromium() -> str | None:
    return next((p for n in ("chromium", "chromium-browser", "google-chrome")
                 if (p := shutil.which(n))), None)  # fmt: skip


class Page:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.console: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        mine = self.next_id
        await self.ws.send_str(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"]["args"]
                self.console.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in args)
                )
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append(str(msg["params"]["exceptionDetails"].get("text")))
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def glyphs(self) -> set[str]:
        found = await self.call(
            "Runtime.evaluate",
            expression="JSON.stringify([...(window.__drawn || [])])",
            returnByValue=True,
        )
        return set(json.loads(found["result"]["value"]))

    async def screenshot(self) -> bytes:
        shot = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


@asynccontextmanager
async def open_page(url: str, width: int = 1200, height: int = 800) -> AsyncIterator[Page]:
    """A fresh headless Chromium showing `url`, text recording on from the first script."""
    import aiohttp

    binary = chromium()
    assert binary is not None
    profile = tempfile.mkdtemp(prefix="lmsys-tui-chromium-")
    proc = subprocess.Popen(
        [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={profile}",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        loop = asyncio.get_running_loop()
        browser_ws = None
        while browser_ws is None:
            line = await loop.run_in_executor(None, proc.stderr.readline)
            if not line:
                raise RuntimeError("chromium exited before its DevTools endpoint was ready")
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            browser_ws = found.group(1) if found else None
        port = re.search(r":(\d+)/", browser_ws).group(1)  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as reply:
                target = next(t for t in await reply.json() if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Runtime.enable")
                await page.call("Page.enable")
                await page.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_TEXT)
                await page.call("Page.navigate", url=url)
                yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
