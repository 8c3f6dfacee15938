"""mllmbench.bench."""
