"""Peak memory of `citewise ingest` on one large plain-text file: 10, 30 and 50 MB, one line or many.

Each run is a fresh `citewise ingest` subprocess with the real default embedder (the packaged
MiniLM) against a temporary data dir (CITEWISE_DATA_DIR); its peak RSS is the kernel's ru_maxrss for
that child (os.wait4), so the model, torch and every transient allocation are included. A run that
passes ``--rss-cap-mb`` is stopped and recorded as over the cap (the code before the fix needed 8 GB).

The text is English-like prose (words of the standard library's sources, fixed seed): ``one-line`` is one
single line, ``multi-line`` is wrapped at 80 columns with a blank line between paragraphs. So that
a run takes minutes, not an hour of embedding on a small CPU, the file repeats a pool of
``--unique-mb`` of distinct paragraphs: every chunk is still parsed, counted, hashed and written
(tens of thousands of rows), but repeated chunks are deduplicated and embedded once. What this
leaves out grows with *distinct* chunks: their vectors, 1.5 KB each with MiniLM (384 float32),
held until the document is written and then kept in the index, and the keyword index; give
``--unique-mb`` the file's size to measure that (10 MB took half an hour here).

    .venv/bin/python bench/ingest_memory.py [--sizes 10,30,50] [--label after]
    .venv/bin/python bench/ingest_memory.py --code /tmp/base --label before   # another checkout

Results from every label go side by side into bench/results/ingest_memory.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LAYOUTS = ("one-line", "multi-line")  # the default runs; "run-on" (one line, no sentence ends) too
CHUNK_ONLY = """
import sys
from pathlib import Path
from ingest.chunking import Chunker
from ingest.loaders import load_file
from retriever.embedders.minilm import MiniLMEmbedder
path = Path(sys.argv[1])
print(len(Chunker(MiniLMEmbedder().count_tokens, 200, 30).chunk(load_file(path, path.read_bytes()))))
"""


def vocabulary() -> list[str]:
    """Words from the standard library's documentation strings: real English, and the same text
    whichever checkout is measured."""
    words: set[str] = set()
    for module in sorted(Path(textwrap.__file__).parent.glob("*.py")):
        words.update(w.lower() for w in re.findall(r"[A-Za-z]{2,14}", module.read_text(errors="replace")))
    return sorted(words)


def paragraphs(words: list[str], seed: int, chars: int) -> list[str]:
    rng = random.Random(seed)
    found: list[str] = []
    size = 0
    while size < chars:
        sentences = []
        for _ in range(rng.randint(3, 8)):
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 25)))
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
        found.append(" ".join(sentences))
        size += len(found[-1]) + 2
    return found


def make_text(path: Path, megabytes: int, layout: str, unique_mb: float, seed: int) -> None:
    pool = paragraphs(vocabulary(), seed, int(unique_mb * 2**20))
    if layout == "multi-line":
        block = "\n\n".join(textwrap.fill(p, 80) for p in pool) + "\n\n"
    elif layout == "run-on":
        block = " ".join(pool).replace(".", "") + " "
    else:
        block = " ".join(pool) + " "
    size = megabytes * 2**20
    text = (block * -(-size // len(block)))[: size - 1].rstrip() + "\n"  # at most the size limit
    path.write_text(text, encoding="ascii")


def vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def upload_and_wait(port: int, file: Path, done: dict[str, object]) -> None:
    """Upload ``file`` to a starting `citewise serve` and wait for its ingest job to end."""
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    boundary = "citewise-bench-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{file.name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + file.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base}/v1/documents", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    job = json.loads(urllib.request.urlopen(request, timeout=600).read())["job_id"]
    del body
    while True:
        state = json.loads(urllib.request.urlopen(f"{base}/v1/jobs/{job}", timeout=60).read())
        if state["status"] not in ("queued", "running"):
            done.update(job_status=state["status"])
            return
        time.sleep(1)


def run_ingest(
    code: Path,
    corpus: Path,
    data_dir: Path,
    cap_mb: float,
    chunk_only: bool = False,
    serve_port: int | None = None,
) -> dict[str, object]:
    """One ingest in a child process, and its peak RSS: `citewise ingest`; with ``chunk_only``,
    only parsing and chunking the file with the real tokenizer (no model: the stage that blew up
    before); with ``serve_port``, `citewise serve` given the file as an upload (the server also
    loads the default answer model at start-up)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "CITEWISE_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    for name in ("CITEWISE_EMBEDDER", "CITEWISE_DATABASE_URL"):  # the defaults are what is measured
        env.pop(name, None)
    started = time.perf_counter()
    command = [sys.executable, "-m", "app.cli.main", "ingest", str(corpus), "--quiet"]
    if chunk_only:
        command = [sys.executable, "-c", CHUNK_ONLY, str(next(corpus.iterdir()))]
    if serve_port is not None:
        command = [sys.executable, "-m", "app.cli.main", "serve", "--port", str(serve_port)]
    job: dict[str, object] = {}
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as output:
        child = subprocess.Popen(command, cwd=code, env=env, stdout=output, stderr=errors)
        if serve_port is not None:
            client = threading.Thread(
                target=upload_and_wait, args=(serve_port, next(corpus.iterdir()), job), daemon=True
            )
            client.start()
        capped = False
        while True:  # reaped with wait4, which reports this child's own peak RSS
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if serve_port is not None and not client.is_alive():
                child.terminate()  # the job has ended (or the upload failed): stop the server
            if vm_hwm_mb(child.pid) > cap_mb:
                capped = True
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.2)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
        output.seek(0)
        printed = output.read().decode(errors="replace").split()
    result: dict[str, object] = {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 1),
        "exit_status": child.returncode,
        "over_cap": capped,
    }
    if serve_port is not None:
        result["exit_status"] = 0 if job.get("job_status") == "completed" else f"job {job}"
    database = data_dir / "citewise.db"
    if chunk_only and not capped and printed and printed[-1].isdigit():
        result.update(chunks=int(printed[-1]), chunks_embedded=0)
    elif not capped and database.exists():
        with sqlite3.connect(database) as connection:
            rows, canonical = connection.execute(
                "select count(*), sum(duplicate_of_id is null) from chunks"
            ).fetchone()
        result.update(chunks=rows, chunks_embedded=canonical or 0)
    if not capped and not result.get("chunks"):
        result["exit_status"] = result["exit_status"] or "no chunks written"
    if result["exit_status"] != 0 and not capped:
        result["stderr_tail"] = stderr[-800:]
    return result


def write_results(
    results: Path, label: str, code: Path, unique_mb: float, cap_mb: float, runs: list[dict]
) -> None:
    path = results / "ingest_memory.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    labels = previous.get("labels", {})
    labels[label] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": str(code),
        "commit": subprocess.run(
            ["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "unique_mb": unique_mb,
        "rss_cap_mb": cap_mb,
        "runs": runs,
    }
    save(results, labels)


def save(results: Path, labels: dict) -> None:
    results.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "ingest_memory",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "embedder": "minilm (packaged all-MiniLM-L6-v2)",
        "database": "sqlite",
        "labels": labels,
    }
    (results / "ingest_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    (results / "ingest_memory.md").write_text(markdown(result))


def markdown(result: dict) -> str:
    labels = result["labels"]
    order = sorted(labels, key=lambda name: (not name.startswith("before"), name))
    full = table(labels, [n for n in order if "only" not in n and "server" not in n], "chunks (embedded)")
    chunking = table(labels, [n for n in order if "chunking only" in n], "chunks")
    server = table(labels, [n for n in order if "server" in n], "chunks (embedded)")
    notes = "\n".join(
        f"- {name}: commit {data['commit']} ({data['code']}), {data['date']}, "
        f"{data['unique_mb']} MB of distinct paragraphs repeated"
        for name, data in sorted(labels.items())
    )
    return (
        "# Ingest memory benchmark\n\n"
        f"`citewise ingest` of one .txt file, real MiniLM embedder, SQLite, {result['machine']}; peak RSS "
        "of the ingest process (ru_maxrss), model included.\n\n"
        f"{full}\n\n"
        "Parsing and chunking alone (real tokenizer, no model), including `run-on`: one line without a "
        f"single sentence end.\n\n{chunking}\n\n"
        "The same through the REST API: `citewise serve` (which also loads the default answer model, "
        f"about 0.65 GB, at start-up) given the file as an upload.\n\n{server}\n\n{notes}\n\n"
        "Distinct chunks also cost their vectors (1.5 KB each, pending until the document is written, "
        "and again in the index) and their words in the keyword index, which the repeated paragraphs "
        "barely exercise: the `all text distinct` run (`--unique-mb` as large as the file) shows it.\n"
    )


def table(labels: dict, names: list[str], chunks_title: str) -> str:
    """One row per file, a peak-RSS and a time column per label."""
    if not names:
        return ""
    keys = sorted({(r["megabytes"], r["layout"]) for name in names for r in labels[name]["runs"]})
    header = "| file | " + " | ".join(f"{n}: peak RSS | {n}: time" for n in names) + f" | {chunks_title} |"
    lines = [header, "|---|" + "---|---|" * len(names) + "---|"]
    for megabytes, layout in keys:
        cells: list[str] = []
        chunks = ""
        for name in names:
            run = next(
                (r for r in labels[name]["runs"] if (r["megabytes"], r["layout"]) == (megabytes, layout)),
                None,
            )
            if run is None:
                cells += ["", ""]
                continue
            stopped = f"> {labels[name]['rss_cap_mb']:,.0f} MB (stopped)"
            cells += [
                stopped if run["over_cap"] else f"{run['peak_rss_mb']:,.0f} MB",
                f"{run['seconds']:,.0f} s",
            ]
            if "chunks" in run:
                embedded = run["chunks_embedded"]
                chunks = f"{run['chunks']:,}" + (f" ({embedded:,})" if embedded else "")
        lines.append(f"| {megabytes} MB {layout} | " + " | ".join(cells) + f" | {chunks} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,30,50", help="file sizes in MB, comma-separated")
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose `citewise` is measured")
    parser.add_argument("--label", default="after")
    parser.add_argument(
        "--unique-mb", type=float, default=0.5, help="distinct text repeated to fill the file"
    )
    parser.add_argument("--rss-cap-mb", type=float, default=6000, help="stop a run that needs more")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk-only", action="store_true", help="parse and chunk only, no model")
    parser.add_argument("--serve", action="store_true", help="upload to `citewise serve` instead")
    parser.add_argument("--port", type=int, default=8765, help="for --serve")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the .json and .md go")
    parser.add_argument("--merge", type=Path, help="only add the labels of this results .json, then stop")
    args = parser.parse_args()
    if args.merge:
        path = args.results / "ingest_memory.json"
        labels = json.loads(path.read_text())["labels"] if path.exists() else {}
        save(args.results, {**labels, **json.loads(args.merge.read_text())["labels"]})
        print((args.results / "ingest_memory.md").read_text())
        return

    work = Path(tempfile.mkdtemp(prefix="citewise-bench-memory-"))
    runs: list[dict] = []
    try:
        for megabytes in (int(s) for s in args.sizes.split(",")):
            for layout in args.layouts.split(","):
                corpus = work / f"{megabytes}mb-{layout}"
                corpus.mkdir()
                make_text(corpus / f"{layout}.txt", megabytes, layout, args.unique_mb, args.seed)
                print(f"{args.label}: {megabytes} MB {layout} …", flush=True)
                data_dir = work / f"data-{megabytes}-{layout}"
                run = run_ingest(
                    args.code.resolve(),
                    corpus,
                    data_dir,
                    args.rss_cap_mb,
                    args.chunk_only,
                    serve_port=args.port if args.serve else None,
                )
                runs.append({"megabytes": megabytes, "layout": layout, **run})
                print(f"  {run}", flush=True)
                shutil.rmtree(corpus, ignore_errors=True)
                shutil.rmtree(data_dir, ignore_errors=True)
                write_results(
                    args.results, args.label, args.code.resolve(), args.unique_mb, args.rss_cap_mb, runs
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print((args.results / "ingest_memory.md").read_text())


if __name__ == "__main__":
    main()
