"""The fake OpenAI server speaks enough of the real API for the real client."""

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Literal

import openai
import pydantic
import pytest

from bot.sandbox.fake_openai import FakeOpenAI, example_for_schema


class Quote(pydantic.BaseModel):
    item_id: str
    excerpt: str = pydantic.Field(min_length=20)


class Theme(pydantic.BaseModel):
    label: str
    count: int = pydantic.Field(ge=3, le=10)
    score: float
    urgent: bool
    tone: Literal["positive", "negative", "mixed"]
    note: str | None
    quotes: list[Quote]


class Digest(pydantic.BaseModel):
    headline: str
    themes: list[Theme]
    owner: Quote | None


def raw_request(url, body=None, *, bearer="k", timeout=5.0):
    """(status, headers, json) for one request, without the openai client's conveniences."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    request.add_header("Content-Type", "application/json")
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


@pytest.fixture
def client(fake_openai):
    return openai.OpenAI(api_key="sk-test", base_url=fake_openai.url, max_retries=0, timeout=5)


def test_default_answer_is_valid_for_a_nested_schema(client, fake_openai):
    completion = client.chat.completions.parse(
        model="gpt-test",
        messages=[{"role": "user", "content": "summarize"}],
        response_format=Digest,
    )

    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Digest)
    assert Digest.model_validate_json(completion.choices[0].message.content) == parsed
    assert len(parsed.themes) == 1 and len(parsed.themes[0].quotes) == 1
    assert parsed.themes[0].tone == "positive"
    assert 3 <= parsed.themes[0].count <= 10
    assert len(parsed.themes[0].quotes[0].excerpt) >= 20
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_default_answer_is_deterministic(client):
    def ask():
        return (
            client.chat.completions.parse(
                model="gpt-test",
                messages=[{"role": "user", "content": "x"}],
                response_format=Digest,
            )
            .choices[0]
            .message.content
        )

    assert ask() == ask()


def test_example_for_schema_follows_refs_unions_and_constraints():
    schema = {
        "$defs": {
            "Item": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
        },
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2},
            "kind": {"const": "digest"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]},
            "either": {"type": ["null", "boolean"]},
            "when": {"type": "string", "format": "date-time"},
            "short": {"type": "string", "maxLength": 3},
            "merged": {"allOf": [{"$ref": "#/$defs/Item"}]},
        },
    }

    assert example_for_schema(schema) == {
        "items": [{"id": "sample id"}, {"id": "sample id"}],
        "kind": "digest",
        "maybe": 5,
        "either": True,
        "when": "2024-01-01T00:00:00Z",
        "short": "sam",
        "merged": {"id": "sample id"},
    }


def test_scripted_answers_come_in_order_then_the_responder(client, fake_openai):
    fake_openai.reply_json({"n": 1})
    fake_openai.reply_text("not json")
    fake_openai.responder = lambda request: {"echo": request["model"]}

    contents = [
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        .choices[0]
        .message.content
        for _ in range(3)
    ]

    assert contents == ['{"n": 1}', "not json", '{"echo": "gpt-test"}']
    assert [r["json"]["messages"][0]["content"] for r in fake_openai.requests] == ["hi"] * 3


def test_refusal_has_no_content(client, fake_openai):
    fake_openai.reply_refusal("No.")

    message = (
        client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}]
        )
        .choices[0]
        .message
    )

    assert message.content is None and message.refusal == "No."


def test_scripted_failures_are_http_errors(client, fake_openai):
    fake_openai.fail(status=500, times=2)

    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    # The script is used up: back to answering.
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])


def test_rate_limit_carries_retry_after(fake_openai):
    fake_openai.fail(status=429, retry_after=2)

    status, headers, body = raw_request(f"{fake_openai.url}/chat/completions", {"messages": []})

    assert status == 429
    assert headers["Retry-After"] == "2"
    assert body["error"]["type"] == "rate_limit_exceeded"


def test_requests_without_bearer_token_are_refused_and_recorded(fake_openai):
    status, _, body = raw_request(
        f"{fake_openai.url}/chat/completions", {"messages": []}, bearer=None
    )

    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert fake_openai.last_request["path"] == "/v1/chat/completions"
    assert "authorization" not in fake_openai.last_request["headers"]


def test_models_endpoint(client):
    assert [model.id for model in client.models.list()] == ["gpt-4o-mini"]


def test_unknown_path_is_404(fake_openai):
    status, _, _ = raw_request(f"{fake_openai.url}/nothing")

    assert status == 404


def test_stop_releases_a_hung_request_at_once():
    fake = FakeOpenAI().start()
    fake.hang(30)
    outcome = {}

    def call():
        try:
            outcome["answer"] = raw_request(
                f"{fake.url}/chat/completions", {"messages": []}, timeout=30
            )
        except (OSError, ValueError) as error:  # connection closed without an answer
            outcome["error"] = error

    caller = threading.Thread(target=call)
    caller.start()
    assert fake.wait_for_requests(1)
    started = time.monotonic()
    fake.stop()
    caller.join(timeout=5)

    assert not caller.is_alive()
    assert time.monotonic() - started < 5
    assert "answer" not in outcome and "error" in outcome  # dropped, not answered


def test_url_needs_a_running_server():
    with pytest.raises(RuntimeError):
        _ = FakeOpenAI().url
