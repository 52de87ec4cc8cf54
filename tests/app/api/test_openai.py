"""``/v1/chat/completions`` with OpenAI's request and response shapes, streaming included."""

from __future__ import annotations

import json

import pytest

from tests.app.api.conftest import BACKUP, INSTALL, ingest


def _messages(question: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": question}]


def test_completion_in_openai_shape_with_citations(guide) -> None:
    response = guide.post(
        "/v1/chat/completions",
        json={
            "model": "citewise",
            "messages": _messages("how do I install into a virtualenv"),
            "temperature": 0.2,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == body["citewise"]["answer"]
    assert body["citations"] and body["citations"][0]["source_uri"].endswith("install.md")


def test_streamed_chunks_end_with_citations_and_done(guide) -> None:
    payload = {
        "model": "citewise",
        "messages": _messages("how do I install into a virtualenv"),
        "stream": True,
    }
    with guide.stream("POST", "/v1/chat/completions", json=payload) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["citations"]
    assert " ".join(text.split()) == last["citewise"]["answer"]


def test_models_lists_what_clients_may_name(guide) -> None:
    names = [m["id"] for m in guide.get("/v1/models").json()["data"]]
    assert names[0] == "citewise" and "extractive" in names and "qwen2.5-0.5b" in names


def test_bad_conversations_are_422(guide) -> None:
    assert guide.post("/v1/chat/completions", json={"messages": []}).status_code == 422
    only_system = {"messages": [{"role": "system", "content": "hi"}]}
    assert guide.post("/v1/chat/completions", json=only_system).status_code == 422
    ends_with_assistant = {
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    }
    assert guide.post("/v1/chat/completions", json=ends_with_assistant).status_code == 422
    assert (
        guide.post("/v1/chat/completions", json={"model": "gpt-4", "messages": _messages("x")}).status_code
        == 400
    )


def test_content_parts_are_accepted(guide) -> None:
    """Newer clients send content as a list of text parts."""
    parts = [{"role": "user", "content": [{"type": "text", "text": "how do I install into a virtualenv"}]}]
    body = guide.post("/v1/chat/completions", json={"model": "citewise", "messages": parts}).json()
    assert body["choices"][0]["message"]["content"]


def test_the_openai_python_client_talks_to_it(guide) -> None:
    from openai import OpenAI

    client = OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=guide)
    question = [{"role": "user", "content": "how do I install into a virtualenv"}]
    reply = client.chat.completions.create(model="citewise", messages=question)
    assert reply.choices[0].message.content.endswith("[1].")
    assert reply.model_extra["citations"][0]["supported"]  # the extra field survives the client

    stream = client.chat.completions.create(model="citewise", messages=question, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "[1]" in text and chunks[-1].model_extra["citations"]


def test_an_overlong_question_is_refused(guide) -> None:
    body = {"messages": [{"role": "user", "content": "x" * 4001}]}
    assert guide.post("/v1/chat/completions", json=body).status_code == 422
    body = {"messages": [{"role": "user", "content": "x" * 20_001}]}
    assert guide.post("/v1/chat/completions", json=body).status_code == 422


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def _generator(client):
    return client.app.state.runtime.generator()


def test_every_reply_carries_usage_counted_by_the_models_tokenizer(guide) -> None:
    body = guide.post("/v1/chat/completions", json={"messages": _messages("how do I install")}).json()
    usage = body["usage"]
    [(messages, _)] = _generator(guide).calls[-1:]
    assert usage["prompt_tokens"] == _generator(guide).count_tokens(messages) > 0
    assert usage["completion_tokens"] == len(body["choices"][0]["message"]["content"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body["citewise"]["usage"] == usage


def test_a_stream_asked_for_usage_ends_with_the_usage_chunk(guide) -> None:
    payload = {
        "messages": _messages("how do I install into a virtualenv"),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with guide.stream("POST", "/v1/chat/completions", json=payload) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    *chunks, done = lines
    assert done == "data: [DONE]"
    last = json.loads(chunks[-1][6:])
    assert last["choices"] == [] and last["usage"]["total_tokens"] > 0
    assert json.loads(chunks[-2][6:])["choices"][0]["finish_reason"] == "stop"
    without = {**payload, "stream_options": None}
    with guide.stream("POST", "/v1/chat/completions", json=without) as response:
        plain = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert all(chunk["choices"] for chunk in plain) and "usage" not in plain[-1]


def test_errors_come_in_openais_shape_and_name_every_model(guide) -> None:
    response = guide.post("/v1/chat/completions", json={"model": "gpt-4", "messages": _messages("x")})
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "model"
    assert error["code"] == "model_not_found" and "'gpt-4'" in error["message"]
    assert "citewise, citewise-sources, " in error["message"] and "extractive" in error["message"]
    invalid = guide.post("/v1/chat/completions", json={"messages": [], "temperature": 9})
    assert invalid.status_code == 422 and invalid.json()["error"]["param"] == "messages"
    # Citewise's own routes keep problem+json.
    own = guide.post("/v1/ask", json={"question": "x", "model": "gpt-4"})
    assert own.status_code == 400 and own.json()["detail"].startswith("model 'gpt-4'")


def test_an_error_after_the_stream_started_is_an_openai_error_event(make_client) -> None:
    client = make_client(generator="generator.testing:passage_copier", request_timeout_s=0.0001)
    ingest(client, {"install.md": INSTALL})
    payload = {"messages": _messages("how do I install"), "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert response.status_code == 200 and lines[-1] == "data: [DONE]"
    error = json.loads(lines[-2][6:])["error"]
    assert error["type"] == "timeout" and "took longer" in error["message"]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"tools": TOOLS, "tool_choice": "required"}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice"),
    ],
)
def test_what_cannot_be_honoured_is_refused_clearly(guide, extra, param) -> None:
    response = guide.post("/v1/chat/completions", json={"messages": _messages("how do I install"), **extra})
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_tools_the_model_may_leave_alone_are_answered_as_text(guide) -> None:
    body = {"messages": _messages("how do I install into a virtualenv"), "tools": TOOLS, "n": 1}
    response = guide.post("/v1/chat/completions", json=body)
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"]


def test_sampling_stops_and_length_reach_the_model_within_the_servers_limit(guide) -> None:
    body = {
        "messages": _messages("how do I install into a virtualenv"),
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 42,
        "stop": ["END"],
        "max_tokens": 5000,
    }
    assert guide.post("/v1/chat/completions", json=body).status_code == 200
    options = _generator(guide).calls[-1][1]
    assert (options.temperature, options.top_p, options.seed) == (0.7, 0.9, 42)
    assert options.stop == ("\n", "END") and options.max_tokens == 96  # CITEWISE_ANSWER_TOKENS
    short = guide.post("/v1/chat/completions", json={**body, "max_completion_tokens": 3}).json()
    assert _generator(guide).calls[-1][1].max_tokens == 3
    assert short["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("how", [{"citewise_sources": True}, {"model": "citewise-sources"}])
def test_sources_can_be_written_into_the_text(guide, how) -> None:
    body = {"messages": _messages("how do I install into a virtualenv"), **how}
    content = guide.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    answer, sources = content.split("\n\nSources:\n")
    assert answer.endswith("[1].") and sources == "[1] install.md › Installing › Virtual environments"
    with guide.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.endswith("\n\nSources:\n[1] install.md › Installing › Virtual environments")


def test_models_include_the_sources_alias(guide) -> None:
    names = [m["id"] for m in guide.get("/v1/models").json()["data"]]
    assert names[:2] == ["citewise", "citewise-sources"]


def test_the_openai_client_shows_citewises_reasons(make_client) -> None:
    from openai import APIError, BadRequestError, OpenAI

    client = make_client(request_timeout_s=0.0001)
    ingest(client, {"install.md": INSTALL})
    openai = OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)
    question = [{"role": "user", "content": "how do I install"}]
    with pytest.raises(BadRequestError, match="choose one of: citewise, citewise-sources"):
        openai.chat.completions.create(model="gpt-4", messages=question)
    with pytest.raises(APIError, match="the answer took longer than"):
        list(openai.chat.completions.create(model="citewise", messages=question, stream=True))


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
JSON_COPIER = "generator.testing:json_copier"


@pytest.fixture
def json_guide(make_client):
    client = make_client(generator=JSON_COPIER)
    ingest(client, {"install.md": INSTALL, "backup.md": BACKUP})
    return client


def test_a_json_schema_answer_is_json_with_its_citations_beside_it(json_guide) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "reply", "schema": SCHEMA}}
    body = {"messages": _messages("how do I install into a virtualenv"), "response_format": response_format}
    reply = json_guide.post("/v1/chat/completions", json=body).json()
    content = json.loads(reply["choices"][0]["message"]["content"])
    assert content["answer"].endswith("[1].") and reply["citations"][0]["supported"]
    options = _generator(json_guide).calls[-1][1]
    assert json.loads(options.json_schema) == SCHEMA and "\n" not in options.stop  # JSON may span lines
    json_object = {**body, "response_format": {"type": "json_object"}}
    assert json_guide.post("/v1/chat/completions", json=json_object).status_code == 200
    assert json.loads(_generator(json_guide).calls[-1][1].json_schema)["required"] == ["answer"]


def test_the_openai_clients_parse_reads_the_answer_and_a_refusal(json_guide) -> None:
    from openai import OpenAI
    from pydantic import BaseModel

    class Reply(BaseModel):
        answer: str

    client = OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=json_guide)
    question = [{"role": "user", "content": "how do I install into a virtualenv"}]
    parsed = client.chat.completions.parse(model="citewise", messages=question, response_format=Reply)
    assert parsed.choices[0].message.parsed.answer.endswith("[1].")


def test_a_json_abstention_is_a_refusal_with_null_content(make_client) -> None:
    from openai import OpenAI
    from pydantic import BaseModel

    class Reply(BaseModel):
        answer: str

    client = make_client(generator=JSON_COPIER, min_retrieval_similarity=1.0)  # nothing is close enough
    ingest(client, {"install.md": INSTALL})
    body = {"messages": _messages("how do I install"), "response_format": {"type": "json_object"}}
    message = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert message["content"] is None and message["refusal"].startswith("The documents do not say. (weak")
    openai = OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client)
    parsed = openai.chat.completions.parse(model="citewise", messages=body["messages"], response_format=Reply)
    assert parsed.choices[0].message.parsed is None and parsed.choices[0].message.refusal
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    refusals = [c["choices"][0]["delta"].get("refusal") for c in chunks if c["choices"]]
    assert any(r and r.startswith("The documents do not say.") for r in refusals)


def test_json_from_a_backend_without_grammars_or_to_a_broken_schema_is_a_400(guide) -> None:
    body = {"messages": _messages("how do I install"), "response_format": {"type": "json_object"}}
    response = guide.post("/v1/chat/completions", json=body)
    assert (
        response.status_code == 400 and "JSON output needs a llama.cpp" in response.json()["error"]["message"]
    )
    broken = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "no-such-type"}}}
    response = guide.post("/v1/chat/completions", json={**body, "response_format": broken})
    assert response.status_code == 400 and response.json()["error"]["param"] == "response_format"
