"""``--serve "COMMAND"``: start an OpenAI-compatible server, wait until it answers, stop it after.

The command runs through the shell in a process group of its own, so stopping it (SIGTERM,
then SIGKILL after a grace period) ends the server and every worker it forked (vLLM and SGLang
start several). The runner stops it on success, on error and on Ctrl-C (`OpenAIAdapter.close`);
an ``atexit`` hook covers an exit that skips the runner's cleanup.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from mllmbench.core.errors import ConfigError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
"""Delay between two ``GET /v1/models`` probes while a server starts."""
STOP_GRACE_SECONDS = 10.0
"""How long a stopped server may take to exit after SIGTERM before it is killed."""


def models_url(base_url: str) -> str:
    """The ``/models`` endpoint under an OpenAI base URL (``http://host:port/v1``)."""
    return base_url.rstrip("/") + "/models"


def answers(base_url: str, *, timeout: float = 2.0) -> bool:
    """Whether ``GET /v1/models`` answers 200 now."""
    try:
        with urllib.request.urlopen(models_url(base_url), timeout=timeout) as response:  # noqa: S310 - user's URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServerProcess:
    """A server started from a shell command, in its own process group; `stop` ends the group."""

    def __init__(self, command: str, *, log_path: Path | None = None) -> None:
        if not command.strip():
            raise ConfigError('--serve needs a command, e.g. --serve "vllm serve MODEL --port 8000"')
        self.command = command
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run the command (output to `log_path`, or discarded) and register the exit hook."""
        out = open(self.log_path, "ab") if self.log_path is not None else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(  # noqa: S602 - the user's own command line
                self.command, shell=True, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        atexit.register(self.stop)
        log.info("started server (pid %d): %s", self._process.pid, shlex.quote(self.command))

    def wait_until_ready(self, base_urls: list[str], timeout: float) -> None:
        """Poll every ``/v1/models`` until all answer.

        Raises:
            ConfigError: the command exited, or `timeout` seconds passed without an answer.
        """
        deadline = time.monotonic() + timeout
        pending = list(base_urls)
        while pending:
            pending = [url for url in pending if not answers(url)]
            if not pending:
                break
            if self._process is not None and self._process.poll() is not None:
                raise ConfigError(
                    f"--serve command exited with status {self._process.returncode} before "
                    f"{models_url(pending[0])} answered{self._log_hint()}"
                )
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"--serve: {models_url(pending[0])} did not answer within {timeout:g}s{self._log_hint()}"
                )
            time.sleep(POLL_SECONDS)
        log.info("server answers at %s", ", ".join(base_urls))

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after `STOP_GRACE_SECONDS`; idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        # Workers of the group that outlived their parent (killed above only if still present).
        _signal_group(process.pid, signal.SIGKILL)
        log.info("stopped server (pid %d)", process.pid)

    def _log_hint(self) -> str:
        return f"; see {self.log_path}" if self.log_path is not None else ""


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
