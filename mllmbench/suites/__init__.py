"""mllmbench.suites."""
