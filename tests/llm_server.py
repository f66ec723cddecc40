"""A small LLM server on 127.0.0.1 for the tests: OpenAI chat completions + Anthropic messages.

The real openai / anthropic SDKs and instructor talk to it over real HTTP, so the whole client
path (request building, tool calls, JSON mode, error classes, Retry-After headers) is exercised;
only the model itself is replaced, because no model can run here. Answers are deterministic and
valid for the schema the request carries (tool parameters, or the JSON schema instructor puts in
the system message in JSON mode); they read the tagged sections of lmsys-tui's prompts
(`<query>`, `<cluster>`, `<category>`, …) so summaries and hierarchy steps get sensible content.

Switchable faults, each consumed by one request (optionally only by one task): 429 with
Retry-After, 500, a malformed JSON body, a slow reply, an answer naming a parent that does not
exist. `hold_after(n)` makes every request after the n-th wait (for kill-and-resume tests).
Every request is logged with its arrival time, task, prompt key and outcome, so tests measure
rpm and count what was paid.

Run standalone for benchmarks (a separate process keeps the GIL out of the measurement):
    python tests/llm_server.py --latency 0.1        # prints "PORT <n>" then serves
Control a standalone server with POST /_control {"latency": .., "faults": [..]} and GET /_stats.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STOP = {
    "the", "a", "an", "and", "or", "to", "of", "in", "on", "for", "is", "are", "be", "with",
    "that", "this", "it", "as", "at", "by", "from", "you", "your", "i", "me", "my", "we", "can",
    "how", "what", "do", "does", "please", "write", "about", "which", "who", "will", "would",
    "not", "if", "but", "so", "all", "any", "have", "has", "was", "were", "them", "they",
    "queries", "users", "user", "requests", "category", "cluster", "help", "into", "their",
}  # fmt: skip
BAD_PARENT = "A Category Nobody Offered"


@dataclass
class Fault:
    """One injected failure. kind: 429 | 500 | 401 | malformed | slow | bad_parent."""

    kind: str
    task: str | None = None  # only requests for this response model consume it
    match: str | None = None  # only requests whose prompt contains this text consume it
    retry_after: float | None = None
    delay: float = 0.0


@dataclass
class Hit:
    t: float  # time.monotonic() at arrival
    t_end: float
    path: str
    task: str
    prompt_key: str
    status: int
    outcome: str  # ok | 429 | 500 | malformed | slow | bad_parent | held


@dataclass
class ServerState:
    latency: float = 0.0
    faults: deque[Fault] = field(default_factory=deque)
    hits: list[Hit] = field(default_factory=list)
    hold_after: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrivals: int = 0


def _words(text: str) -> list[str]:
    text = re.sub(r"</?[a-z_]+[^>]*>", " ", text)
    return [w for w in re.findall(r"[a-zA-Z][a-zA-Z+#]{2,}", text.lower()) if w not in STOP]


def _tags(text: str, tag: str) -> list[str]:
    return [m.strip() for m in re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.S)]


def _section(text: str, tag: str) -> str:
    m = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, flags=re.S)
    return m.group(1) if m else ""


def _top_words(text: str, n: int) -> list[str]:
    return [w for w, _ in Counter(_words(text)).most_common(n)] or ["general"]


def _int_tag(text: str, tag: str, default: int) -> int:
    m = re.search(rf"<{tag}>\s*(\d+)\s*</{tag}>", text)
    return int(m.group(1)) if m else default


def _answer(task: str, schema: dict[str, Any], prompt: str, fault: Fault | None) -> dict:
    """A deterministic answer for the task that lmsys-tui's prompt asks for."""
    if task == "ClusterSummaryAnswer":
        own = _section(prompt, "cluster_queries") or prompt
        words = _top_words(own, 3)
        title = " ".join(w.capitalize() for w in words[:2]) + " requests"
        return {
            "title": title,
            "description": f"Users ask about {', '.join(words)}. "
            "They want direct, practical answers.",
            "coherence": 4,
        }
    if task == "ProposedParents":
        wanted = max(1, _int_tag(prompt, "desired_count", 2))
        titles = _tags(_section(prompt, "clusters"), "title")
        names = []
        for i in range(wanted):
            part = titles[i::wanted] or titles
            names.append(" ".join(w.capitalize() for w in _top_words(" ".join(part), 2)) + " help")
        return {"names": names}
    if task == "DedupedParents":
        wanted = max(1, _int_tag(prompt, "target_count", 2))
        names, seen = [], set()
        for name in _tags(_section(prompt, "names"), "name"):
            if name.lower() not in seen:
                seen.add(name.lower())
                names.append(name)
        return {"names": names[:wanted]}
    if task == "ParentChoice":
        if fault is not None and fault.kind == "bad_parent":
            return {"category": BAD_PARENT}
        child = set(_words(_section(prompt, "child")))
        options = _tags(_section(prompt, "categories"), "category")
        best = max(options, key=lambda o: len(child & set(_words(o))), default="")
        return {"category": best}
    if task == "ParentName":
        titles = _tags(_section(prompt, "children"), "title")
        words = _top_words(" ".join(titles), 2)
        return {
            "title": " and ".join(w.capitalize() for w in words) + " assistance",
            "description": f"Requests about {' and '.join(words)}. "
            f"It groups {len(titles)} related clusters.",
        }
    if task == "TitleVerdict":  # evaluate titles: a word of the title among the queries
        queries = set(_words(_section(prompt, "queries")))
        return {
            "title_fits": bool(set(_words(_section(prompt, "title"))) & queries),
            "description_fits": bool(set(_words(_section(prompt, "description"))) & queries),
            "reason": "Compared the words of the title and description with the requests.",
        }
    return _from_schema(schema)


def _from_schema(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "object":
        return {k: _from_schema(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_from_schema(schema.get("items", {}))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return "text"


def _schema_from_system(text: str) -> dict[str, Any]:
    """instructor's JSON mode puts the schema in the system message."""
    i = text.find("json_schema:")
    j = text.find("{", i if i >= 0 else 0)
    if j < 0:
        return {}
    try:
        return json.JSONDecoder().raw_decode(text[j:])[0]
    except ValueError:
        return {}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(c.get("text", "") for c in content if isinstance(c, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        try:
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout test): nothing to tell it
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path.startswith("/_stats"):
            st = self.server.state
            with st.lock:
                hits = [asdict(h) for h in st.hits]
            self._send(200, json.dumps({"hits": hits}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        t0 = time.monotonic()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        st = self.server.state
        if self.path.startswith("/_control"):
            self.server.control(json.loads(raw or b"{}"))
            self._send(200, b"{}")
            return
        body = json.loads(raw or b"{}")
        anthropic = self.path.rstrip("/").endswith("/messages")
        task, schema, prompt, system = self._parse(body, anthropic)
        key = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        with st.lock:
            st.arrivals += 1
            held = st.hold_after is not None and st.arrivals > st.hold_after
            fault = None
            for f in list(st.faults):
                if (f.task is None or f.task == task) and (f.match is None or f.match in prompt):
                    fault = f
                    st.faults.remove(f)
                    break
            latency = st.latency

        def log(status: int, outcome: str) -> None:
            with st.lock:
                st.hits.append(Hit(t0, time.monotonic(), self.path, task, key, status, outcome))

        if held:
            st.released.wait(timeout=120)
            log(0, "held")
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        elif latency:
            time.sleep(latency)
        if fault is not None and fault.kind == "429":
            log(429, "429")
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            self._send(429, self._error(anthropic, "rate_limit_error", "slow down"), headers)
            return
        if fault is not None and fault.kind in {"500", "401"}:
            status = int(fault.kind)
            log(status, fault.kind)
            kind = "api_error" if status == 500 else "authentication_error"
            self._send(status, self._error(anthropic, kind, f"fault {status}"))
            return
        if fault is not None and fault.kind == "malformed":
            log(200, "malformed")
            self._send(200, b'{"id": "x", "choices": [ {"message": ')
            return
        answer = _answer(task, schema, prompt, fault)
        model = body.get("model", "test-model")
        tokens_in = max(1, len(system + prompt) // 4)
        tokens_out = max(1, len(json.dumps(answer)) // 4)
        if anthropic:
            payload = {
                "id": f"msg_{key[:12]}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [
                    {"type": "tool_use", "id": f"toolu_{key[:8]}", "name": task, "input": answer}
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
            }
        else:
            if body.get("tools"):
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"call_{key[:8]}",
                            "type": "function",
                            "function": {"name": task, "arguments": json.dumps(answer)},
                        }
                    ],
                }
                finish = "tool_calls"
            else:
                message = {"role": "assistant", "content": json.dumps(answer)}
                finish = "stop"
            payload = {
                "id": f"chatcmpl-{key[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": tokens_in,
                    "completion_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                },
            }
        log(200, fault.kind if fault is not None else "ok")
        self._send(200, json.dumps(payload).encode())

    @staticmethod
    def _error(anthropic: bool, kind: str, message: str) -> bytes:
        if anthropic:
            return json.dumps(
                {"type": "error", "error": {"type": kind, "message": message}}
            ).encode()
        return json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()

    @staticmethod
    def _parse(body: dict[str, Any], anthropic: bool) -> tuple[str, dict, str, str]:
        messages = body.get("messages") or []
        system = _text_of(body.get("system")) if anthropic else ""
        prompt_parts = []
        for m in messages:
            if m.get("role") == "system":
                system += _text_of(m.get("content"))
            else:
                prompt_parts.append(_text_of(m.get("content")))
        prompt = "\n".join(prompt_parts)
        tools = body.get("tools") or []
        if tools:
            tool = tools[0]
            if anthropic:
                return tool.get("name", ""), tool.get("input_schema", {}), prompt, system
            fn = tool.get("function", {})
            return fn.get("name", ""), fn.get("parameters", {}), prompt, system
        schema = _schema_from_system(system)
        return schema.get("title", ""), schema, prompt, system


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, state: ServerState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or are killed mid-request are expected here

    def control(self, cmd: dict[str, Any]) -> None:
        st = self.state
        with st.lock:
            if "latency" in cmd:
                st.latency = float(cmd["latency"])
            for f in cmd.get("faults", []):
                st.faults.append(Fault(**f))
            if cmd.get("reset"):
                st.hits.clear()
                st.arrivals = 0


class LLMServer:
    """The server run on a background thread of the test process."""

    def __init__(self, latency: float = 0.0) -> None:
        self.state = ServerState(latency=latency)
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, kind: str, times: int = 1, **kw: Any) -> None:
        with self.state.lock:
            for _ in range(times):
                self.state.faults.append(Fault(kind, **kw))

    def hold_after(self, n: int | None) -> None:
        """Requests after the n-th (counted from now on) wait until release()."""
        with self.state.lock:
            self.state.arrivals = 0
            self.state.hold_after = n
            self.state.released.clear()

    def release(self) -> None:
        with self.state.lock:
            self.state.hold_after = None
        self.state.released.set()

    @property
    def hits(self) -> list[Hit]:
        with self.state.lock:
            return list(self.state.hits)

    def wait_hits(self, n: int, timeout: float = 5.0) -> list[Hit]:
        """The hits once at least n requests have finished (slow ones finish late)."""
        deadline = time.monotonic() + timeout
        while len(self.hits) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.hits

    def paid(self) -> Counter[str]:
        """Prompt key -> number of valid answers served (what a provider would bill)."""
        return Counter(
            h.prompt_key for h in self.hits if h.status == 200 and h.outcome != "malformed"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = LLMServer(latency=args.latency)
    print(f"PORT {server.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server._server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
