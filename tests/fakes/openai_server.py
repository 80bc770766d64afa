"""A real local HTTP server that speaks enough of the OpenAI API for radprm's client and jobs.

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``.

Each chat request is answered by the first of:

1. ``server.rule(body)``, when set and it returns an `Action` (e.g. fail only for one prompt);
2. the next queued action (``server.enqueue(status(500), reply({...}))``);
3. the default responder: a valid JSON object built from the requested ``response_format`` schema, so a
   whole job can run end to end (``server.responder`` replaces it).

Actions: `reply`, `status` (5xx, 429 with Retry-After, 4xx), `sleep` (past the client timeout, then an
answer), `truncated` (cut JSON, ``finish_reason="length"``), `malformed` (not JSON), `schema_violation`
(JSON the schema rejects), `empty` (empty content), `drop` (close the connection without an answer).

The server logs every chat body (``server.requests``) and every answer sent (``server.responses``:
status and JSON payload), counts requests and records the largest number of
chat requests in flight at once (``server.max_in_flight``).

Usage::

    with FakeOpenAIServer() as server:
        server.enqueue(status(500), status(429, retry_after=0))
        client = LLMClient(server.base_url, "smollm2")
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Action:
    """What the fake server does with one chat request (build with the helper functions)."""

    kind: str
    content: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    retry_after: str | None = None
    body: dict | None = None
    seconds: float = 0.0
    then: Action | None = None


def reply(content: str | dict | list, finish_reason: str = "stop") -> Action:
    """Answer with this content (a dict/list is sent as JSON text)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return Action("reply", content=text, finish_reason=finish_reason)


def status(code: int, retry_after: float | str | None = None, message: str | None = None) -> Action:
    """Answer with an HTTP error status (and a Retry-After header when given)."""
    return Action(
        "status",
        status=code,
        retry_after=None if retry_after is None else str(retry_after),
        body={"error": {"message": message or f"injected HTTP {code}", "type": "FakeError", "code": code}},
    )


def sleep(seconds: float, then: Action | None = None) -> Action:
    """Wait `seconds` (e.g. past the client's timeout), then answer with `then` or the default."""
    return Action("sleep", seconds=seconds, then=then)


def truncated() -> Action:
    """Answer with the default JSON cut in half and ``finish_reason="length"``."""
    return Action("truncated", finish_reason="length")


def malformed(text: str = '{"steps": ["unterminated') -> Action:
    """Answer with text that is not JSON."""
    return Action("reply", content=text)


def schema_violation() -> Action:
    """Answer with valid JSON that the requested schema rejects (a required key missing)."""
    return Action("schema_violation")


def empty() -> Action:
    """Answer with empty content and ``finish_reason="stop"``."""
    return Action("reply", content="")


def drop() -> Action:
    """Close the connection without answering."""
    return Action("drop")


# --- default content from a JSON schema -------------------------------------------------------------


def example_from_schema(schema: dict, root: dict | None = None, name: str = "value") -> Any:
    """A deterministic instance that satisfies the usual JSON-schema keywords of pydantic schemas.

    Args:
        schema: The (sub)schema.
        root: The whole schema, for ``$ref`` to ``#/$defs/...``.
        name: Property name, used to make string values readable.
    """
    root = root if root is not None else schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return example_from_schema(target, root, name)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and not schema.get("required"):
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_from_schema(options[0], root, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example_from_schema(v, root, k) for k, v in props.items()}
    if kind == "array":
        lo = schema.get("minItems", 0)
        n = max(lo, min(2, schema.get("maxItems", 2)))
        items = schema.get("items", {"type": "string"})
        return [example_from_schema(items, root, f"{name} {i + 1}") for i in range(n)]
    if kind == "string":
        text = f"{name} text"
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        text = text.ljust(lo, "x")
        return text[:hi] if hi is not None else text
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 2) - (1 if "exclusiveMaximum" in schema else 0))
        value = min(max(lo, 0), hi) if lo <= hi else lo
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None


def requested_schema(body: dict) -> dict | None:
    """The JSON schema of a chat request's structured-output format, if any."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema")
    structured = body.get("structured_outputs") or {}
    return structured.get("json")


def default_content(body: dict) -> str:
    """Valid JSON for the requested schema, or a short text when no schema was requested."""
    schema = requested_schema(body)
    if schema is None:
        return "Hello from the fake server."
    return json.dumps(example_from_schema(schema))


def _violating_content(body: dict) -> str:
    schema = requested_schema(body) or {}
    value = example_from_schema(schema) if schema else {}
    required = schema.get("required") or []
    if isinstance(value, dict) and required:
        value.pop(required[0], None)
        return json.dumps(value)
    # No required key to drop: send an array where an object is expected.
    return json.dumps([value])


# --- the server ---------------------------------------------------------------------------------------


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0


class FakeOpenAIServer:
    """OpenAI-compatible test server on 127.0.0.1 and a free port, run in a background thread.

    Args:
        models: Model ids listed by /v1/models and accepted by chat requests.
        latency: Seconds every chat request takes (makes concurrency observable).
    """

    def __init__(self, models: tuple[str, ...] | list[str] = ("smollm2",), latency: float = 0.0) -> None:
        self.models = list(models)
        self.latency = latency
        self.queue: deque[Action] = deque()
        self.rule: Callable[[dict], Action | None] | None = None
        self.responder: Callable[[dict], str] = default_content
        self.requests: list[dict] = []
        self.responses: list[tuple[int, Any]] = []
        self.paths: list[str] = []
        self._state = _State()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> FakeOpenAIServer:
        """Bind a free port and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # a short poll interval: shutdown() waits up to one interval, at every test teardown
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; requests still sleeping are woken and dropped."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (where /health lives)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what clients take as base URL."""
        return f"{self.url}/v1"

    # scripting
    def enqueue(self, *actions: Action) -> None:
        """Queue actions for the next chat requests, in arrival order."""
        self.queue.extend(actions)

    def reset(self) -> None:
        """Forget queued actions, the rule, the request log and the in-flight maximum."""
        self.queue.clear()
        self.rule = None
        self.responder = default_content
        self.requests.clear()
        self.responses.clear()
        self.paths.clear()
        with self._state.lock:
            self._state.max_in_flight = 0

    @property
    def chat_count(self) -> int:
        """Chat requests received so far."""
        return len(self.requests)

    @property
    def max_in_flight(self) -> int:
        """The most chat requests that were being handled at the same time."""
        return self._state.max_in_flight

    def _next_action(self, body: dict) -> Action | None:
        if self.rule is not None:
            action = self.rule(body)
            if action is not None:
                return action
        try:
            return self.queue.popleft()
        except IndexError:
            return None

    def _completion(self, body: dict, content: str, finish_reason: str) -> dict:
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion_tokens = (max(1, len(content) // 4) if content else 0) * int(body.get("n") or 1)
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            # `n` answers (rollouts): the same content n times; `responder` may vary it by request
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
                for i in range(int(body.get("n") or 1))
            ],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_words + completion_tokens,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAIServer
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, code: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        if self.command == "POST":
            self.fake.responses.append((code, payload))
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.fake.paths.append(self.path)
        if self.path == "/health":
            self._send(200)
        elif self.path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.models]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "code": 404}})

    def do_POST(self) -> None:  # noqa: N802
        fake = self.fake
        fake.paths.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}", "code": 404}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "code": 400}})
            return
        fake.requests.append(body)
        state = fake._state
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if fake.latency:
                fake._stop.wait(fake.latency)
            self._answer(body, fake._next_action(body))
        finally:
            with state.lock:
                state.in_flight -= 1

    def _answer(self, body: dict, action: Action | None) -> None:
        fake = self.fake
        if body.get("model") not in fake.models:
            self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.",
                                       "type": "NotFoundError", "code": 404}})
            return
        if action is None:
            self._send(200, fake._completion(body, fake.responder(body), "stop"))
        elif action.kind == "sleep":
            if fake._stop.wait(action.seconds):
                self.close_connection = True
                return
            self._answer(body, action.then)
        elif action.kind == "status":
            headers = {"Retry-After": action.retry_after} if action.retry_after is not None else None
            self._send(action.status, action.body, headers)
        elif action.kind == "drop":
            self.close_connection = True
        elif action.kind == "truncated":
            full = fake.responder(body)
            self._send(200, fake._completion(body, full[: max(1, len(full) // 2)], "length"))
        elif action.kind == "schema_violation":
            self._send(200, fake._completion(body, _violating_content(body), "stop"))
        else:
            self._send(200, fake._completion(body, action.content or "", action.finish_reason))
