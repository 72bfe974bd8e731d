"""Training loops with checkpoint and resume."""
