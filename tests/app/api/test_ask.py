"""``POST /v1/ask``: JSON and Server-Sent Events, the same fields as ``citewise ask --json``."""

from __future__ import annotations

import json

from tests.app.api.conftest import COPIER


def events_of(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_ask_returns_a_checked_cited_answer(guide) -> None:
    response = guide.post("/v1/ask", json={"question": "how do I install into a virtualenv", "k": 2})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert not answer["abstained"] and answer["answer"].endswith("[1].")
    [citation] = answer["citations"]
    assert citation["supported"] and citation["source_uri"].endswith("install.md")
    assert citation["quote"] and citation["char_end"] > citation["char_start"]
    assert {"retrieval_s", "first_token_s", "total_s"} <= set(answer["timings"])
    assert set(answer) >= {"sources", "dropped_passages", "unsupported_sentences", "decline_probability"}


def test_the_api_answer_has_the_cli_json_fields(guide) -> None:
    """One shape for both: every key ``citewise ask --json`` prints is in the response schema."""
    from app.api.schemas import AnswerOut

    api = guide.post("/v1/ask", json={"question": "how do I install into a virtualenv"}).json()
    assert set(api) == set(AnswerOut.model_fields)


def test_streaming_sends_tokens_then_citations_then_done(guide) -> None:
    with guide.stream(
        "POST", "/v1/ask", json={"question": "how do I install into a virtualenv", "stream": True}
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = events_of(text)
    kinds = [kind for kind, _ in events]
    assert kinds[-2:] == ["citations", "done"] and set(kinds[:-2]) == {"token"} and len(kinds) > 3
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    done = events[-1][1]
    assert " ".join(streamed.split()) == done["answer"] and done["citations"] == events[-2][1]["citations"]
    from app.api.schemas import AnswerOut

    assert set(done) == set(AnswerOut.model_fields)  # the JSON answer's own shape, validated
    AnswerOut.model_validate(done)


def test_abstention_is_plain_and_shows_the_closest_sources(make_client) -> None:
    from tests.app.api.conftest import BACKUP, ingest

    client = make_client(generator="fake")  # echoes the prompt: nothing it says is supported
    ingest(client, {"backup.md": BACKUP})
    answer = client.post("/v1/ask", json={"question": "what is the capital of peru"}).json()
    assert answer["abstained"] and answer["answer"] == "The documents do not say."
    assert answer["citations"] == [] and answer["sources"]


def test_follow_up_questions_use_the_history(guide) -> None:
    history = [
        {"role": "user", "content": "how do I install into a virtualenv"},
        {"role": "assistant", "content": "With pip [1]."},
    ]
    response = guide.post("/v1/ask", json={"question": "which python version", "history": history})
    assert response.status_code == 200
    assert response.json()["standalone_question"]  # rewritten by the model, then answered


def test_a_model_outside_the_offered_list_is_refused(guide) -> None:
    for model in ("/etc/passwd.gguf", "os:system", "transformers:/"):
        response = guide.post("/v1/ask", json={"question": "install", "model": model})
        assert response.status_code == 400 and "not offered" in response.json()["detail"]
    assert guide.post("/v1/ask", json={"question": "install", "model": "extractive"}).status_code == 200
    assert guide.post("/v1/ask", json={"question": "install", "model": COPIER}).status_code == 200


def test_empty_and_invalid_questions(guide) -> None:
    assert guide.post("/v1/ask", json={"question": "  "}).status_code == 422
    assert guide.post("/v1/ask", json={"question": "x", "k": 0}).status_code == 422
    assert (
        guide.post(
            "/v1/ask", json={"question": "x", "history": [{"role": "system", "content": "x"}]}
        ).status_code
        == 422
    )


def test_models_trained_into_the_data_dir_are_offered(make_client, tmp_path) -> None:
    import torch

    from generator.gpt.model import GPT, GPTConfig
    from generator.gpt.tokenizer import train_tokenizer

    folder = tmp_path / "data" / "models" / "gpt-guide" / "model"
    tokenizer = train_tokenizer(["install the package into a virtualenv"] * 5, vocab_size=300)
    torch.manual_seed(0)
    GPT(GPTConfig(vocab_size=tokenizer.vocab_size, context=512, n_layer=1, n_head=2, n_embd=32)).save(folder)
    tokenizer.save(folder)
    client = make_client()
    names = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert f"gpt:{folder}" in names
    from tests.app.api.conftest import INSTALL, ingest

    ingest(client, {"install.md": INSTALL})
    response = client.post("/v1/ask", json={"question": "how do I install", "model": f"gpt:{folder}"})
    assert response.status_code == 200 and "abstained" in response.json()  # untrained: checked like any model
