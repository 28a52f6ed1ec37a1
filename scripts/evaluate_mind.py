"""Thin wrapper: `python scripts/evaluate_mind.py [options]` = `recommender evaluate [options]`,
on the shared MIND subset of a developer checkout (../shared/data/mind-subset) unless --data,
--news or RECOMMENDER_EVAL_DATA_DIR says otherwise; writes reports/mind. See `--help`.
"""

from __future__ import annotations

import os
import sys

from recommender.cli import app

SHARED_MIND = "../shared/data/mind-subset"

if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = {"--data", "--news"} & set(args) or os.environ.get("RECOMMENDER_EVAL_DATA_DIR")
    sys.exit(app(["evaluate", *([] if chosen else ["--data", SHARED_MIND]), *args]))
