"""Writes what `make image-test` measured to bench/results/image.json and image.md.

python scripts/image/record.py IMAGE SIZE_BYTES name=seconds ..."""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROWS = {
    "base_images_s": "base images from Debian's archive (0 when kept from an earlier run)",
    "build_s": "podman build of the Citewise image",
    "single_ready_s": "`citewise serve` in the image until /readyz is 200",
    "stack_ready_s": "compose stack up until /readyz is 200 with the task queue ok",
    "ingest_s": "upload through the API until the worker's job completed",
    "ask_s": "a question about the upload, answered with its citation",
}

image, size = sys.argv[1], int(sys.argv[2])
timings = {k: int(v) for k, v in (arg.split("=", 1) for arg in sys.argv[3:])}
measured_at = datetime.now(UTC).isoformat()
result = {"image": image, "size_mb": round(size / 1e6, 1), "measured_at": measured_at, **timings}
out = Path("bench/results")
(out / "image.json").write_text(json.dumps(result, indent=2) + "\n")
lines = [
    "# The container image (`make image-test`)",
    "",
    f"{measured_at[:19]}Z, {platform.machine()}, podman; image `{image}`: **{result['size_mb']:,} MB**.",
    "",
    "| step | seconds |",
    "|---|---|",
    *(f"| {ROWS.get(key, key)} | {timings[key]} |" for key in ROWS if key in timings),
]
(out / "image.md").write_text("\n".join(lines) + "\n")
print(json.dumps(result))
