"""mllmbench.suites.metrics."""
