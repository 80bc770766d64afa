"""Per-job counters of an LLM client: requests, tokens, latency percentiles, retries and failures.

The client updates one `ClientMetrics` per job; the job writes `as_dict()` to its folder and prints
`render()` at the end. Counts are kept so that they add up (checked by the tests):

* ``calls == ok + sum(failures.values()) + fatal``
* ``requests == calls - cache_hits - fatal + sum(retries.values())``: every call that is neither a
  cache hit nor stopped by a fatal `ModelError` sends one request, plus one per retry.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_PERCENTILES = (50, 90, 99)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty).

    Args:
        values: Samples, in any order.
        q: Percentile in [0, 100].

    Returns:
        The smallest sample with at least q% of the samples at or below it.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class ClientMetrics:
    """Counters for one job's LLM traffic.

    Attributes:
        calls: `complete_json` invocations.
        ok: Calls that returned a validated object (cache hits included).
        cache_hits: Calls answered from the request cache (no request sent).
        requests: HTTP requests sent to the server (first attempts and retries).
        prompt_tokens: Prompt tokens over every response received, including rejected ones.
        completion_tokens: Completion tokens over every response received, including rejected ones.
        wasted_completion_tokens: Completion tokens of responses that were rejected (truncated,
            malformed, schema-violating), i.e. paid for but unusable.
        retries: Retried attempts by reason code.
        failures: Calls that finally failed, by reason code.
        request_latencies: Seconds per HTTP request that got an answer.
        call_latencies: Seconds per non-cached call, from first attempt to result (retries and
            backoff included).
    """

    calls: int = 0
    ok: int = 0
    cache_hits: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wasted_completion_tokens: int = 0
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    request_latencies: list[float] = field(default_factory=list)
    call_latencies: list[float] = field(default_factory=list)
    fatal: int = 0  # calls that raised ModelError (server unreachable or model not served)
    # per server URL: requests, ok, errors, tokens, times_down, ... (`miners.servers.Server.as_dict`)
    servers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, other: ClientMetrics) -> ClientMetrics:
        """Add another job's (or shard's) counters into this one and return self."""
        for name in (
            "calls", "ok", "cache_hits", "requests", "prompt_tokens", "completion_tokens",
            "wasted_completion_tokens", "fatal",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.retries.update(other.retries)
        self.failures.update(other.failures)
        self.request_latencies.extend(other.request_latencies)
        self.call_latencies.extend(other.call_latencies)
        for url, st in other.servers.items():
            mine = self.servers.setdefault(url, {})
            for k, v in st.items():
                if isinstance(v, bool) or not isinstance(v, int):
                    mine[k] = v if k != "up" else mine.get(k, True) and v
                else:
                    mine[k] = mine.get(k, 0) + v
        return self

    def latency_percentiles(self, which: str = "request") -> dict[str, float | None]:
        """p50/p90/p99 of request or call latencies in seconds.

        Args:
            which: "request" (one HTTP exchange) or "call" (a whole `complete_json`, retries included).
        """
        values = self.request_latencies if which == "request" else self.call_latencies
        return {f"p{q}": percentile(values, q) for q in _PERCENTILES}

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready summary (latency samples reduced to percentiles)."""
        return {
            "calls": self.calls,
            "ok": self.ok,
            "failed": sum(self.failures.values()),
            "cache_hits": self.cache_hits,
            "requests": self.requests,
            "fatal": self.fatal,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "wasted_completion_tokens": self.wasted_completion_tokens,
            "retries": dict(sorted(self.retries.items())),
            "failures": dict(sorted(self.failures.items())),
            "request_latency_s": self.latency_percentiles("request"),
            "call_latency_s": self.latency_percentiles("call"),
            "servers": {url: dict(st) for url, st in sorted(self.servers.items())},
        }

    def render(self) -> str:
        """A small plain-text table for the end-of-job summary."""
        d = self.as_dict()

        def fmt(p: dict[str, float | None]) -> str:
            return "  ".join(f"{k} {'-' if v is None else f'{v:.2f}s'}" for k, v in p.items())

        def reasons(c: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in c.items()) or "none"

        rows = [
            ("calls", f"{d['calls']} (ok {d['ok']}, failed {d['failed']}, cache hits {d['cache_hits']})"),
            ("requests sent", str(d["requests"])),
            ("tokens", f"prompt {d['prompt_tokens']}, completion {d['completion_tokens']}"
                       f" (wasted {d['wasted_completion_tokens']})"),
            ("request latency", fmt(d["request_latency_s"])),
            ("call latency", fmt(d["call_latency_s"])),
            ("retries", reasons(d["retries"])),
            ("failures", reasons(d["failures"])),
        ]
        if len(self.servers) > 1:  # one line per server when the job spread its requests
            for url, st in sorted(self.servers.items()):
                state = "skipped (start-up check failed)" if st.get("skipped_at_start") else (
                    f"taken out {st.get('times_down', 0)}x" if st.get("times_down") else "up")
                rows.append((f"server {url}", f"{st.get('requests', 0)} requests, completion tokens "
                             f"{st.get('completion_tokens', 0)}, errors {st.get('errors', 0)}, {state}"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
