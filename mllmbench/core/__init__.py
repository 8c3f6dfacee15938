"""The bottom layer: errors, shared types, records, the sample log, I/O helpers, the registry.

Nothing here imports another mllmbench package.
"""
