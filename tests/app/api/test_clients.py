"""The OpenAI-compatible routes as the popular clients use them, against a live server: the
``openai`` SDK (sync, async, streamed, ``parse()``), simonw's ``llm`` (Python API), LangChain's
``ChatOpenAI`` and ``litellm``. Each: an answer, a stream, usage, a conversation with an assistant
turn, the sources in the text, and the reason of an error."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.testing import live_api
from app.ui.client import CitewiseClient
from tests.app.api.conftest import BACKUP, INSTALL, make_settings
from tests.app.ui.conftest import wait_for

QUESTION = "how do I install into a virtualenv"
FOLLOW_UP = "When are restores tested?"
SOURCES = "\n\nSources:\n[1] install.md › Installing › Virtual environments"
JSON_COPIER = "generator.testing:json_copier"  # copies passage [1]'s first sentence; JSON when asked
NO_SUCH = {"collections": ["nope"]}  # known only once the answer runs, after a stream has started
MISSING = "no collection named 'nope'"
UNKNOWN = "model 'gpt-4' is not offered by this server; choose one of: citewise, citewise-sources"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(tmp_path_factory.mktemp("clients"), generator="generator.testing:json_copier")
    with live_api(settings) as url:
        client = CitewiseClient(url)
        accepted = client.upload("guide", [("install.md", INSTALL.encode()), ("backup.md", BACKUP.encode())])
        assert wait_for(client, accepted["job_id"])["status"] == "completed"
        client.close()
        yield f"{url}/v1"


def conversation() -> list[dict[str, str]]:
    """A follow-up after an assistant turn: it must be answered, not the first question again."""
    return [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Create a virtualenv with python -m venv .venv [1]."},
        {"role": "user", "content": FOLLOW_UP},
    ]


def about_restores(text: str) -> bool:
    return "Backups" in text and "virtualenv" not in text


# -- openai ---------------------------------------------------------------------------------------


def test_openai_sync_streamed_usage_and_citations(base_url) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    question = [{"role": "user", "content": QUESTION}]
    reply = client.chat.completions.create(model="citewise", messages=question)
    assert reply.choices[0].message.content.endswith("[1].") and reply.usage.total_tokens > 0
    assert reply.model_extra["citations"][0]["supported"]
    stream = client.chat.completions.create(
        model="citewise", messages=question, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("[1].") and chunks[-1].usage.completion_tokens > 0
    follow = client.chat.completions.create(model="citewise", messages=conversation())
    assert about_restores(follow.choices[0].message.content)
    sources = client.chat.completions.create(model="citewise-sources", messages=question)
    assert sources.choices[0].message.content.endswith(SOURCES)


def test_openai_async_and_parse(base_url) -> None:
    from openai import AsyncOpenAI
    from pydantic import BaseModel

    class Reply(BaseModel):
        answer: str

    async def ask() -> tuple[str, str]:
        client = AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)
        question = [{"role": "user", "content": QUESTION}]
        reply = await client.chat.completions.create(model="citewise", messages=question)
        parsed = await client.chat.completions.parse(
            model="citewise", messages=question, response_format=Reply
        )
        await client.close()
        return reply.choices[0].message.content, parsed.choices[0].message.parsed.answer

    text, answer = asyncio.run(ask())
    assert text.endswith("[1].") and answer.endswith("[1].")


def test_openai_errors_carry_the_reason(base_url) -> None:
    from openai import APIError, BadRequestError, OpenAI

    client = OpenAI(base_url=base_url, api_key="unused", max_retries=0)
    with pytest.raises(BadRequestError, match=UNKNOWN):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(BadRequestError, match="one answer per request"):
        client.chat.completions.create(model="citewise", messages=[{"role": "user", "content": "hi"}], n=2)
    stream = client.chat.completions.create(
        model="citewise", messages=[{"role": "user", "content": "hi"}], stream=True, extra_body=NO_SUCH
    )
    with pytest.raises(APIError, match=MISSING):  # after the stream started
        list(stream)


# -- llm ------------------------------------------------------------------------------------------


LLM_MODELS = [("cw", "citewise"), ("cw-sources", "citewise-sources"), ("cw-bad", "gpt-4")]


@pytest.fixture
def llm_models(base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import llm

    (tmp_path / "extra-openai-models.yaml").write_text(
        "".join(
            f"- model_id: {model_id}\n  model_name: {name}\n  api_base: {base_url}\n"
            for model_id, name in [
                ("cw", "citewise"),
                ("cw-sources", "citewise-sources"),
                ("cw-bad", "gpt-4"),
            ]
        )
    )
    monkeypatch.setenv("LLM_USER_PATH", str(tmp_path))
    return llm


def test_llm_streamed_not_streamed_conversation_and_sources(llm_models) -> None:
    model = llm_models.get_model("cw")
    assert "".join(model.prompt(QUESTION, key="unused")).endswith("[1].")
    response = model.prompt(QUESTION, stream=False, key="unused")  # `llm --no-stream`
    assert response.text().endswith("[1].") and response.usage().input > 0 and response.usage().output > 0
    chat = model.conversation()
    chat.prompt(QUESTION, key="unused").text()
    assert about_restores(chat.prompt(FOLLOW_UP, key="unused").text())
    assert llm_models.get_model("cw-sources").prompt(QUESTION, key="unused").text().endswith(SOURCES)


def test_llm_errors_carry_the_reason(llm_models) -> None:
    with pytest.raises(Exception, match=UNKNOWN):
        llm_models.get_model("cw-bad").prompt("hi", key="unused").text()


# -- LangChain ------------------------------------------------------------------------------------


def test_langchain_invoke_stream_conversation_and_errors(base_url) -> None:
    from langchain_openai import ChatOpenAI
    from openai import APIError, BadRequestError

    chat = ChatOpenAI(base_url=base_url, api_key="unused", model="citewise", max_retries=0)
    reply = chat.invoke(QUESTION)
    assert reply.content.endswith("[1].") and reply.usage_metadata["total_tokens"] > 0
    assert "".join(piece.content for piece in chat.stream(QUESTION)).endswith("[1].")
    turns = [
        (m["role"].replace("user", "human").replace("assistant", "ai"), m["content"]) for m in conversation()
    ]
    assert about_restores(chat.invoke(turns).content)
    sources = ChatOpenAI(base_url=base_url, api_key="unused", model="citewise-sources", max_retries=0)
    assert sources.invoke(QUESTION).content.endswith(SOURCES)
    with pytest.raises(BadRequestError, match=UNKNOWN):
        ChatOpenAI(base_url=base_url, api_key="unused", model="gpt-4", max_retries=0).invoke("hi")
    nowhere = ChatOpenAI(
        base_url=base_url, api_key="unused", model="citewise", max_retries=0, extra_body=NO_SUCH
    )
    with pytest.raises(APIError, match=MISSING):
        list(nowhere.stream("hi"))


# -- litellm --------------------------------------------------------------------------------------


def test_litellm_completion_stream_conversation_and_errors(base_url, monkeypatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its price list, not fetched from the web
    import litellm

    litellm.suppress_debug_info = True
    call = {"model": "openai/citewise", "api_base": base_url, "api_key": "unused"}
    question = [{"role": "user", "content": QUESTION}]
    reply = litellm.completion(messages=question, **call)
    assert reply.choices[0].message.content.endswith("[1].") and reply.usage.total_tokens > 0
    assert reply.citations[0]["supported"]  # litellm keeps the extra field
    stream = litellm.completion(messages=question, stream=True, **call)
    assert "".join(c.choices[0].delta.content or "" for c in stream).endswith("[1].")
    assert about_restores(litellm.completion(messages=conversation(), **call).choices[0].message.content)
    sources = litellm.completion(messages=question, **{**call, "model": "openai/citewise-sources"})
    assert sources.choices[0].message.content.endswith(SOURCES)
    bad = {**call, "model": "openai/gpt-4"}
    with pytest.raises(litellm.BadRequestError, match=UNKNOWN):
        litellm.completion(messages=question, num_retries=0, **bad)
    with pytest.raises(litellm.BadRequestError, match=UNKNOWN):
        list(litellm.completion(messages=question, stream=True, num_retries=0, **bad))
    with pytest.raises(Exception, match=MISSING):  # litellm wraps a failure mid-stream in its own class
        list(litellm.completion(messages=question, stream=True, num_retries=0, extra_body=NO_SUCH, **call))


def test_the_llm_command_line_without_streaming_and_continuing(llm_models, tmp_path) -> None:
    """`llm --no-stream` crashed on a reply without usage; `llm -c` continues the conversation."""
    command = [str(Path(sys.executable).with_name("llm")), "-m", "cw", "--key", "unused"]

    def run(*args: str) -> str:
        done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run("--no-stream", QUESTION).endswith("[1].")
    assert about_restores(run("-c", FOLLOW_UP))
