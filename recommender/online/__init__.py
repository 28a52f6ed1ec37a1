"""Online evaluation: the log of served lists, click-through per block, position and variant,
and the A/B decision rule."""
