"""Async client for an OpenAI-compatible server (vLLM): structured outputs, retries, cache, metrics.

One `LLMClient` per job. `complete_json` never raises for a single bad request: it returns a
`CallResult` whose `error_code` says what went wrong, so the caller can quarantine the item with its raw
text and reason while the rest of the batch carries on. Only problems that make the whole job pointless
(server unreachable at start, model not served) raise `ModelError`.

Error codes and what the client does about them:

================  ==============================================  =====================================
code              meaning                                         retried?
================  ==============================================  =====================================
http_5xx          server error (500-599)                          yes, backoff (`max_retries`)
rate_limited      HTTP 429                                        yes, honours Retry-After
timeout           no answer within `timeout` (or HTTP 408)        yes, backoff
connection_error  connection refused / reset                      yes, backoff
bad_response      HTTP 200 without a usable body (no choices)     yes, backoff
truncated         finish_reason == "length": out of max_tokens    no: the same request would be cut
                                                                  again; raise max_tokens or bound the
                                                                  schema
malformed_json    content is not JSON (or is empty)               yes, `invalid_retries` times with a
schema_violation  JSON that the response model rejects            new seed (sampling may fix it); never
                                                                  at temperature 0 (greedy repeats it)
http_4xx          other client errors (bad request, 404 model)    no
================  ==============================================  =====================================

Transient retries wait with exponential backoff and full jitter
(``uniform(0, min(backoff_max, backoff_base * 2**n))``); a Retry-After header replaces that wait (up to
`backoff_max`). A waiting retry does not hold a concurrency slot.

The `concurrency` slots go to waiting requests by `priority` (`RequestSlots`): a chain's calls pass the
number of calls it has left, so when more chains are in flight than slots, the chains furthest from their
end go first and the last chains of a job end together instead of one call after the other with idle
slots (the tail `bench/bench_e2e.py` measures).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import heapq
import itertools
import json
import random
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import openai
from pydantic import BaseModel, ValidationError

from radprm.errors import InputError, ModelError
from radprm.miners.cache import RequestCache, request_key
from radprm.miners.metrics import ClientMetrics
from radprm.miners.servers import Server, ServerPool, split_urls

HTTP_5XX = "http_5xx"
RATE_LIMITED = "rate_limited"
TIMEOUT = "timeout"
CONNECTION_ERROR = "connection_error"
BAD_RESPONSE = "bad_response"
TRUNCATED = "truncated"
MALFORMED_JSON = "malformed_json"
SCHEMA_VIOLATION = "schema_violation"
HTTP_4XX = "http_4xx"

TRANSIENT_CODES = frozenset({HTTP_5XX, RATE_LIMITED, TIMEOUT, CONNECTION_ERROR, BAD_RESPONSE})
INVALID_OUTPUT_CODES = frozenset({MALFORMED_JSON, SCHEMA_VIOLATION})

# Seeds of resampled attempts step by a large prime so they do not collide with the consecutive seeds
# callers give to rollouts of the same question.
_RESEED_STRIDE = 1_000_003
SEED_MOD = 2**31 - 1
"""Seeds wrap modulo this prime (a 32-bit signed int is what vLLM accepts)."""


@dataclass(frozen=True)
class SamplingParams:
    """Generation parameters sent with each request (and recorded on each output row).

    Raises:
        InputError: A value is out of range.
    """

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise InputError(f"temperature {self.temperature} is outside [0, 2]", field="temperature")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError(f"top_p {self.top_p} is outside (0, 1]", field="top_p")
        if self.max_tokens < 1:
            raise InputError(f"max_tokens {self.max_tokens} must be at least 1", field="max_tokens")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (seed may be None)."""
        return dataclasses.asdict(self)

    def with_seed(self, seed: int | None) -> SamplingParams:
        """A copy with another seed (e.g. base seed + rollout index)."""
        return dataclasses.replace(self, seed=seed)


@dataclass
class CallResult:
    """Outcome of one `complete_json` call, successful or not.

    Token counts and `finish_reason` are those of the last response received; `latency_s` spans the
    whole call (retries and backoff included). `sampling` holds the parameters of the last attempt:
    its seed differs from the requested one when a malformed answer was resampled.
    """

    ok: bool
    parsed: BaseModel | None
    raw_text: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    error_code: str | None
    error_detail: str | None
    cached: bool = False
    sampling: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    cache_key: str | None = None
    choices: list[Choice] = field(default_factory=list)


@dataclass
class Choice:
    """One of the `n` answers of a `complete_json_n` call: validated object, or the reason it is unusable.

    Attributes:
        text: The model's raw text.
        finish_reason: As reported by the server.
        parsed: The validated object, or None.
        error_code: `truncated`, `malformed_json` or `schema_violation` when unusable, else None.
        error_detail: Its detail.
    """

    text: str | None
    finish_reason: str | None
    parsed: BaseModel | None = None
    error_code: str | None = None
    error_detail: str | None = None


@dataclass
class _Attempt:
    code: str | None = None
    detail: str | None = None
    text: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retry_after: float | None = None
    parsed: BaseModel | None = None
    choices: list[Choice] = field(default_factory=list)
    server: Any = None  # the `miners.servers.Server` that answered


def _check_choice(text: str | None, finish_reason: str | None, response_model: type[BaseModel],
                  max_tokens: int) -> Choice:
    """Validate one of several answers (see `complete_json_n`)."""
    choice = Choice(text=text, finish_reason=finish_reason)
    if finish_reason == "length":
        choice.error_code = TRUNCATED
        choice.error_detail = f"stopped at max_tokens={max_tokens} before the JSON was complete"
    elif not text or not text.strip():
        choice.error_code, choice.error_detail = MALFORMED_JSON, "empty content"
    else:
        try:
            choice.parsed = response_model.model_validate_json(text)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            choice.error_code = MALFORMED_JSON if errors and errors[0]["type"] == "json_invalid" else SCHEMA_VIOLATION
            choice.error_detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5])
    return choice


def response_schema(response_model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema sent as the structured-output format for `response_model`."""
    return response_model.model_json_schema()


def _retry_after_seconds(headers: Any) -> float | None:
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # HTTP-date form
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_code(status: int) -> str:
    if status == 429:
        return RATE_LIMITED
    if status == 408:
        return TIMEOUT
    return HTTP_5XX if status >= 500 else HTTP_4XX


class RequestSlots:
    """At most `n` requests at once; a freed slot goes to the waiting request of highest `priority`, then to
    the one waiting longest (a FIFO semaphore when every priority is the same)."""

    def __init__(self, n: int) -> None:
        self.free = n
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int = 0) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-priority, next(self._order), slot))
        try:
            await slot
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self.release()  # handed over just before the cancel: pass it on
            raise  # a cancelled waiter stays in the heap; `release` skips it

    def release(self) -> None:
        while self._waiting:
            _, _, slot = heapq.heappop(self._waiting)
            if not slot.done():
                slot.set_result(None)
                return
        self.free += 1


class LLMClient:
    """Bounded-concurrency async client for one model on an OpenAI-compatible server.

    Args:
        base_url: Server URL ending in ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model: Served model name (``--served-model-name`` of vLLM).
        api_key: Sent as bearer token; vLLM ignores it unless started with ``--api-key``.
        concurrency: Most requests in flight at once.
        timeout: Seconds per request before it counts as a `timeout`.
        max_retries: Retries of transient failures (5xx, 429, timeouts, connection errors) per call.
        backoff_base: First backoff ceiling in seconds; doubles per retry.
        backoff_max: Largest wait between retries, Retry-After included.
        metrics: Counters to update; a new `ClientMetrics` when None.
        cache: Request cache consulted when `complete_json` gets a `cache_key`.
        invalid_retries: Resamples (new seed) of malformed or schema-violating answers per call.
        fail_fast_after: Raise `ModelError` when this many calls in a row failed for server-side reasons
            (5xx, 429, timeouts, connection errors, after their retries): the server is gone, and
            quarantining every remaining item would only hide that. None disables it.
        check_model: Before the first request, list the served models and fail fast when the server is
            unreachable or does not serve `model`.
        sleep: Awaitable sleep, replaceable in tests.
        rng: Random source for jitter, replaceable in tests.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "EMPTY",
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        metrics: ClientMetrics | None = None,
        cache: RequestCache | None = None,
        invalid_retries: int = 1,
        fail_fast_after: int | None = 20,
        check_model: bool = True,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise InputError(f"concurrency {concurrency} must be at least 1", field="concurrency")
        # one or several servers (`miners.servers`): a comma-separated string, @FILE, or a list
        self.pool = ServerPool(split_urls(base_url), api_key=api_key, timeout=timeout)
        self.base_url = self.pool.first.url
        self.model = model
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.invalid_retries = invalid_retries
        self.fail_fast_after = fail_fast_after
        self._server_failures_in_row = 0
        self.metrics = metrics if metrics is not None else ClientMetrics()
        self.cache = cache
        self.served_models: list[str] | None = None
        self.skipped_servers: list[str] = []  # "url: reason" of servers that failed the start-up check
        self._check_model = check_model
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._slots = RequestSlots(concurrency)
        self._ready_lock = asyncio.Lock()
        self._schemas: dict[type[BaseModel], dict[str, Any]] = {}
        # Retries are ours (with reasons and metrics); the library's own would hide them (max_retries=0).
        self._client = self.pool.first.client

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (of every server)."""
        await self.pool.aclose()

    def schema_for(self, response_model: type[BaseModel]) -> dict[str, Any]:
        """The (memoised) JSON schema of `response_model`."""
        schema = self._schemas.get(response_model)
        if schema is None:
            schema = self._schemas[response_model] = response_schema(response_model)
        return schema

    def key_for(
        self,
        messages: list[dict],
        response_model: type[BaseModel],
        sampling: SamplingParams,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Cache key of a request to this client's model (see `radprm.miners.cache.request_key`)."""
        return request_key(self.model, messages, self.schema_for(response_model), sampling, extra)

    def backoff_delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (0-based): full jitter, or Retry-After.

        Args:
            retry: How many retries of this call came before.
            retry_after: The server's Retry-After in seconds, when it sent one.
        """
        if retry_after is not None:
            # A little jitter on top so that clients told the same time do not return in lockstep.
            return min(self.backoff_max, retry_after + self._rng.uniform(0, self.backoff_base))
        return self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**retry))

    async def list_models(self, server: Server | None = None) -> list[str]:
        """Ids of the models a server serves (GET /v1/models), retrying transient failures.

        Args:
            server: One server of the pool (default: the first).

        Raises:
            ModelError: The server stays unreachable, or answers with a client error.
        """
        server = server or self.pool.first
        base_url = server.url
        last = ""
        for retry in range(self.max_retries + 1):
            try:
                # short timeout: a hung server should fail the job start quickly, not after minutes
                page = await server.client.models.list(timeout=min(self.timeout, 30.0))
                return [m.id for m in page.data]
            except openai.APIStatusError as exc:
                if _status_code(exc.status_code) == HTTP_4XX:
                    raise ModelError(
                        f"{base_url}/models answered HTTP {exc.status_code}",
                        hint="is --base-url an OpenAI-compatible server ending in /v1?",
                    ) from exc
                last = f"HTTP {exc.status_code}"
                retry_after = _retry_after_seconds(exc.response.headers)
            except openai.APIConnectionError as exc:
                last = f"{type(exc).__name__}: {exc}"
                retry_after = None
            except (openai.APIError, ValueError, AttributeError) as exc:  # 200 with something else
                raise ModelError(
                    f"{base_url}/models did not answer with a model list ({type(exc).__name__})",
                    hint="is --base-url an OpenAI-compatible server ending in /v1?",
                ) from exc
            if retry < self.max_retries:
                await self._sleep(self.backoff_delay(retry, retry_after))
        raise ModelError(
            f"cannot reach the model server at {base_url} after {self.max_retries + 1} attempts ({last})",
            hint="start the local server with `make serve` or pass --base-url",
        )

    async def check_server(self) -> list[str]:
        """Fail fast unless a server answers and serves `self.model`; returns the served models.

        With several servers each is checked; one that is unreachable or does not serve the model is
        reported (`skipped_servers`, a warning on stderr) and taken out of rotation, not fatal while one
        server works.

        Raises:
            ModelError: Unreachable server, or `model` not among the served models (they are listed);
                with several servers, when none of them works (the first one's error).
        """
        if len(self.pool) == 1:
            models = await self._check_one(self.pool.first)
        else:
            results = await asyncio.gather(*(self._check_one(s) for s in self.pool.servers), return_exceptions=True)
            errors = [(s, r) for s, r in zip(self.pool.servers, results, strict=True) if isinstance(r, BaseException)]
            for _s, r in errors:
                if not isinstance(r, ModelError):
                    raise r
            if len(errors) == len(self.pool):
                raise errors[0][1]
            for s, r in errors:
                s.skipped_at_start = True
                self.pool.take_out(s, str(r))
                self.skipped_servers.append(f"{s.url}: {r}")
                warnings.warn(f"skipping model server {s.url}: {r}", RuntimeWarning, stacklevel=2)
            models = next(r for r in results if not isinstance(r, BaseException))
        self.served_models = models
        return models

    async def _check_one(self, server: Server) -> list[str]:
        models = await self.list_models(server)
        if self.model not in models:
            raise ModelError(
                f"model '{self.model}' is not served at {server.url}",
                field="model",
                hint=f"served models: {', '.join(models) or 'none'}; pass --model",
            )
        return models

    async def _ensure_ready(self) -> None:
        if not self._check_model or self.served_models is not None:
            return
        async with self._ready_lock:
            if self.served_models is None:
                await self.check_server()

    def _count_call(self, cache_key: str | None, lookup) -> CallResult | None:
        """Count one call; the cached answer under `cache_key` when there is one (counted as a hit)."""
        m = self.metrics
        m.calls += 1
        if cache_key is None or self.cache is None:
            return None
        hit = lookup(cache_key)
        if hit is not None:
            m.cache_hits += 1
            m.ok += 1
        return hit

    def _response_format(self, response_model: type[BaseModel], schema_name: str) -> dict:
        """The structured-output request field for `response_model`."""
        return {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "strict": True, "schema": self.schema_for(response_model)},
        }

    async def complete_json(
        self,
        messages: list[dict],
        response_model: type[BaseModel],
        *,
        sampling: SamplingParams,
        schema_name: str = "response",
        cache_key: str | None = None,
        priority: int = 0,
    ) -> CallResult:
        """Ask for a JSON object matching `response_model` and validate it.

        Args:
            messages: Chat messages (``{"role": ..., "content": ...}``).
            response_model: Pydantic model; its JSON schema is the structured-output format.
            sampling: Generation parameters; the seed is sent when set.
            schema_name: Name of the schema in the request (letters, digits, ``_`` and ``-``).
            cache_key: When given and the client has a cache: answer from it if present (no request
                sent) and store a successful answer under it. Build it with `key_for`.
            priority: Waiting for a request slot, higher goes first (a chain passes its calls left).

        Returns:
            A `CallResult`; `ok` is False with an `error_code` when the call finally failed.

        Raises:
            ModelError: On the first call, when the server is unreachable or does not serve the model.
        """
        hit = self._count_call(cache_key, lambda key: self._from_cache(key, response_model))
        if hit is not None:
            return hit
        response_format = self._response_format(response_model, schema_name)
        result, parsed = await self._call(messages, response_model, sampling, {"response_format": response_format},
                                          priority=priority)
        result.cache_key = cache_key
        if result.ok and cache_key is not None and self.cache is not None:
            self.cache.put(
                cache_key, result.raw_text or "", parsed.model_dump_json(), result.finish_reason,
                {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}, self.model,
            )
        return result

    async def complete_json_n(
        self,
        messages: list[dict],
        response_model: type[BaseModel],
        *,
        sampling: SamplingParams,
        n: int,
        schema_name: str = "response",
        cache_key: str | None = None,
    ) -> CallResult:
        """Ask for `n` independent JSON answers in one request (OpenAI `n`; vLLM shares the prompt's KV cache).

        Each choice is validated on its own and comes back in `CallResult.choices`; an unusable choice
        (truncated, malformed, schema-violating) is not retried (it is a sample, and resampling only the
        bad ones would bias the set) but carries its error code. Transient failures of the request are
        retried as in `complete_json`. The request counts as `ok` when it was answered; a result with at
        least one usable choice is cached under `cache_key` (all choices, in order).

        Args:
            messages: Chat messages.
            response_model: Pydantic model of one answer; its JSON schema is the structured-output format.
            sampling: Generation parameters; with a seed, the server derives the n samples from it.
            n: Answers wanted (at least 1).
            schema_name: Name of the schema in the request.
            cache_key: As in `complete_json` (include `n` in its `extra`).

        Returns:
            A `CallResult` with `choices` (empty when the request failed: see `error_code`).

        Raises:
            InputError: `n` is below 1.
            ModelError: On the first call, when the server is unreachable or does not serve the model.
        """
        if n < 1:
            raise InputError(f"n {n} must be at least 1", field="n")
        hit = self._count_call(cache_key, lambda key: self._from_cache_n(key, response_model))
        if hit is not None:
            return hit
        response_format = self._response_format(response_model, schema_name)
        result, _ = await self._call(messages, response_model, sampling, {"response_format": response_format, "n": n})
        result.cache_key = cache_key
        usable = [c for c in result.choices if c.parsed is not None]
        if result.ok and usable and cache_key is not None and self.cache is not None:
            self.cache.put(
                cache_key,
                json.dumps([c.text for c in result.choices]),
                json.dumps([c.parsed.model_dump(mode="json") if c.parsed is not None else None
                            for c in result.choices]),
                json.dumps([c.finish_reason for c in result.choices]),
                {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens}, self.model,
            )
        return result

    def _from_cache_n(self, key: str, response_model: type[BaseModel]) -> CallResult | None:
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            texts, parsed, reasons = json.loads(entry.raw_text), json.loads(entry.parsed_json), json.loads(
                entry.finish_reason or "null")
            choices = [
                _check_choice(t, r, response_model, 0) if p is None
                else Choice(text=t, finish_reason=r, parsed=response_model.model_validate(p))
                for t, p, r in zip(texts, parsed, reasons, strict=True)
            ]
        except (ValueError, TypeError, ValidationError):
            return None  # not an n-answer entry, or the model's validators changed: ask again
        return CallResult(
            ok=True, parsed=None, raw_text=entry.raw_text, finish_reason=None, prompt_tokens=entry.prompt_tokens,
            completion_tokens=entry.completion_tokens, latency_s=0.0, attempts=0, error_code=None, error_detail=None,
            cached=True, model=entry.model, cache_key=key, choices=choices,
        )

    async def complete_text(
        self,
        messages: list[dict],
        *,
        sampling: SamplingParams,
        extra_body: dict[str, Any] | None = None,
    ) -> CallResult:
        """Ask for free text (no schema), with the same concurrency bound, retries and metrics.

        A non-empty answer is ok; ``finish_reason == "length"`` is still reported as `truncated`
        (the tokens are counted, and `raw_text` holds the text).

        Args:
            messages: Chat messages.
            sampling: Generation parameters.
            extra_body: Extra request fields for the server, e.g. ``{"ignore_eos": True}`` (vLLM).

        Raises:
            ModelError: On the first call, when the server is unreachable or does not serve the model.
        """
        self.metrics.calls += 1
        result, _ = await self._call(messages, None, sampling, {"extra_body": extra_body} if extra_body else {})
        return result

    async def _call(
        self,
        messages: list[dict],
        response_model: type[BaseModel] | None,
        sampling: SamplingParams,
        request_fields: dict[str, Any],
        priority: int = 0,
    ) -> tuple[CallResult, BaseModel | None]:
        """Send with retries; count the outcome. `metrics.calls` was already counted by the caller."""
        m = self.metrics
        try:
            await self._ensure_ready()
        except ModelError:
            m.fatal += 1
            raise
        start = time.perf_counter()
        current = sampling
        transient_retries = invalid_retries = attempts = 0
        last_server: Server | None = None
        while True:
            attempts += 1
            a = await self._attempt(messages, response_model, request_fields, current,
                                    avoid=last_server if transient_retries else None, priority=priority)
            last_server = a.server
            if a.code is None:
                break
            if a.code in TRANSIENT_CODES and transient_retries < self.max_retries:
                m.retries[a.code] += 1
                await self._sleep(self.backoff_delay(transient_retries, a.retry_after))
                transient_retries += 1
                continue
            if (
                a.code in INVALID_OUTPUT_CODES
                and invalid_retries < self.invalid_retries
                and current.temperature > 0
            ):
                m.retries[a.code] += 1
                invalid_retries += 1
                if sampling.seed is not None:
                    current = sampling.with_seed((sampling.seed + invalid_retries * _RESEED_STRIDE) % SEED_MOD)
                continue
            break

        latency = time.perf_counter() - start
        m.call_latencies.append(latency)
        # Only server-side failures count towards giving up; a bad answer says nothing about the server.
        if a.code in TRANSIENT_CODES:
            self._server_failures_in_row += 1
            if self.fail_fast_after is not None and self._server_failures_in_row >= self.fail_fast_after:
                m.fatal += 1
                raise ModelError(
                    f"the model server{'s' if len(self.pool) > 1 else ''} at"
                    f" {', '.join(sv.url for sv in self.pool.servers)} failed"
                    f" {self._server_failures_in_row} calls in a row"
                    f" (last: {a.code}: {a.detail})",
                    hint="check the server log; the job can be resumed once it answers again",
                )
        else:
            self._server_failures_in_row = 0
        if a.code is None:
            m.ok += 1
        else:
            m.failures[a.code] += 1
        result = CallResult(
            ok=a.code is None,
            parsed=a.parsed,
            raw_text=a.text,
            finish_reason=a.finish_reason,
            prompt_tokens=a.prompt_tokens,
            completion_tokens=a.completion_tokens,
            latency_s=latency,
            attempts=attempts,
            error_code=a.code,
            error_detail=a.detail,
            sampling=current.as_dict(),
            model=self.model,
            choices=a.choices,
        )
        return result, a.parsed

    def _from_cache(self, key: str, response_model: type[BaseModel]) -> CallResult | None:
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            parsed = response_model.model_validate_json(entry.parsed_json)
        except ValidationError:
            # The key covers the schema, so this means the model's validators changed: ask again.
            return None
        return CallResult(
            ok=True, parsed=parsed, raw_text=entry.raw_text, finish_reason=entry.finish_reason,
            prompt_tokens=entry.prompt_tokens, completion_tokens=entry.completion_tokens, latency_s=0.0,
            attempts=0, error_code=None, error_detail=None, cached=True, model=entry.model, cache_key=key,
        )

    async def _attempt(
        self,
        messages: list[dict],
        response_model: type[BaseModel] | None,
        request_fields: dict[str, Any],
        sampling: SamplingParams,
        avoid: Server | None = None,
        priority: int = 0,
    ) -> _Attempt:
        """One HTTP request to the pool's least busy healthy server (`avoid`: the server that just failed),
        in a request slot (`priority`: see `RequestSlots`)."""
        await self._slots.acquire(priority)
        try:
            server = self.pool.pick(avoid)
            server.outstanding += 1
            server.requests += 1
            try:
                a = await self._send(server, messages, response_model, request_fields, sampling)
            finally:
                server.outstanding -= 1
        finally:
            self._slots.release()
        a.server = server
        self.pool.record(server, ok=a.code is None or a.code not in TRANSIENT_CODES,
                         server_error=a.code in TRANSIENT_CODES, detail=a.detail,
                         prompt_tokens=a.prompt_tokens, completion_tokens=a.completion_tokens)
        return a

    async def _send(
        self,
        server: Server,
        messages: list[dict],
        response_model: type[BaseModel] | None,
        request_fields: dict[str, Any],
        sampling: SamplingParams,
    ) -> _Attempt:
        """Send one request to `server` and read the answer (the caller holds the concurrency slot)."""
        m = self.metrics
        params: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            params["seed"] = sampling.seed
        m.requests += 1
        t0 = time.perf_counter()
        try:
            resp = await server.client.chat.completions.create(
                model=self.model, messages=messages, **request_fields, **params
            )
        except openai.APITimeoutError:
            return _Attempt(TIMEOUT, f"no answer within {self.timeout:g} s")
        except openai.APIConnectionError as exc:
            cause = f" ({exc.__cause__!r})" if exc.__cause__ is not None else ""
            return _Attempt(CONNECTION_ERROR, f"{type(exc).__name__}: {exc}{cause}")
        except openai.APIStatusError as exc:
            m.request_latencies.append(time.perf_counter() - t0)
            body = exc.response.text[:500] if exc.response is not None else ""
            return _Attempt(
                _status_code(exc.status_code), f"HTTP {exc.status_code}: {body}",
                retry_after=_retry_after_seconds(exc.response.headers if exc.response is not None else None),
            )
        except openai.APIError as exc:  # a 200 whose body the library could not read
            return _Attempt(BAD_RESPONSE, f"{type(exc).__name__}: {exc}")
        m.request_latencies.append(time.perf_counter() - t0)
        return self.read_response(resp, response_model, sampling, n=request_fields.get("n"))

    def read_response(self, resp: Any, response_model: type[BaseModel] | None, sampling: SamplingParams, *,
                      n: int | None = None) -> _Attempt:
        """Check one chat completion (usage, finish reason, JSON against `response_model`) and count its tokens.

        Used for answers over HTTP and for the lines of an offline batch's results (`miners.batch`). With `n`
        (a `complete_json_n` request) every choice is validated on its own into `_Attempt.choices`.
        """
        m = self.metrics
        a = _Attempt()
        if resp.usage is not None:
            a.prompt_tokens = resp.usage.prompt_tokens or 0
            a.completion_tokens = resp.usage.completion_tokens or 0
            m.prompt_tokens += a.prompt_tokens
            m.completion_tokens += a.completion_tokens
        if not resp.choices:
            a.code, a.detail = BAD_RESPONSE, "response has no choices"
            return a
        if n is not None and response_model is not None:
            # n answers: each is validated on its own; the request itself succeeded
            a.choices = [
                _check_choice(c.message.content, c.finish_reason, response_model, sampling.max_tokens)
                for c in sorted(resp.choices, key=lambda c: c.index)
            ]
            m.wasted_completion_tokens += sum(
                len(c.text or "") // 4 for c in a.choices if c.error_code is not None)  # usage is not per choice
            return a
        choice = resp.choices[0]
        a.text = choice.message.content
        a.finish_reason = choice.finish_reason
        if a.finish_reason == "length":
            a.code = TRUNCATED
            a.detail = f"stopped at max_tokens={sampling.max_tokens} before the JSON was complete"
        elif not a.text or not a.text.strip():
            a.code, a.detail = MALFORMED_JSON, "empty content"
        elif response_model is not None:
            try:
                a.parsed = response_model.model_validate_json(a.text)
            except ValidationError as exc:
                errors = exc.errors(include_url=False)
                a.code = MALFORMED_JSON if errors and errors[0]["type"] == "json_invalid" else SCHEMA_VIOLATION
                a.detail = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors[:5]
                )
        if a.code is not None:
            m.wasted_completion_tokens += a.completion_tokens
        return a
