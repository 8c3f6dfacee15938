"""Deprecated: the old home of errors and the registry, kept as re-exports for one release.

Use `mllmbench.core` (errors, registry) and `mllmbench.adapters.registry` instead.
"""
