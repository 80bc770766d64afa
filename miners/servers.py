"""Several OpenAI-compatible servers behind one job: least-outstanding-requests routing and health.

`ServerPool` holds one `openai.AsyncOpenAI` per server URL. Every request goes to the healthy server
with the fewest requests in flight (ties: the one that has been sent the fewest requests), so a slow or
busy server gets less work without any tuning. A server is taken out of rotation when

* it does not answer the start-up check (`/v1/models`, the model listed): reported and skipped, as long
  as one server works; or
* `DOWN_AFTER` requests in a row failed for server-side reasons (5xx, 429, timeout, connection error).

A server that is out is probed again (`/v1/models`) once its cool-down has passed (doubling from
`COOLDOWN_S` up to `COOLDOWN_MAX_S`); when the probe answers it is back in rotation. While every server is
out, requests still go to the one whose cool-down ends first, so the client's own retries, backoff and
fail-fast decide when the job gives up, exactly as with one server.

Per-server counters (requests, tokens, errors, whether it was taken out) are kept in the job's
`ClientMetrics.servers` and printed in the summary.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from radprm.errors import InputError

DOWN_AFTER = 3
COOLDOWN_S = 5.0
COOLDOWN_MAX_S = 60.0
PROBE_TIMEOUT_S = 5.0


def split_urls(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Server URLs from `--base-url` values: repeated, comma- or space-separated, or ``@FILE`` (one a line).

    Lines of a file that are empty or start with ``#`` are skipped. Duplicates are dropped (first kept),
    trailing slashes removed.

    Raises:
        InputError: an ``@FILE`` that cannot be read, or one that lists no URL (naming the file).
    """
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    urls: list[str] = []
    for part in parts:
        for token in str(part).replace(",", " ").split():
            if token.startswith("@"):
                path = Path(token[1:]).expanduser()
                try:
                    lines = path.read_text(encoding="utf-8").splitlines()
                except OSError as exc:
                    raise InputError(f"cannot read the server list: {exc.strerror}", path=path,
                                     field="base_url") from None
                found = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
                if not found:
                    raise InputError("the server list names no URL", path=path, field="base_url",
                                     hint="one OpenAI-compatible /v1 URL a line")
                urls.extend(found)
            else:
                urls.append(token)
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(url.rstrip("/"), None)
    return list(seen)


@dataclass
class Server:
    """One server of the pool and its counters."""

    url: str
    client: Any
    outstanding: int = 0
    requests: int = 0
    ok: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors_in_row: int = 0
    up: bool = True
    times_down: int = 0
    retry_at: float = 0.0
    cooldown: float = COOLDOWN_S
    last_error: str | None = None
    skipped_at_start: bool = False
    probing: bool = field(default=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Counters for the job summary."""
        return {
            "requests": self.requests, "ok": self.ok, "errors": self.errors,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "times_down": self.times_down, "up": self.up, "skipped_at_start": self.skipped_at_start,
            "last_error": self.last_error,
        }


class ServerPool:
    """The servers of one client (one or more URLs), with routing and health.

    Args:
        urls: Server URLs ending in /v1 (at least one).
        api_key: Bearer token for every server.
        timeout: Seconds per request.
        clock: Monotonic clock, replaceable in tests.
    """

    def __init__(self, urls: list[str], *, api_key: str = "EMPTY", timeout: float = 120.0,
                 clock: Any = time.monotonic) -> None:
        if not urls:
            raise InputError("no model server given", field="base_url")
        self._clock = clock
        self.servers = [
            Server(u, openai.AsyncOpenAI(base_url=u, api_key=api_key, timeout=timeout, max_retries=0)) for u in urls
        ]
        self._probes: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self.servers)

    @property
    def first(self) -> Server:
        """The first server given (the only one of a one-server pool)."""
        return self.servers[0]

    def pick(self, avoid: Server | None = None) -> Server:
        """The server for the next request: healthy, fewest in flight, then fewest sent.

        Args:
            avoid: A server that just failed this request; used only when no other is healthy.
        """
        now = self._clock()
        for s in self.servers:
            if not s.up and not s.probing and now >= s.retry_at:
                self._start_probe(s)
        healthy = [s for s in self.servers if s.up]
        choices = [s for s in healthy if s is not avoid] or healthy
        if not choices:  # all out: the one back soonest; the client's retries and fail-fast decide
            return min(self.servers, key=lambda s: s.retry_at)
        return min(choices, key=lambda s: (s.outstanding, s.requests))

    def record(self, server: Server, *, ok: bool, server_error: bool, detail: str | None = None,
               prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Count one finished request on `server`.

        Args:
            ok: It got a usable HTTP 200.
            server_error: It failed for a server-side reason (counts towards taking the server out).
            detail: What went wrong.
            prompt_tokens: Tokens of the response received.
            completion_tokens: Tokens of the response received.
        """
        server.prompt_tokens += prompt_tokens
        server.completion_tokens += completion_tokens
        if server_error:
            server.errors += 1
            server.errors_in_row += 1
            server.last_error = detail
            if server.up and server.errors_in_row >= DOWN_AFTER and len(self.servers) > 1:
                self.take_out(server, detail)
        else:
            server.ok += ok
            server.errors_in_row = 0
            server.cooldown = COOLDOWN_S

    def take_out(self, server: Server, detail: str | None = None) -> None:
        """Take `server` out of rotation until its cool-down has passed and a probe answers."""
        server.up = False
        server.times_down += 1
        server.last_error = detail or server.last_error
        server.retry_at = self._clock() + server.cooldown
        server.cooldown = min(COOLDOWN_MAX_S, server.cooldown * 2)

    def _start_probe(self, server: Server) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        server.probing = True
        task = loop.create_task(self._probe(server))
        self._probes.add(task)
        task.add_done_callback(self._probes.discard)

    async def _probe(self, server: Server) -> None:
        try:
            await server.client.models.list(timeout=PROBE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure keeps it out for another cool-down
            server.retry_at = self._clock() + server.cooldown
            server.cooldown = min(COOLDOWN_MAX_S, server.cooldown * 2)
            server.last_error = f"probe: {type(exc).__name__}"
        else:
            server.up = True
            server.errors_in_row = 0
        finally:
            server.probing = False

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per-server counters by URL."""
        return {s.url: s.as_dict() for s in self.servers}

    async def aclose(self) -> None:
        """Stop probes and close every server's connections."""
        for task in list(self._probes):
            task.cancel()
        await asyncio.gather(*self._probes, return_exceptions=True)
        for s in self.servers:
            await s.client.close()
