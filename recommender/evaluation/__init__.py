"""Offline evaluation on click logs: data (MIND loading, splits, pairs), metrics, protocols
(replayed Lees-ook and impression scoring), training (the learned blend), run (the whole
evaluation as one function) and report (Markdown, JSON, plots)."""
