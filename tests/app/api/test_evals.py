"""``/v1/evals``: the saved runs of a collection (written by the real ``save_run``), newest first,
scoped like every read route, and never a way to read files outside the evals folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api_keys import create_key
from app.evaluation.outcome import Outcome, PassageRef, SentenceCheck
from app.evaluation.questions import EvalQuestion
from app.evaluation.records import save_run
from app.evaluation.runner import EvalRun, Variant
from app.evaluation.scoring import score

INSTALL = PassageRef(1, "/docs/install.md", 10)
BACKUP = PassageRef(2, "/docs/backup.md", 20)


def make_run(variant: Variant, right: bool = True, partial: bool = False) -> EvalRun:
    """Two questions scored by the real scorer: an answerable one (right or wrong) and one to abstain on."""
    install = EvalQuestion("install", "how do I install?", answers=("pip install",), sources=("install.md",))
    peru = EvalQuestion("peru", "capital of peru?", unanswerable=True, tags=("off-topic",))
    said = "Run pip install [1]." if right else "Use apt-get [1]."
    sentence = SentenceCheck(said, ((INSTALL, True),), supported=True)
    answered = Outcome(said, sentences=(sentence,), retrieved=(INSTALL, BACKUP), read=(INSTALL,), total_s=1.5)
    abstained = Outcome("", abstained=True, abstain_reason="weak_retrieval", retrieved=(BACKUP,), total_s=0.5)
    results = [score(install, answered), score(peru, abstained)]
    return EvalRun(variant, results, planned=3 if partial else 2, partial=partial, seconds=2.0)


def data_dir(client: TestClient) -> Path:
    return client.app.state.runtime.settings.data_dir


def seed(client: TestClient, collection: str = "guide") -> list[Path]:
    """Three runs of ``collection`` at different times, saved the way ``citewise eval`` saves them."""
    directory = data_dir(client)
    context = {"question_file": "qa.jsonl", "tag": None, "limit": None}
    return [
        save_run(
            directory, collection, make_run(Variant("default")), datetime(2025, 1, 1, tzinfo=UTC), **context
        ),
        save_run(
            directory, collection, make_run(Variant("default k=8", None, {"k": 8}), right=False),
            datetime(2025, 3, 1, tzinfo=UTC), **context,
        ),
        save_run(
            directory, collection, make_run(Variant("small.gguf", "small.gguf"), partial=True),
            datetime(2025, 2, 1, tzinfo=UTC), **context,
        ),
    ]  # fmt: skip


@pytest.fixture
def guide(client: TestClient) -> TestClient:
    assert client.post("/v1/collections", json={"name": "guide"}).status_code == 201
    return client


def test_runs_are_listed_newest_first_with_their_metrics(guide: TestClient) -> None:
    paths = seed(guide)
    response = guide.get("/v1/evals", params={"collection": "guide"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["collection"] == "guide"
    runs = body["runs"]
    assert [run["variant"] for run in runs] == ["default k=8", "small.gguf", "default"]
    assert [run["id"] for run in runs] == [paths[1].stem, paths[2].stem, paths[0].stem]
    newest, middle, oldest = runs
    assert newest["settings"] == {"k": 8} and newest["model"] is None
    assert middle["model"] == "small.gguf" and middle["partial"] is True
    assert (middle["answered"], middle["planned"]) == (2, 3)
    assert oldest["metrics"]["answer_correct"] == 1.0 and newest["metrics"]["answer_correct"] == 0.0
    assert oldest["metrics"]["abstention_f1"] == 1.0 and oldest["question_file"] == "qa.jsonl"
    assert newest["failures"]["answered_wrongly"] == 1
    assert newest["time"].startswith("2025-03-01")


def test_one_run_has_its_question_rows(guide: TestClient) -> None:
    paths = seed(guide)
    response = guide.get(f"/v1/evals/guide/{paths[1].stem}")
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["variant"] == "default k=8" and run["id"] == paths[1].stem
    install, peru = run["results"]
    assert install["id"] == "install" and install["failure"] == "answered_wrongly"
    assert install["answer"] == "Use apt-get [1]." and install["expected"] == "pip install"
    assert install["sources"] == ["install.md"]
    assert peru["abstained"] is True and peru["abstain_reason"] == "weak_retrieval"
    assert peru["expected"] == "(abstain)" and peru["failure"] is None and peru["tags"] == ["off-topic"]


def test_a_collection_without_runs_lists_none(guide: TestClient) -> None:
    assert guide.get("/v1/evals", params={"collection": "guide"}).json() == {
        "collection": "guide",
        "runs": [],
    }


def test_unknown_collections_and_runs_are_404(guide: TestClient) -> None:
    seed(guide, "nope")  # runs of a collection that does not exist (deleted since) stay hidden
    for response in (
        guide.get("/v1/evals", params={"collection": "nope"}),
        guide.get("/v1/evals/nope/20250101T000000Z-default"),
    ):
        assert response.status_code == 404 and response.json()["detail"] == "no collection named 'nope'"
    missing = guide.get("/v1/evals/guide/20990101T000000Z-default")
    assert missing.status_code == 404 and "no evaluation run" in missing.json()["detail"]
    assert guide.get("/v1/evals").status_code == 422  # the collection is required


def test_run_ids_cannot_leave_the_evals_folder(guide: TestClient, tmp_path: Path) -> None:
    seed(guide)
    folder = data_dir(guide) / "evals" / "guide"
    # A run-shaped file one level up and one outside the data dir: never reachable by id.
    (folder.parent / "secret.json").write_text(next(folder.iterdir()).read_text())
    (tmp_path / "outside.json").write_text(next(folder.iterdir()).read_text())
    (folder / "link.json").symlink_to(tmp_path / "outside.json")
    for attempt in ("..%2Fsecret", "..", "...", "%2e%2e%2fsecret", ".hidden", "link", "a\\..\\secret"):
        response = guide.get(f"/v1/evals/guide/{attempt}")
        # 422: ".." is resolved by the client to the list route, which then lacks ?collection.
        assert response.status_code in (404, 422), (attempt, response.text)
        assert "results" not in response.text
    assert guide.get("/v1/evals/guide/../secret").status_code == 404  # the client normalises it away
    listed = [run["id"] for run in guide.get("/v1/evals", params={"collection": "guide"}).json()["runs"]]
    assert "link" not in listed and len(listed) == 3


def test_damaged_and_foreign_files_are_skipped(guide: TestClient) -> None:
    seed(guide)
    folder = data_dir(guide) / "evals" / "guide"
    (folder / "20990101T000000Z-broken.json").write_text('{"variant": "x", "summ')
    (folder / "20990101T000000Z-list.json").write_text("[1, 2]")
    (folder / "20990101T000000Z-binary.json").write_bytes(b"\xff\xfe\x00")
    (folder / "20990101T000000Z-nometrics.json").write_text('{"variant": "x", "summary": {}}')
    (folder / "20990101T000000Z-badtypes.json").write_text(
        '{"variant": "x", "answered": "many", "summary": {"metrics": {"mrr": "high"}}}'
    )
    (folder / "notes.txt").write_text("not a run")
    (folder / "20990101T000000Z-dir.json").mkdir()
    runs = guide.get("/v1/evals", params={"collection": "guide"}).json()["runs"]
    assert len(runs) == 3 and all("2099" not in run["id"] for run in runs)
    for stem in ("broken", "list", "binary", "nometrics", "badtypes", "dir"):
        assert guide.get(f"/v1/evals/guide/20990101T000000Z-{stem}").status_code == 404, stem


def test_a_run_saved_without_question_rows_still_reads(guide: TestClient) -> None:
    [path, *_] = seed(guide)
    import json

    payload = json.loads(path.read_text())
    del payload["results"], payload["time"]  # as runs were saved before they kept their questions
    path.write_text(json.dumps(payload))
    run = guide.get(f"/v1/evals/guide/{path.stem}").json()
    assert run["results"] == [] and run["time"].startswith("2025-01-01")  # the time from the file name


def test_a_scoped_key_sees_only_its_collections_runs(make_client) -> None:
    client = make_client(auth_enabled=True)
    kb = client.app.state.runtime.kb
    admin = {"Authorization": f"Bearer {create_key(kb, 'admin')[1]}"}
    scoped = {"X-API-Key": create_key(kb, "guide-reader", ("guide",))[1]}
    for name in ("guide", "secret"):
        assert client.post("/v1/collections", json={"name": name}, headers=admin).status_code == 201
        seed(client, name)
    assert client.get("/v1/evals", params={"collection": "guide"}).status_code == 401
    assert len(client.get("/v1/evals", params={"collection": "guide"}, headers=scoped).json()["runs"]) == 3
    assert client.get("/v1/evals", params={"collection": "secret"}, headers=scoped).status_code == 403
    secret_id = client.get("/v1/evals", params={"collection": "secret"}, headers=admin).json()["runs"][0][
        "id"
    ]
    assert client.get(f"/v1/evals/secret/{secret_id}", headers=scoped).status_code == 403
    assert client.get(f"/v1/evals/secret/{secret_id}", headers=admin).status_code == 200


def test_collections_sharing_a_folder_keep_their_own_runs(client: TestClient) -> None:
    for name in ("team a", "team_a"):
        assert client.post("/v1/collections", json={"name": name}).status_code == 201
    seed(client, "team a")
    assert len(client.get("/v1/evals", params={"collection": "team a"}).json()["runs"]) == 3
    assert client.get("/v1/evals", params={"collection": "team_a"}).json()["runs"] == []
