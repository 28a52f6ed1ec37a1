"""Popularity snapshots: the counters, the session de-duplication and the reader gate as they
were after the event with sequence number `seq`. Start-up loads the newest one and replays only
the events written after it, instead of the whole history. The file is numpy's npz (no pickle:
nothing in it can run code); one written for other half-lives is ignored."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from recommender.popularity import Popularity
from recommender.readers import ReaderGate

log = logging.getLogger(__name__)
COUNTERS = ("short", "long", "alltime")
FORMAT = 1


def save_snapshot(path: Path, seq: int, popularity: Popularity, gate: ReaderGate) -> None:
    """Written to a temporary file and renamed: a crash mid-write leaves the previous one."""
    arrays: dict[str, Any] = {}
    for name in COUNTERS:
        ids, logs = getattr(popularity, name).state()
        arrays[f"{name}_ids"] = np.array(ids, dtype=str)
        arrays[f"{name}_logs"] = logs
    dedup = popularity.dedup_state()
    meta = {
        "format": FORMAT,
        "seq": seq,
        "config": asdict(popularity.config),
        "dedup": [[k, t] for k, t in dedup.items()],
        "gate": gate.state(),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def load_snapshot(path: Path, popularity: Popularity, gate: ReaderGate) -> int:
    """Restore from the snapshot; the seq it covers, or 0 when there is none usable."""
    if not path.exists():
        return 0
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT or meta.get("config") != asdict(popularity.config):
                log.warning("snapshot.ignored", extra={"path": str(path), "why": "settings"})
                return 0
            for name in COUNTERS:
                ids = [str(i) for i in data[f"{name}_ids"].tolist()]
                getattr(popularity, name).restore(ids, data[f"{name}_logs"])
    except (OSError, ValueError, KeyError) as exc:
        log.warning("snapshot.unreadable", extra={"path": str(path), "error": str(exc)})
        return 0
    popularity.restore_dedup({int(k): float(t) for k, t in meta["dedup"]})
    gate.restore([(c, a, float(t), list(s)) for c, a, t, s in meta["gate"]])
    return int(meta["seq"])
