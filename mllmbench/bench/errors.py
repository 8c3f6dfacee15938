"""Errors that the CLI turns into one clear line on stderr and a meaningful exit code."""

from __future__ import annotations


class MllmBenchError(Exception):
    """Base class: a problem the user can fix (bad input, unknown name, missing file)."""

    exit_code = 2


class InputError(MllmBenchError):
    """A data, results or annotation file is missing, malformed or inconsistent.

    The message always names the file and, where there is one, the offending id.
    """


class ConfigError(MllmBenchError):
    """An unknown adapter or suite, a model path that does not exist, an unsupported capability."""


class MissingResourceError(MllmBenchError):
    """A local resource that cannot be downloaded here (weights, jars) is absent.

    The message says what is missing and where to put it.
    """
