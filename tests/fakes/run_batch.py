"""A stand-in for `vllm run-batch` (failure paths and fast equality tests): answers every line of an
OpenAI batch JSONL like the fake server's default responder (valid JSON for the requested schema).

    python tests/fakes/run_batch.py -i requests.jsonl -o results.jsonl --model smollm2 [--fail-every N]

`--fail-every N` answers every N-th line with an error line (status 500) instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.openai_server import FakeOpenAIServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", required=True)
    ap.add_argument("-o", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--fail-every", type=int, default=0)
    a = ap.parse_args()
    fake = FakeOpenAIServer(models=[a.model])
    out = []
    for n, line in enumerate(Path(a.i).read_text(encoding="utf-8").splitlines(), start=1):
        req = json.loads(line)
        body = req["body"]
        if body.get("model") != a.model:
            print(f"request {req['custom_id']}: model {body.get('model')} is not {a.model}", file=sys.stderr)
            return 2
        if a.fail_every and n % a.fail_every == 0:
            out.append({"id": f"b{n}", "custom_id": req["custom_id"],
                        "response": {"status_code": 500, "body": None}, "error": {"message": "injected"}})
            continue
        completion = fake._completion(body, fake.responder(body), "stop")
        out.append({"id": f"b{n}", "custom_id": req["custom_id"],
                    "response": {"status_code": 200, "request_id": f"r{n}", "body": completion}, "error": None})
    Path(a.o).write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
