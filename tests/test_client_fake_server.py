"""The fake OpenAI server itself: endpoints, default answers valid for the requested schema, logs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Literal

import pytest
from fakes.openai_server import default_content, example_from_schema, reply
from pydantic import BaseModel, Field

from radprm.schemas.records import Chain, ChainScores, Question, StepResult


class Step(BaseModel):
    text: str = Field(min_length=20, max_length=200)
    verdict: Literal["supported", "contradicted"]
    confidence: float = Field(ge=0.5, le=1.0)


class Bounded(BaseModel):
    steps: list[Step] = Field(min_length=3, max_length=6)
    answer: list[str] = Field(max_length=2)
    note: str | None = None
    count: int = Field(gt=2, lt=10)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read()


def post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("model", [Bounded, Chain, ChainScores, Question, StepResult])
def test_fake_default_content_validates_against_requested_schema(model):
    body = {
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": model.model_json_schema()}}
    }
    parsed = model.model_validate_json(default_content(body))
    assert isinstance(parsed, model)


def test_fake_example_respects_bounds():
    value = example_from_schema(Bounded.model_json_schema())
    assert len(value["steps"]) == 3
    assert all(20 <= len(s["text"]) <= 200 for s in value["steps"])
    assert value["count"] == 3


def test_fake_health_and_models(fake_openai_server):
    assert get(fake_openai_server.url + "/health")[0] == 200
    code, body = get(fake_openai_server.base_url + "/models")
    assert code == 200
    assert [m["id"] for m in json.loads(body)["data"]] == ["smollm2"]


def test_fake_chat_logs_requests_and_answers(fake_openai_server):
    fake_openai_server.enqueue(reply({"answer": "yes"}))
    code, body = post(fake_openai_server.base_url + "/chat/completions",
                      {"model": "smollm2", "messages": [{"role": "user", "content": "hi there"}]})
    assert code == 200
    assert json.loads(body["choices"][0]["message"]["content"]) == {"answer": "yes"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 2
    assert fake_openai_server.chat_count == 1
    assert fake_openai_server.requests[0]["messages"][0]["content"] == "hi there"
    assert fake_openai_server.responses[0][0] == 200


def test_fake_unknown_model_is_404(fake_openai_server):
    code, body = post(fake_openai_server.base_url + "/chat/completions", {"model": "nope", "messages": []})
    assert code == 404 and "does not exist" in body["error"]["message"]


def test_fake_rule_takes_precedence_over_queue(fake_openai_server):
    fake_openai_server.enqueue(reply({"answer": "queued"}))
    fake_openai_server.rule = lambda body: reply({"answer": "ruled"}) if "special" in str(body) else None
    url = fake_openai_server.base_url + "/chat/completions"
    _, a = post(url, {"model": "smollm2", "messages": [{"role": "user", "content": "special"}]})
    _, b = post(url, {"model": "smollm2", "messages": [{"role": "user", "content": "plain"}]})
    assert json.loads(a["choices"][0]["message"]["content"]) == {"answer": "ruled"}
    assert json.loads(b["choices"][0]["message"]["content"]) == {"answer": "queued"}
