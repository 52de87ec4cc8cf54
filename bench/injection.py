"""How often the instruction detector flags ordinary text: false positives on real documents.

``generator.injection`` keeps sentences that read as instructions to the model out of what it
reads, so every flag on an ordinary sentence is a sentence no answer can come from. This counts the
flagged units (sentences, or lines of one) over documents with no planted instructions:

* the 1,204 SQuAD paragraphs of Disfl-QA (the answers benchmark's corpus),
* the reStructuredText sources of the Python 3.11 documentation (Debian's ``python3.11-doc``):
  technical writing full of imperatives ("Run …", "Ignore …", "Send …"),

and the scanning speed. Every flagged unit is listed, so each can be judged.

    .venv/bin/python bench/injection.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.data import disfl_qa_examples, fetch_debian, python_docs_dir, split_example, write_results  # noqa: E402
from generator.injection import flagged_units, units  # noqa: E402


def scan(texts: list[str]) -> dict:
    started = time.perf_counter()
    total, flagged, reasons = 0, [], Counter()
    for text in texts:
        total += len(units(text))
        for flag in flagged_units(text):
            reasons[flag.reason] += 1
            flagged.append({"reason": flag.reason, "text": text[flag.start : flag.end][:200]})
    seconds = time.perf_counter() - started
    return {
        "texts": len(texts),
        "characters": sum(len(t) for t in texts),
        "units": total,
        "flagged": len(flagged),
        "flagged_share": round(len(flagged) / max(1, total), 6),
        "reasons": dict(reasons),
        "scan_mb_per_s": round(sum(len(t) for t in texts) / 1e6 / seconds, 2),
        "examples": flagged[:50],
    }


def main() -> None:
    paragraphs = list(dict.fromkeys(split_example(e)[1] for e in disfl_qa_examples()))
    sources = python_docs_dir(fetch_debian()) / "_sources"
    rst = [path.read_text(errors="replace") for path in sorted(sources.rglob("*.txt"))]
    corpora = {"disfl-qa paragraphs": scan(paragraphs), "python 3.11 docs (reST)": scan(rst)}
    lines = [
        "# Instruction detector: flags on ordinary documents",
        "",
        "| corpus | texts | units | flagged | share | scan MB/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in corpora.items():
        lines.append(
            f"| {name} | {r['texts']} | {r['units']} | {r['flagged']} | {r['flagged_share']:.4%} | "
            f"{r['scan_mb_per_s']} |"
        )
    for name, r in corpora.items():
        for example in r["examples"]:
            lines.append(f"- {name}, {example['reason']}: `{example['text']}`")
    write_results(
        "injection", "instruction-detector-false-positives", {"corpora": corpora}, "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
