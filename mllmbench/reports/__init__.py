"""mllmbench.reports."""
