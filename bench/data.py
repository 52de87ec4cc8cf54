"""Benchmark data fetched at run time into bench/.cache (never committed).

Two retrieval sets of different kinds, so fusion is never tuned to one of them:

* ``disfl-qa``: SQuAD-style questions from BIG-bench's Disfl-QA task; the question usually shares
  words with its paragraph, which favours keyword search.
* ``python-faq``: the question headings of the Python FAQ (Debian's ``python3.11-doc``) against the
  answers with the heading removed; an FAQ answer often uses other words than its question.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
DEBIAN_PACKAGES = ("python3.11-doc", "debian-reference-en")
DISFL_QA_MEMBER = "bigbench/benchmark_tasks/disfl_qa/task.json"
PYTHON_DOCS = Path("usr/share/doc/python3.11/html")


@dataclass(frozen=True)
class RetrievalSet:
    """Documents as (file name, text) and queries as (question, file name of the relevant document,
    or the names of all documents that answer it)."""

    name: str
    documents: list[tuple[str, str]]
    queries: list[tuple[str, str | tuple[str, ...]]]


def fetch_debian() -> Path:
    """Debian's documentation packages, unpacked (``apt-get download`` needs no root)."""
    unpacked = CACHE / "debian"
    if (unpacked / "usr" / "share").is_dir():
        return unpacked
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *DEBIAN_PACKAGES], cwd=CACHE, check=True)
    for deb in CACHE.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
    return unpacked


def python_docs_dir(unpacked: Path) -> Path:
    """The HTML tree of python3.11-doc (the package keeps it under /usr/share/doc/python3.11)."""
    for candidate in (unpacked / PYTHON_DOCS, unpacked / "usr/share/doc/python3.11-doc/html"):
        if candidate.is_dir():
            return candidate.resolve()
    raise SystemExit(f"python3.11-doc's HTML tree not found under {unpacked}")


def disfl_qa_examples() -> list[dict]:
    """The task's examples as they are: ``input`` (question, then ``context:`` and the paragraph)
    and ``target`` (the answer span, or ``unknown``)."""
    archives = sorted(CACHE.glob("bigbench-1.0.0*.tar.gz"))
    if not archives:
        # pip >= 24 refuses this sdist (it declares a direct-URL dependency even with --no-deps);
        # the pip that ships with Python 3.11 downloads it.
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(CACHE), "bigbench==1.0.0"]
        if subprocess.run(command).returncode != 0:
            raise SystemExit(
                "could not download bigbench==1.0.0: run `python3 -m pip download --no-deps -d bench/.cache "
                "bigbench==1.0.0` with pip < 24, then run this benchmark again"
            )
        archives = sorted(CACHE.glob("bigbench-1.0.0*.tar.gz"))
    with tarfile.open(archives[0]) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(DISFL_QA_MEMBER))
        return json.load(archive.extractfile(member))["examples"]  # type: ignore[arg-type]


def split_example(example: dict) -> tuple[str, str]:
    question, _, paragraph = example["input"].partition("context:")
    return question.strip(), paragraph.strip()


def disfl_qa() -> RetrievalSet:
    pairs = [split_example(example) for example in disfl_qa_examples()]
    names = {p: f"p{i:04d}.txt" for i, p in enumerate(dict.fromkeys(p for _, p in pairs))}
    documents = [(name, paragraph + "\n") for paragraph, name in names.items()]
    return RetrievalSet("disfl-qa", documents, [(q, names[p]) for q, p in pairs if q])


_UNDERLINE = re.compile(r"^([=\-~^*+#\"'])\1{2,}\s*$")


def faq_entries(rst: str) -> list[tuple[str, str]]:
    """(question, answer) pairs: every section whose heading ends with "?", body without the heading."""
    lines = rst.splitlines()
    starts = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() and not _UNDERLINE.match(lines[i]) and _UNDERLINE.match(lines[i + 1])
    ]
    entries = []
    for n, start in enumerate(starts):
        heading = lines[start].strip()
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body = [line for line in lines[start + 2 : end] if not line.startswith(".. _")]
        answer = "\n".join(body).strip()
        if heading.endswith("?") and len(answer.split()) >= 20:
            entries.append((heading, answer))
    return entries


def python_faq() -> RetrievalSet:
    faq_dir = python_docs_dir(fetch_debian()) / "_sources" / "faq"
    documents, queries = [], []
    for path in sorted(faq_dir.glob("*.rst.txt")):
        for question, answer in faq_entries(path.read_text(encoding="utf-8")):
            name = f"{path.name.removesuffix('.rst.txt')}-{len(documents):03d}.rst"
            documents.append((name, answer + "\n"))
            queries.append((question, name))
    return RetrievalSet("python-faq", documents, queries)


def doc_sentences() -> list[str]:
    """Distinct sentences of 40-300 characters from the Python docs' reStructuredText sources."""
    docs = python_docs_dir(fetch_debian()) / "_sources"
    found: set[str] = set()
    for path in sorted(docs.rglob("*.rst.txt")):
        text = re.sub(r"\s+", " ", path.read_text(encoding="utf-8", errors="replace"))
        found.update(s for s in re.split(r"(?<=[.!?])\s", text) if 40 <= len(s) <= 300)
    return sorted(found)


def guide() -> RetrievalSet:
    """Citewise's own guide (docs/*.md) and the answerable questions of bench/qa/guide.jsonl, each
    relevant wherever one of its listed source pages is found: questions a user of the product
    asks, worded their way rather than the page's. Used since Disfl-QA's archive left PyPI."""
    documents = [
        (path.name, path.read_text(encoding="utf-8")) for path in sorted((ROOT / "docs").glob("*.md"))
    ]
    names = {name for name, _ in documents}
    queries: list[tuple[str, str | tuple[str, ...]]] = []
    for line in (ROOT / "bench" / "qa" / "guide.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        sources = tuple(name for name in record.get("sources", []) if name in names)
        if sources:
            queries.append((record["question"], sources))
    return RetrievalSet("guide", documents, queries)


DATASETS = {"disfl-qa": disfl_qa, "python-faq": python_faq, "guide": guide}


RESULTS = ROOT / "bench" / "results"


def write_results(stem: str, benchmark: str, fields: dict, markdown: str) -> None:
    """bench/results/<stem>.json (the figures, dated) and <stem>.md (the table people read)."""
    report = {"benchmark": benchmark, "date": datetime.now(UTC).isoformat(timespec="seconds"), **fields}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown)
    print(markdown)
