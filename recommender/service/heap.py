"""What the service loaded kept out of the garbage collector's full passes.

CPython's full collection walks every tracked object: with 100k articles loaded (cards, names,
frozensets of terms) one pass took 186 ms, and it grows with the corpus. What requests leave
behind (the result cache's lists) sets one off now and then: one in ~8,000 Lees-ook calls at 10k
articles (result cache on), and that call waited 134 ms; 37 ms with the loaded objects frozen
(gc.freeze), the pass then walking only what was made since. Reference counting still frees
frozen objects; only a cycle among them would outlive its use, so every settle unfreezes and
collects first (an index swap leaves the old index's cycles behind). It runs after a start or a
swap, never per request.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> None:
    """Collect what is garbage now, then freeze what is left (one full pass, once)."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info(
        "heap.settled",
        extra={
            "frozen": gc.get_freeze_count(),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
