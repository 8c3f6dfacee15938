"""mllmbench.adapters."""
