"""Thin wrapper: `python scripts/evaluate_mind.py [options]` = `recommender evaluate [options]`.

Defaults read ../shared/data/mind-subset and write reports/mind; see `--help`.
"""

from __future__ import annotations

import sys

from recommender.cli import app

if __name__ == "__main__":
    sys.exit(app(["evaluate", *sys.argv[1:]]))
