"""``/v1/chat/completions`` with OpenAI's request and response shapes, streaming included."""

from __future__ import annotations

import json


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
