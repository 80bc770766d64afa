"""Token throughput of radprm's LLMClient against `vllm bench serve` on the same server and load.

Both sides send the same prompts (IU X-ray reports, or synthetic text without ../shared) as chat
requests with the same concurrency, sampling and a fixed output length (`ignore_eos`), so the only
difference is the client. `vllm bench serve` reads the prompts as a custom dataset (JSONL with
`prompt` and `output_tokens`; `--skip-chat-template` because the chat endpoint applies the template).

Every phase prefixes its prompts with a fresh random tag, so vLLM's prefix cache cannot carry one
phase's work into the next (a fresh `--seed` alone does not change a custom dataset's prompts). Phases
alternate (vllm, client, client, vllm, ...) to cancel slow drift on a shared machine.

Usage (server from `make serve`, or --base-url):
    .venv/bin/python bench/bench_client.py --num-prompts 64 --concurrency 16 --output-len 128 --repeats 2
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from radprm.miners.client import LLMClient, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm"))
IU_REPORTS = Path(os.environ.get("RADPRM_SHARED", ROOT.parent / "shared")) / "data" / "iu-xray" / "indiana_reports.csv"
INSTRUCTION = "Explain step by step what this chest X-ray report says about the lungs, heart and pleura."


class BoundedReasoning(BaseModel):
    """Bounded structured output (unbounded schemas let a small model loop to max_tokens)."""

    steps: list[Annotated[str, Field(max_length=160)]] = Field(min_length=1, max_length=4)
    answer: Literal["normal", "abnormal"]


def load_prompts(n: int, words: int) -> list[str]:
    """`n` prompts of about `words` words of report text each."""
    texts: list[str] = []
    if IU_REPORTS.exists():
        with IU_REPORTS.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):  # findings/impression only (never MeSH/Problems)
                text = " ".join(filter(None, (row.get("findings"), row.get("impression"))))
                if len(text.split()) >= 20:
                    texts.append(text)
                if len(texts) >= n:
                    break
    while len(texts) < n:
        texts.append("The heart is normal in size. The lungs are clear. No pleural effusion or pneumothorax. " * 4)
    # reports are short (~40 words): fill each prompt with the following reports up to `words` words
    prompts = []
    for i in range(n):
        parts, count, j = [], 0, i
        while count < words:
            chunk = texts[j % len(texts)].split()[: words - count]
            parts.append(" ".join(chunk))
            count, j = count + len(chunk), j + 1
        prompts.append(f"{INSTRUCTION}\n\nReports: " + " | ".join(parts))
    return prompts


def tagged(prompts: list[str]) -> list[str]:
    tag = secrets.token_hex(6)
    return [f"Case {tag}-{i}. {p}" for i, p in enumerate(prompts)]


def server_stats(base_url: str) -> dict[str, float]:
    """Requests running/waiting and generated tokens so far, from vLLM's Prometheus /metrics."""
    import urllib.request

    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=10) as r:
        text = r.read().decode()
    stats = {"running": 0.0, "waiting": 0.0, "gen_tokens": 0.0}
    names = {
        "vllm:num_requests_running": "running",
        "vllm:num_requests_waiting": "waiting",
        "vllm:generation_tokens_total": "gen_tokens",
    }
    for line in text.splitlines():
        name = line.split("{", 1)[0]
        if name in names:
            stats[names[name]] += float(line.rsplit(" ", 1)[1])
    return stats


def wait_idle(base_url: str, limit: float) -> float:
    """Wait (up to `limit` s) until the server runs no one else's requests; returns seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        st = server_stats(base_url)
        if st["running"] == 0 and st["waiting"] == 0:
            break
        time.sleep(2)
    return time.perf_counter() - t0


def base_url_from_state() -> str | None:
    try:
        return json.loads((CACHE / "serve" / "server.json").read_text())["base_url"]
    except (OSError, ValueError, KeyError):
        return None


def run_vllm_bench(args: argparse.Namespace, prompts: list[str], workdir: Path, seed: int) -> dict:
    """One `vllm bench serve` run on `prompts`; returns its result JSON plus the client CPU seconds."""
    dataset = workdir / f"prompts-{seed}.jsonl"
    with dataset.open("w", encoding="utf-8") as f:
        for p in prompts:
            f.write(json.dumps({"prompt": p, "output_tokens": args.output_len}) + "\n")
    result_name = f"vllm-bench-{seed}.json"
    cmd = [
        str(args.server_python),
        str(ROOT / "serving" / "vllm_main.py"),
        "bench",
        "serve",
        "--backend",
        "openai-chat",
        "--base-url",
        args.base_url.removesuffix("/v1"),
        "--endpoint",
        "/v1/chat/completions",
        "--model",
        args.model,
        "--tokenizer",
        str(args.tokenizer),
        "--dataset-name",
        "custom",
        "--dataset-path",
        str(dataset),
        "--skip-chat-template",
        "--custom-output-len",
        str(args.output_len),
        "--ignore-eos",
        "--num-prompts",
        str(len(prompts)),
        "--max-concurrency",
        str(args.concurrency),
        "--temperature",
        str(args.temperature),
        "--top-p",
        str(args.top_p),
        "--seed",
        str(seed),
        "--save-result",
        "--result-dir",
        str(workdir),
        "--result-filename",
        result_name,
        "--disable-tqdm",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"vllm bench serve failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads((workdir / result_name).read_text())
    result["process_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


async def run_client(args: argparse.Namespace, prompts: list[str]) -> dict:
    """The same load through LLMClient.complete_text; timed from first send to last answer."""
    sampling = SamplingParams(temperature=args.temperature, top_p=args.top_p, max_tokens=args.output_len)
    async with LLMClient(args.base_url, args.model, concurrency=args.concurrency, timeout=900) as client:
        await client.check_server()
        cpu0, t0 = time.process_time(), time.perf_counter()
        results = await asyncio.gather(
            *(
                client.complete_text(
                    [{"role": "user", "content": p}], sampling=sampling, extra_body={"ignore_eos": True}
                )
                for p in prompts
            )
        )
        duration, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    # ignore_eos: every answer stops at max_tokens, i.e. `truncated` is the expected outcome here
    answered = [r for r in results if r.ok or r.error_code == "truncated"]
    out_tokens = sum(r.completion_tokens for r in answered)
    return {
        "completed": len(answered),
        "duration": duration,
        "total_output_tokens": out_tokens,
        "output_throughput": out_tokens / duration,
        "request_throughput": len(answered) / duration,
        "process_cpu_s": cpu,
        "metrics": client.metrics.as_dict(),
    }


async def run_structured(args: argparse.Namespace, prompts: list[str]) -> dict:
    """complete_json with a bounded schema: validity rate and throughput (informative, no ratio)."""
    sampling = SamplingParams(temperature=args.temperature, top_p=args.top_p, max_tokens=256, seed=args.seed)
    async with LLMClient(args.base_url, args.model, concurrency=args.concurrency, timeout=900) as client:
        t0 = time.perf_counter()
        results = await asyncio.gather(
            *(
                client.complete_json(
                    [{"role": "user", "content": p}], BoundedReasoning, sampling=sampling.with_seed(args.seed + i)
                )
                for i, p in enumerate(prompts)
            )
        )
        duration = time.perf_counter() - t0
    return {
        "calls": len(results),
        "ok": sum(r.ok for r in results),
        "first_attempt_ok": sum(r.ok and r.attempts == 1 for r in results),
        "duration": duration,
        "output_throughput": client.metrics.completion_tokens / duration,
        "metrics": client.metrics.as_dict(),
    }


def main() -> None:
    """Run the phases and print (and optionally save) the comparison."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", default=os.environ.get("RADPRM_VLLM_BASE_URL") or base_url_from_state())
    p.add_argument("--model", default="smollm2")
    p.add_argument(
        "--tokenizer",
        type=Path,
        default=CACHE / "models" / "smollm2-135m-instruct",
        help="tokenizer folder for vllm bench serve (the served model's)",
    )
    p.add_argument("--server-python", type=Path, default=CACHE / "vllm-venv" / "bin" / "python")
    p.add_argument("--num-prompts", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--input-words", type=int, default=150)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--repeats", type=int, default=1, help="pairs of phases, alternating order")
    p.add_argument("--structured", type=int, default=0, help="also N complete_json calls (0: skip)")
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    p.add_argument("--idle-wait", type=float, default=300, help="max seconds to wait for an idle server per phase")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args()
    if not args.base_url:
        sys.exit("no server: run `make serve` or pass --base-url")

    prompts = load_prompts(args.num_prompts, args.input_words)
    runs: dict[str, list[dict]] = {"vllm_bench": [], "client": []}
    with tempfile.TemporaryDirectory(prefix="radprm-bench-") as tmp:
        for r in range(args.repeats):
            order = ["vllm_bench", "client"] if r % 2 == 0 else ["client", "vllm_bench"]
            for phase in order:
                batch = tagged(prompts)
                waited = wait_idle(args.base_url, args.idle_wait)
                load, before = os.getloadavg()[0], server_stats(args.base_url)
                if phase == "vllm_bench":
                    res = run_vllm_bench(args, batch, Path(tmp), args.seed + r)
                else:
                    res = asyncio.run(run_client(args, batch))
                # the server may be shared: tokens it generated for others during the phase
                res["foreign_gen_tokens"] = (
                    server_stats(args.base_url)["gen_tokens"] - before["gen_tokens"] - res["total_output_tokens"]
                )
                res["loadavg_1m_at_start"], res["idle_wait_s"] = load, waited
                runs[phase].append(res)
                print(
                    f"[{r}] {phase:10s} {res['output_throughput']:7.1f} out tok/s  {res['duration']:6.1f} s  "
                    f"completed {res['completed']}/{len(batch)}  client cpu {res['process_cpu_s']:.1f} s  "
                    f"load {load:.1f}  foreign tokens {res['foreign_gen_tokens']:.0f}",
                    file=sys.stderr,
                )

    def mean(phase: str, key: str) -> float:
        return sum(x[key] for x in runs[phase]) / len(runs[phase])

    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "num_prompts": args.num_prompts,
        "concurrency": args.concurrency,
        "output_len": args.output_len,
        "vllm_bench_out_tok_s": mean("vllm_bench", "output_throughput"),
        "client_out_tok_s": mean("client", "output_throughput"),
        "vllm_bench_cpu_s": mean("vllm_bench", "process_cpu_s"),
        "client_cpu_s": mean("client", "process_cpu_s"),
        "vllm_bench_ttft_ms": mean("vllm_bench", "mean_ttft_ms"),
        "foreign_gen_tokens": sum(x["foreign_gen_tokens"] for phase in runs.values() for x in phase),
        "runs": runs,
    }
    summary["ratio"] = summary["client_out_tok_s"] / summary["vllm_bench_out_tok_s"]
    if args.structured:
        summary["structured"] = asyncio.run(run_structured(args, tagged(prompts)[: args.structured]))
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
