"""Child processes that never outlive their owner: SIGTERM, then SIGKILL after a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def stop_process_group(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds; the exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


@dataclass
class ManagedProcess:
    """One `ticketstream <command>` child in its own process group, logging to a file."""

    name: str
    args: list[str]
    env: Mapping[str, str]
    log_file: Path
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        """Start the child; its stdout and stderr go to log_file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "ticketstream.cli", *self.args],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """The child's pid."""
        assert self._popen is not None
        return self._popen.pid

    def poll(self) -> int | None:
        """The exit code, or None while running."""
        return None if self._popen is None else self._popen.poll()

    def kill(self) -> None:
        """SIGKILL the whole process group at once (a crash, as tests simulate it)."""
        self._signal(signal.SIGKILL)
        if self._popen is not None:
            self._popen.wait(timeout=10)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL; returns the exit code."""
        if self._popen is None:
            return None
        return stop_process_group(self._popen, grace)

    def _signal(self, sig: signal.Signals) -> None:
        if self._popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._popen.pid, sig)

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the child wrote."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"
