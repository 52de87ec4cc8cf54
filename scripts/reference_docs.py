"""Write the generated reference blocks into docs/, or with --check fail when they are stale.

    python scripts/reference_docs.py          # rewrite the blocks
    python scripts/reference_docs.py --check  # exit 1 and name the stale files (make lint)

A block sits between ``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->``; everything
outside the markers is hand-written and left alone."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.reference import cli_reference, settings_table  # noqa: E402

BLOCKS: dict[str, tuple[Path, Callable[[], str]]] = {
    "settings": (ROOT / "docs" / "configuration.md", settings_table),
    "cli": (ROOT / "docs" / "cli-reference.md", cli_reference),
}


def with_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(
        rf"(<!-- generated: {name} [^\n]*-->\n)(.*?)(<!-- end generated: {name} -->)", re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"no '<!-- generated: {name} ... -->' block to fill")
    return pattern.sub(lambda m: m.group(1) + "\n" + body + "\n" + m.group(3), text, count=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Change nothing; exit 1 if a block is stale.")
    args = parser.parse_args()
    stale = []
    for name, (path, render) in BLOCKS.items():
        old = path.read_text(encoding="utf-8")
        new = with_block(old, name, render())
        if new != old:
            stale.append(f"{path.relative_to(ROOT)} ({name})")
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if stale and args.check:
        print("stale generated docs: " + ", ".join(stale) + "; run `make docs`", file=sys.stderr)
        return 1
    print(("rewrote " + ", ".join(stale)) if stale else "generated docs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
