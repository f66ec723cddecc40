"""A small Cohere embed server on 127.0.0.1 for the tests: `POST /v2/embed` in the v2 shape.

The real `cohere` SDK talks to it over real HTTP (point it here with $CO_API_URL); only the
model is replaced, because none can run here. Vectors are hashed bags of words folded into the
requested `output_dimension` (default 1536), so texts that share words get close vectors and
clustering over them means something; the same text always gets the same vector. Requests are
logged (path, auth header, body) so tests check what the SDK sent; `reject_key` makes every
request a 401.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORD = re.compile(r"\w+")


def vector(text: str, dim: int) -> list[float]:
    out = [0.0] * dim
    for word in WORD.findall(text.lower()) or [text]:
        digest = hashlib.sha256(word.encode()).digest()
        out[int.from_bytes(digest[:4], "little") % dim] += 1.0 if digest[4] & 1 else -1.0
    return out


@dataclass
class Request:
    path: str
    authorization: str
    body: dict[str, Any]


@dataclass
class State:
    requests: list[Request] = field(default_factory=list)
    reject_key: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        st = self.server.state
        with st.lock:
            st.requests.append(Request(self.path, self.headers.get("Authorization", ""), body))
        if st.reject_key:
            self._send(401, {"message": "invalid api token"})
            return
        if self.path.rstrip("/") != "/v2/embed":
            self._send(404, {"message": f"no route {self.path}"})
            return
        texts = body.get("texts")
        if not isinstance(texts, list) or not body.get("model") or not body.get("input_type"):
            self._send(400, {"message": "model, input_type and texts are required"})
            return
        dim = int(body.get("output_dimension") or 1536)
        self._send(
            200,
            {
                "id": str(uuid.uuid4()),
                "embeddings": {"float": [vector(t, dim) for t in texts]},
                "texts": texts,
                "meta": {
                    "api_version": {"version": "2"},
                    "billed_units": {"input_tokens": sum(len(t.split()) for t in texts)},
                },
                "response_type": "embeddings_by_type",
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class CohereServer:
    """The server on a background thread of the test process; `url` is for $CO_API_URL."""

    def __init__(self) -> None:
        self.state = State()
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[Request]:
        with self.state.lock:
            return list(self.state.requests)

    def __enter__(self) -> CohereServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
