"""What every benchmark script shares: the machine description and writing its own section of
BENCHMARKS.md between `<!-- name:start -->` and `<!-- name:end -->` markers."""

from __future__ import annotations

import os
import platform
from pathlib import Path

HEADER = (
    "# Benchmarks\n\nEach section is written by its own script (see docs/benchmarks.md); "
    "rerun a script to refresh only its section. Ratios are to a baseline measured in the "
    "same run on the same machine.\n"
)


def cpu_description() -> str:
    """'<CPU model>, N cores, Linux <release>, Python <version>'."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def write_section(path: Path, mark: str, body: str) -> None:
    """Replace only the section named mark; other benchmarks keep theirs."""
    start, end = f"<!-- {mark}:start -->", f"<!-- {mark}:end -->"
    text = path.read_text() if path.is_file() else HEADER
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
