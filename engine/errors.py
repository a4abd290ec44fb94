"""User-facing errors.

Every error a user can cause (bad file, unknown model, no network, full disk) is a
``VoxtuneError`` whose ``str()`` is one line naming the thing and the problem; the CLI and
the UI print exactly that and never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class VoxtuneError(Exception):
    """An error with a message fit to show a user as it is."""


class AudioError(VoxtuneError):
    """A file that cannot be read as audio."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelError(VoxtuneError):
    """A model that cannot be found, imported or loaded."""


class OutputError(VoxtuneError):
    """An output that cannot be written (permissions, full disk)."""
