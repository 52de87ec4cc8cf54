"""``citewise train`` end to end on a small corpus: data prepared, loss falls, the model answers
through ``--model gpt:DIR``, and a second run continues instead of starting over."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.app.cli_helpers import run_cli

TOPICS = ["backup", "install", "deploy", "monitor", "rotate", "restore", "upgrade", "audit"]


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITEWISE_EMBEDDER", "fake-hashing")
    monkeypatch.setenv("CITEWISE_MIN_RETRIEVAL_SIMILARITY", "0")
    rng = random.Random(0)
    root = tmp_path / "library"
    root.mkdir()
    for number in range(40):
        topic = TOPICS[number % len(TOPICS)]
        lines = [f"# How to {topic} service {number}", ""]
        for step in range(60):
            tool = rng.choice(["ctl", "admin", "ops", "run"])
            lines.append(
                f"Step {step}: run {topic}-{tool} on host {rng.randint(1, 9)} and check the {topic} log."
            )
        (root / f"{topic}-{number}.md").write_text("\n".join(lines) + "\n")
    return root


def test_train_then_answer_then_continue(capsys, library: Path, tmp_path: Path) -> None:
    assert run_cli(capsys, "ingest", str(library), "-c", "ops").code == 0
    out = tmp_path / "trained"
    args = ("train", "-c", "ops", "--budget", "25s", "--out", str(out), "--vocab", "500", "--context", "512")
    args = (*args, "--pretrain-only")
    result = run_cli(capsys, *args)
    assert result.code == 0, result.err
    assert "perplexity" in result.out and f"gpt:{out / 'model'}" in result.out

    trainer_state = json.loads((out / "checkpoint" / "trainer.json").read_text())
    history = trainer_state["history"]
    validation = [r["val_loss"] for r in history if "val_loss" in r]
    assert len(validation) >= 2 and validation[-1] < 0.7 * validation[0]  # it learned the corpus
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in (out / "model").iterdir()
    }

    answer = run_cli(capsys, "ask", "how do I restore a service", "--model", f"gpt:{out / 'model'}", "--json")
    assert answer.code == 0, answer.err
    payload = json.loads(answer.out)
    assert "abstained" in payload and payload["sources"]  # the same checks as any backend

    plan = json.loads((out / "plan.json").read_text())
    again = run_cli(capsys, *args)  # the same command continues from the checkpoint
    assert again.code == 0, again.err
    assert json.loads((out / "plan.json").read_text()) == plan
    steps_after = json.loads((out / "checkpoint" / "trainer.json").read_text())["step"]
    assert steps_after >= trainer_state["step"]


def test_training_refuses_what_it_cannot_use(capsys, library: Path, tmp_path: Path) -> None:
    result = run_cli(capsys, "train", "-c", "nowhere", "--budget", "5s", "--out", str(tmp_path / "x"))
    assert result.code == 1 and "no collection named 'nowhere'" in result.err
    result = run_cli(capsys, "train", "-c", "ops", "--budget", "soon")
    assert result.code == 2 and "not a time budget" in result.err


def test_fine_tuning_on_distilled_examples_reports_a_qa_evaluation(
    capsys, library: Path, tmp_path: Path
) -> None:
    assert run_cli(capsys, "ingest", str(library), "-c", "ops").code == 0
    out = tmp_path / "tuned"
    teacher = "generator.testing:passage_teacher"
    result = run_cli(
        capsys, "train", "-c", "ops", "--budget", "40s", "--out", str(out), "--vocab", "500",
        "--teacher", teacher, "--distill", "40",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "held-out QA" in result.out and "fine-tuning steps" in result.out
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert len(examples) >= 10
    for example in examples:  # the pipeline's own prompt, and a grounded reply
        assert (
            example["messages"][0]["role"] == "system" and "Question:" in example["messages"][-1]["content"]
        )
        assert example["reply"].endswith("]") or example["reply"] == "The documents do not say."
    report = json.loads((out / "finetune.json").read_text())
    assert report["steps"] > 0 and report["evaluation"]["questions"] >= 1
    cloze = [json.loads(line) for line in (out / "cloze.jsonl").read_text().splitlines()]
    assert cloze and report["cloze"] == len(cloze) and "cloze" in result.out  # the table may wrap
    for example in cloze:  # made from the passages, in the same prompts, never held out
        assert example["question"].endswith("?") and example["messages"][0]["role"] == "system"
        assert example["reply"].endswith("]") or example["reply"] == "The documents do not say."
    assert not {e["question"] for e in cloze} & {e["question"] for e in examples}


def test_fine_tuning_on_the_users_examples(capsys, library: Path, tmp_path: Path) -> None:
    assert run_cli(capsys, "ingest", str(library), "-c", "ops").code == 0
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps(
            {"question": "Which command runs on host 3 in step 0 of restore?", "answer": "restore-ctl"}
        )
        + "\n"
        + json.dumps({"question": "Who wrote the moon landing speech?", "answer": "unknown"})
        + "\n"
    )
    out = tmp_path / "mine"
    result = run_cli(
        capsys, "train", "-c", "ops", "--budget", "20s", "--out", str(out), "--vocab", "500", "--qa", str(qa)
    )
    assert result.code == 0, result.err
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert [e["question"] for e in examples][:2] and examples[-1]["reply"] == "The documents do not say."
    missing = run_cli(capsys, "train", "-c", "ops", "--qa", str(tmp_path / "none.jsonl"))
    assert missing.code == 1 and "no such examples file" in missing.err


def test_lora_re_tuning_on_new_documents_keeps_the_vocabulary(capsys, library: Path, tmp_path: Path) -> None:
    assert run_cli(capsys, "ingest", str(library), "-c", "ops").code == 0
    base = tmp_path / "base"
    common = ("--vocab", "500", "--context", "256", "--pretrain-only")
    assert run_cli(capsys, "train", "-c", "ops", "--budget", "10s", "--out", str(base), *common).code == 0
    news = tmp_path / "news"
    news.mkdir()
    for number in range(10):
        lines = [f"# Release notes {number}", ""]
        lines += [
            f"Version {number}.{i} fixes the {TOPICS[i % 8]} timeout on host {i % 7}." for i in range(50)
        ]
        (news / f"release-{number}.md").write_text("\n".join(lines) + "\n")
    assert run_cli(capsys, "ingest", str(news), "-c", "releases").code == 0
    tuned = tmp_path / "tuned"
    result = run_cli(
        capsys, "train", "-c", "releases", "--budget", "10s", "--out", str(tuned),
        "--base", str(base / "model"), "--lora-rank", "4", "--pretrain-only",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert (tuned / "model" / "tokenizer.json").read_text() == (base / "model" / "tokenizer.json").read_text()
    assert json.loads((tuned / "model" / "config.json").read_text()) == json.loads(
        (base / "model" / "config.json").read_text()
    )
    assert "perplexity" in result.out
    from generator.gpt.dataset import TokenFile
    from generator.gpt.model import GPT
    from generator.gpt.train import mean_loss

    windows = list(TokenFile(tuned / "data" / "validation.bin").windows(256, limit=8))
    before = mean_loss(GPT.load(base / "model"), windows)
    after = mean_loss(GPT.load(tuned / "model"), windows)
    assert after < before  # the adapters learned the new documents
    missing = run_cli(capsys, "train", "-c", "releases", "--base", str(tmp_path / "nothing"))
    assert missing.code == 1 and "no trained Citewise model" in missing.err
