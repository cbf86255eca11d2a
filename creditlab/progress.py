"""Progress bars that suit where the code runs.

    from creditlab.progress import tqdm
    for seed in tqdm(seeds, desc="seeds"):
        ...

A live bar belongs in JupyterLab and in a terminal. Where output is *recorded* (a notebook
executed for the HTML book, a CI log, a pipe) a live bar leaves a trail of lines, one per
refresh, so there a bar prints at most its final line, or nothing. ``tqdm``/``trange`` take
tqdm's arguments and pick the bar from ``CREDITLAB_PROGRESS``:

``auto`` (default)
    in a Jupyter kernel with ipywidgets: a widget bar (``tqdm.notebook``); in a terminal:
    tqdm's live text bar; anywhere else (a kernel without ipywidgets, a pipe, a log file):
    ``final``.
``widget``, ``text``
    that bar (``widget`` falls back to ``final`` outside a kernel or without ipywidgets).
``final``
    nothing while the bar runs, one line when it closes (none if ``leave=False``).
``off``
    no bar at all. The book's build sets this (Makefile: ``make book``, ``make test``), so
    the executed chapters hold no progress output.

``TQDM_DISABLE`` (tqdm's own switch, set to anything but ``0``/``false``) also turns every
bar off, the widget bars included (``tqdm.notebook`` alone ignores it).

The choice is made when a bar is created, so changing the variable in a running kernel takes
effect for the next bar. Importing this module never warns (``tqdm.auto`` warns
``TqdmWarning: IProgress not found`` in a kernel without ipywidgets).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm.std import tqdm as _std_tqdm

__all__ = ["MODES", "mode", "tqdm", "trange"]

MODES = ("auto", "widget", "text", "final", "off")
_OFF_WORDS = {"off", "0", "false", "no", "none", "disable", "disabled"}


def _in_kernel() -> bool:
    """True inside a Jupyter kernel whose frontend can show widgets (not qtconsole/spyder)."""
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    if any(k == "QT_API" or k.startswith("SPYDER") for k in os.environ):
        return False
    try:
        shell = sys.modules["IPython"].get_ipython()
    except (KeyError, AttributeError):
        return False
    name = type(shell).__name__.lower()
    return shell is not None and "qt" not in name and "spyder" not in name


def _widgets_ok() -> bool:
    try:
        from tqdm.notebook import IProgress
    except ImportError:
        return False
    return IProgress is not None


def mode() -> str:
    """The kind of bar a new bar gets here: ``widget``, ``text``, ``final`` or ``off``."""
    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false"):
        return "off"
    want = os.environ.get("CREDITLAB_PROGRESS", "").strip().lower() or "auto"
    if want in _OFF_WORDS:
        return "off"
    if want not in MODES:
        raise ValueError(f"CREDITLAB_PROGRESS={want!r}: expected one of {', '.join(MODES)}")
    if want == "auto":
        if _in_kernel():
            return "widget" if _widgets_ok() else "final"
        stderr = sys.stderr
        return "text" if stderr is not None and stderr.isatty() else "final"
    if want == "widget" and not (_in_kernel() and _widgets_ok()):
        return "final"
    return want


class FinalLineBar(_std_tqdm):
    """A tqdm bar that draws nothing while it runs and its final line when it closes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["delay"] = float("inf")  # tqdm never draws a bar before its delay has passed
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        return True  # nothing while it runs (refresh, set_postfix, ...)

    def clear(self, nolock: bool = False) -> None:
        pass

    def close(self) -> None:
        if getattr(self, "disable", True):
            return
        leave = self.pos == 0 if self.leave is None else self.leave
        line = None
        if leave:
            self._ema_dt = lambda: None  # the overall rate, as tqdm's own last line shows
            line = self.__str__()
        fp = self.fp
        super().close()  # draws nothing: the bar was never displayed
        if line is not None:
            fp.write(line + "\n")
            fp.flush()


def tqdm(iterable: Iterable | None = None, *args: Any, **kwargs: Any) -> _std_tqdm:
    """A progress bar (tqdm's arguments) of the kind :func:`mode` picks."""
    kind = mode()
    kwargs["disable"] = bool(kwargs.get("disable", False)) or kind == "off"
    if kind == "widget":
        from tqdm.notebook import tqdm as cls
    elif kind == "final":
        cls = FinalLineBar
    else:
        cls = _std_tqdm
    return cls(iterable, *args, **kwargs)


def trange(*args: Any, **kwargs: Any) -> _std_tqdm:
    """``tqdm(range(*args), **kwargs)``."""
    return tqdm(range(*args), **kwargs)
