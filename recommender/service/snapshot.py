"""Snapshots of what start-up would otherwise count from the whole event log: the popularity
counters, the session de-duplication, the reader gate and the co-read table, as they were after
the event with sequence number `seq`. Start-up loads the newest one and replays only the events
written after it. The file is numpy's npz (no pickle: nothing in it can run code); one written
for other half-lives or co-read settings is ignored (start-up then replays everything)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from recommender.coreads import CoReads
from recommender.popularity import Popularity
from recommender.readers import ReaderGate

log = logging.getLogger(__name__)
COUNTERS = ("short", "long", "alltime")
COREADS = "coreads_"  # the prefix of the co-read table's arrays
DEDUP = "dedup_"  # the prefix of the session de-duplication's arrays
FORMAT = 3  # 2: with the co-read table; 3: de-duplication and co-read sessions as fixed tables


def save_snapshot(
    path: Path, seq: int, popularity: Popularity, gate: ReaderGate, coreads: CoReads
) -> None:
    """Written to a temporary file and renamed: a crash mid-write leaves the previous one."""
    arrays: dict[str, Any] = {}
    for name in COUNTERS:
        ids, logs = getattr(popularity, name).state()
        arrays[f"{name}_ids"] = np.array(ids, dtype=str)
        arrays[f"{name}_logs"] = logs
    clock, table = coreads.state()
    arrays.update({COREADS + name: values for name, values in table.items()})
    arrays.update({DEDUP + name: values for name, values in popularity.dedup_state().items()})
    meta = {
        "format": FORMAT,
        "seq": seq,
        "config": _config(popularity, coreads),
        "gate": gate.state(),
        "coreads_clock": clock,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def _config(popularity: Popularity, coreads: CoReads) -> dict[str, Any]:
    return {"popularity": asdict(popularity.config), "coreads": asdict(coreads.config)}


def load_snapshot(path: Path, popularity: Popularity, gate: ReaderGate, coreads: CoReads) -> int:
    """Restore from the snapshot; the seq it covers, or 0 when there is none usable."""
    if not path.exists():
        return 0
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT or meta.get("config") != _config(popularity, coreads):
                log.warning("snapshot.ignored", extra={"path": str(path), "why": "settings"})
                return 0
            arrays = {name: data[name] for name in data.files}  # all read before any is used
        counters = [
            ([str(i) for i in arrays[f"{n}_ids"].tolist()], arrays[f"{n}_logs"]) for n in COUNTERS
        ]
        table = {k[len(COREADS) :]: v for k, v in arrays.items() if k.startswith(COREADS)}
        dedup = {k[len(DEDUP) :]: v for k, v in arrays.items() if k.startswith(DEDUP)}
        readers = [(c, a, float(t), list(s)) for c, a, t, s in meta["gate"]]
        clock = meta["coreads_clock"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # nothing restored yet: start-up replays the whole log into empty counters
        log.warning("snapshot.unreadable", extra={"path": str(path), "error": str(exc)})
        return 0
    for name, (ids, logs) in zip(COUNTERS, counters, strict=True):
        getattr(popularity, name).restore(ids, logs)
    coreads.restore(clock, table)
    popularity.restore_dedup(dedup)
    gate.restore(readers)
    return int(meta["seq"])
