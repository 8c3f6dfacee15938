"""Errors that the CLI turns into one clear line on stderr, and the exit codes they mean."""

from __future__ import annotations

EXIT_OK = 0
"""Everything ran and every sample succeeded."""
EXIT_SAMPLE_ERRORS = 1
"""The run finished, but some samples failed (they are counted and shown, never scored)."""
EXIT_USAGE = 2
"""A usage, configuration or input error: nothing (more) was run."""
EXIT_WRITE_FAILED = 4
"""Results could not be written (disk full); what was written is kept."""
EXIT_INTERRUPTED = 130
"""Interrupted (Ctrl-C); the run resumes when the same command is run again."""


class MllmBenchError(Exception):
    """Base class: a problem the user can fix (bad input, unknown name, missing file)."""

    exit_code = EXIT_USAGE


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


class WriteError(MllmBenchError):
    """Results could not be written (the disk is full); what was written is kept."""

    exit_code = EXIT_WRITE_FAILED
