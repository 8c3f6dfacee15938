"""Reusable test helpers for adapters (the shared contract every family's tests run)."""
