"""Durable file writes: write to a temporary name, fsync, rename. A crash leaves the old file or
the new one under the real name, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder's entries are what a rename makes durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str, sync_folder: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if sync_folder:
        fsync_path(path.parent)


def atomic_write_json(path: Path, value: Any, indent: int | None = None) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    atomic_write_text(path, text + "\n" if indent is not None else text)


def read_pointer(pointer: Path) -> str | None:
    """The folder name a pointer file (CURRENT) holds, or None when it is missing or not a plain
    folder name: a torn or garbled pointer must not send a loader elsewhere on disk."""
    try:
        name = pointer.read_bytes().decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\ufffd" in name:
        return None
    return name
