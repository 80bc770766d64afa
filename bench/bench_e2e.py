"""`radprm mine` end to end against a server vs a plain client replaying the *same* requests (like for like).

Usage (from the repo root; `bash serving/serve.sh start` prints the server's URL):

    .venv/bin/python bench/bench_e2e.py --reports 100 --concurrency 16 --max-tokens 256 --rounds 3

Phases, against the same server, in one process:

1. warm-up `mine`: a fresh job; every request it sends is recorded (messages, structured-output schema,
   temperature, top_p, max_tokens, seed) with its usage. Not in the ratio (cold prefix cache).
2. `--rounds` rounds, each one `replay` and one `mine`, in alternating order (replay first in odd rounds,
   mine first in even ones), so the load other users put on the shared server falls on both alike:
   * `replay`: the recorded requests sent by a bare AsyncOpenAI client at the same concurrency, all at
     once (no chaining, no extraction, no validation, no tail between a chain's calls): the server's
     ceiling for exactly this work: the same prompts, the same schema, the same max_tokens and (seeded)
     the same output lengths;
   * `mine`: the same job again in a new folder with a new cache (so it sends the same requests).
   The ratio of a round is mine completion tok/s over replay completion tok/s; the median over rounds
   is reported, with the load average before each phase.
3. `replay-free` (with `--free`): the same requests without the schema, `ignore_eos` and max_tokens = the
   tokens each one produced: the server-side cost of structured outputs (replay / replay-free).

`--fake-latency S` runs the same rounds against the in-process fake server answering every request after S
seconds, with no limit on requests at once (the tests' fake; tokens are not real): what is left of the
ratio (requests/s) is radprm's own loss, i.e. request slots left idle between a chain's calls, at the
start and in the tail, and client overhead, at any item count in seconds. `--slots 1,2` mines each
round once per value of `radprm.miners.job.CHAINS_PER_SLOT` (chains in flight per request slot).

Each phase reads vLLM's /metrics before and after, so tokens generated for other users ("foreign") show.
On a real server it also samples /metrics every second (`busy_slots`: requests running + waiting, on
average, out of --concurrency; radprm's idle slots show here whatever the machine's speed) and reads the
CPU time the server's processes got (`server_cpu_s`, from /proc; `tok_per_server_cpu_s`: completion tokens
per second of server CPU). On these shared cores other processes take CPU from the server, so its speed
changes from phase to phase with no foreign token on it: these two say how much of a ratio is radprm's.
The client process CPU per phase is reported. Reports are made up (bench_engines.reports_file: distinct
texts, so no request is a cache hit), never IU text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def server_pids(base_url: str) -> list[int]:
    """The vLLM server listening on `base_url`'s port and its descendants (engine core, worker), from /proc."""
    from urllib.parse import urlparse

    port = str(urlparse(base_url).port)
    parents: dict[int, int] = {}
    root = None
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
            parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"--port" in argv and argv.index(b"--port") + 1 < len(argv) and argv[argv.index(b"--port") + 1] == \
                port.encode() and any(b"vllm" in a for a in argv):
            root = int(d.name)
    if root is None:
        return []
    pids, grew = {root}, True
    while grew:
        more = {p for p, pp in parents.items() if pp in pids} - pids
        grew = bool(more)
        pids |= more
    return sorted(pids)


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` (the ones still alive)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


class Sampler:
    """Samples the server's requests running + waiting every `every` s in a thread (mean = busy slots)."""

    def __init__(self, stats, every: float = 1.0) -> None:
        self.stats, self.every, self.samples = stats, every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                st = self.stats()
            except OSError:
                continue
            self.samples.append(st.get("running", 0.0) + st.get("waiting", 0.0))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self) -> float | None:
        return round(sum(self.samples) / len(self.samples), 2) if self.samples else None


def record_requests():
    """Patch LLMClient._send to log every request body and its usage; returns the log list."""
    from radprm.miners import client as client_mod

    log: list[dict] = []
    original = client_mod.LLMClient._send

    async def _send(self, server, messages, response_model, request_fields, sampling):
        a = await original(self, server, messages, response_model, request_fields, sampling)
        log.append({"messages": messages, "request_fields": request_fields,
                    "params": {"temperature": sampling.temperature, "top_p": sampling.top_p,
                               "max_tokens": sampling.max_tokens, "seed": sampling.seed},
                    "completion_tokens": a.completion_tokens, "prompt_tokens": a.prompt_tokens})
        return a

    client_mod.LLMClient._send = _send
    return log


async def replay(base_url: str, model: str, requests: list[dict], concurrency: int, free: bool) -> dict:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", timeout=3600, max_retries=2)  # as radprm retries
    sem = asyncio.Semaphore(concurrency)
    tokens = [0]

    async def one(r: dict) -> None:
        params = dict(r["params"])
        fields = dict(r["request_fields"])
        extra = {}
        if free:  # no schema; exactly as many tokens as the structured answer had
            fields.pop("response_format", None)
            params["max_tokens"] = max(1, r["completion_tokens"])
            extra = {"extra_body": {"ignore_eos": True}}
        async with sem:
            resp = await client.chat.completions.create(model=model, messages=r["messages"], **fields, **params,
                                                        **extra)
        tokens[0] += resp.usage.completion_tokens if resp.usage else 0

    t0 = time.perf_counter()
    await asyncio.gather(*(one(r) for r in requests))
    wall = time.perf_counter() - t0
    await client.close()
    return {"wall_s": wall, "completion_tokens": tokens[0]}


def main() -> None:
    import statistics

    from bench_client import base_url_from_state, server_stats
    from bench_engines import reports_file

    from radprm.miners.job import mine

    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=100)
    ap.add_argument("--questions-per-report", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3, help="replay + mine pairs, alternating order")
    ap.add_argument("--free", action="store_true", help="also measure the server-side cost of the schema")
    ap.add_argument("--no-warmup", action="store_true", help="the first round's mine is the recorded one")
    ap.add_argument("--fake-latency", type=float, default=None, help="in-process fake server, S s per request")
    ap.add_argument("--slots", default=None, help="comma-separated CHAINS_PER_SLOT values to mine with")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000, help="fresh seed: cold prefix cache")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import contextlib

    from radprm.miners import job as job_mod

    fake = None
    if args.fake_latency is not None:
        from fakes.openai_server import FakeOpenAIServer, sleep

        fake = FakeOpenAIServer().__enter__()
        fake.rule = lambda body: sleep(args.fake_latency)
    base_url = fake.base_url if fake else (args.base_url or base_url_from_state())
    stats = (lambda: {"gen_tokens": 0.0}) if fake else (lambda: server_stats(base_url))
    slots = [int(x) for x in args.slots.split(",")] if args.slots else [job_mod.CHAINS_PER_SLOT]
    work = Path(tempfile.mkdtemp(prefix="radprm-bench-e2e-"))
    reports = reports_file(work / "reports.csv", args.reports)  # distinct texts: no request is a cache hit
    log = record_requests()

    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.steps import StepValidator

    extractor = FindingsExtractor()
    validator = StepValidator(extractor=extractor)
    rows = []

    pids = [] if fake else server_pids(base_url)

    def phase(name: str, fn) -> dict:
        load = round(os.getloadavg()[0], 1)
        before, c0, s0, t0 = stats(), cpu(), cpu_of(pids), time.perf_counter()
        with Sampler(stats if fake is None else (lambda: {})) as sampler:
            out = fn()
        wall, used, server_cpu = time.perf_counter() - t0, cpu() - c0, cpu_of(pids) - s0
        after = stats()
        gen = after["gen_tokens"] - before["gen_tokens"]
        row = {"phase": name, "load_avg_1m": load, "wall_s": round(wall, 1), **out, "client_cpu_s": round(used, 1),
               "server_generated": int(gen)}
        row["foreign_tokens"] = int(gen - row["completion_tokens"]) if fake is None else None
        row["completion_tok_s"] = round(row["completion_tokens"] / wall, 2)
        row["requests_per_s"] = round(row["requests"] / wall, 2)
        row["rate"] = row["requests_per_s"] if fake else row["completion_tok_s"]
        if fake is None:
            row["busy_slots"] = sampler.mean()
            row["server_cpu_s"] = round(server_cpu, 1)
            row["tok_per_server_cpu_s"] = round(gen / server_cpu, 2) if server_cpu else None
        rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    def run_mine(folder: str) -> dict:
        s = mine(reports, run_dir=work / folder, base_url=base_url, model=args.model, tasks=["single", "binary"],
                 questions_per_report=args.questions_per_report, max_tokens=args.max_tokens,
                 concurrency=args.concurrency, timeout=3600, seed=args.seed, extractor=extractor,
                 validator=validator)
        return {"completion_tokens": s.metrics.completion_tokens, "requests": s.metrics.requests,
                "items_written": s.items_written, "quarantined": s.quarantined_total}

    def run_replay(free: bool) -> dict:
        return {**asyncio.run(replay(base_url, args.model, requests, args.concurrency, free)),
                "requests": len(requests)}

    requests: list[dict] = []  # the first mine's requests: the ones every replay sends

    def recorded(out: dict) -> dict:
        if not requests:
            requests.extend(log)
        log.clear()
        return out

    def mine_with(k: int, n: int) -> dict:
        job_mod.CHAINS_PER_SLOT = n
        return recorded(run_mine(f"round{k + 1}-slots{n}"))

    if not args.no_warmup:
        phase("mine (warm-up)", lambda: recorded(run_mine("warmup")))
    ratios: dict[int, list[float]] = {n: [] for n in slots}
    for k in range(args.rounds):
        order = ["replay", *slots] if k % 2 == 0 else [*slots, "replay"]
        if not requests:
            order = [*slots, "replay"]  # no warm-up: the first mine records the requests
        got = {}
        for what in order:
            if what == "replay":
                got[what] = phase(f"replay {k + 1}", lambda: run_replay(False))
            else:
                got[what] = phase(f"mine {k + 1} (chains per slot {what})", lambda k=k, n=what: mine_with(k, n))
        for n in slots:
            ratios[n].append(round(got[n]["rate"] / got["replay"]["rate"], 3))
        print(json.dumps({"round": k + 1, "ratio_mine_over_replay": {n: r[-1] for n, r in ratios.items()}}), flush=True)
    summary = {
        "server": f"fake, {args.fake_latency} s per request" if fake else base_url,
        "rate": "requests/s" if fake else "completion tokens/s",
        "reports": args.reports, "items": rows[0]["items_written"], "concurrency": args.concurrency,
        "max_tokens": args.max_tokens, "seed": args.seed, "rounds": args.rounds,
        "ratios_mine_over_replay": {n: r for n, r in ratios.items()},
        "median_ratio": {n: statistics.median(r) for n, r in ratios.items() if r},
    }
    if args.free:
        free = phase("replay-free (no schema)", lambda: run_replay(True))
        replays = [r["completion_tok_s"] for r in rows if r["phase"].startswith("replay ")]
        summary["ratio_structured_over_free"] = round(statistics.median(replays) / free["completion_tok_s"], 3)
    summary["phases"] = rows
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if fake is not None:
        with contextlib.suppress(Exception):
            fake.__exit__(None, None, None)


if __name__ == "__main__":
    main()
