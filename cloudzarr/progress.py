"""Progress reporting for long operations: one ``(done, total)`` callback convention.

Every long cloudzarr operation that reports progress takes ``progress=``:

- ``None`` or ``False`` (the default in library calls): silent;
- a callable ``progress(done, total)``: called with the units finished so far and the total
  (``done`` only grows; the last call has ``done == total`` when the work completes);
- ``True``: a rich progress bar, drawn in a notebook when one is running, else on the terminal.

:func:`resolve_progress` turns any of these into a :class:`ProgressReporter`, which the
operation updates and closes.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from cloudzarr.errors import InvalidArgumentError

__all__ = ["ProgressCallback", "ProgressReporter", "in_notebook", "resolve_progress", "rich_bar"]

#: ``progress(done, total)``: units finished so far, units in all.
ProgressCallback = Callable[[int, int], None]


def in_notebook() -> bool:
    """Whether this process runs inside a Jupyter kernel (a ZMQ-backed IPython shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _RichBar:
    """A rich progress bar behind the ``(done, total)`` callback convention."""

    def __init__(self, description: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        # rich picks a Jupyter display itself when it finds one; on a terminal it redraws in place.
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task: Any = None
        self._description = description
        self._started = False

    def __call__(self, done: int, total: int) -> None:
        if not self._started:
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=total)
            self._started = True
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False


def rich_bar(description: str = "cloudzarr") -> ProgressCallback:
    """A ``(done, total)`` callback that draws a rich progress bar (notebook or terminal).

    Call ``.close()`` on it (if present) when the work ends; :class:`ProgressReporter` does.
    """
    return _RichBar(description)


class ProgressReporter:
    """Counts finished units and forwards ``(done, total)`` to a callback, thread-safely.

    Parameters
    ----------
    callback
        The user's callback, or None to stay silent.
    total
        The number of units of the operation.
    """

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self._callback = callback
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        """Report ``(0, total)`` so a bar appears before the first unit finishes."""
        if self._callback is not None:
            self._callback(0, self.total)

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more finished units and report."""
        with self._lock:
            self.done = min(self.total, self.done + n)
            done = self.done
            if self._callback is not None:
                # Called under the lock so reports arrive in order (done never goes down).
                self._callback(done, self.total)

    def close(self) -> None:
        """End the report (a progress bar stops redrawing)."""
        close = getattr(self._callback, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> ProgressReporter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_progress(
    progress: bool | ProgressCallback | None, total: int, description: str = "cloudzarr"
) -> ProgressReporter:
    """Turn a ``progress=`` argument into a :class:`ProgressReporter` for ``total`` units.

    Raises
    ------
    InvalidArgumentError
        If ``progress`` is neither a bool, None nor a callable.
    """
    if progress is None or progress is False:
        return ProgressReporter(None, total)
    if progress is True:
        return ProgressReporter(rich_bar(description), total)
    if callable(progress):
        return ProgressReporter(progress, total)
    raise InvalidArgumentError(
        f"progress must be None, a bool or a callable progress(done, total), "
        f"got {type(progress).__name__}"
    )
