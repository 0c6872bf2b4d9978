"""Progress reporting for long operations (private).

A long operation takes ``progress: Callable[[float], None] | bool | None = None``
and reports the fraction done through a :class:`ProgressReporter`, which clips the
fractions to [0, 1], drops any that would not advance (so the callback sees a
strictly increasing sequence, hence a bounded number of calls) and does nothing
at all without a callback. ``progress=True`` draws a ``tqdm.auto`` bar (a widget in
a notebook, text on a terminal's stderr) when tqdm is installed (the ``progress``
extra); otherwise nothing is ever printed.
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, Any, TypeAlias

from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Progress", "ProgressReporter", "gradient_fraction", "tqdm_bar"]

#: The type of a progress callback: called with the fraction done, 0 to 1.
Progress: TypeAlias = "Callable[[float], None]"

_STEPS = 1000  # the bar counts thousandths, so it moves by whole steps


def tqdm_bar(owner: str) -> Progress:
    """Return a callback drawing a ``tqdm.auto`` bar for ``owner``, closed when it reaches 1.

    tqdm is imported at once (so a missing extra fails before the work), the bar is
    opened at the first report (so a reporter built only to check the argument
    draws nothing).

    Raises
    ------
    ImportError
        tqdm is not installed (``pip install 'crmscore[progress]'``).
    """
    try:
        # The optional extra, imported on use; by name, as tqdm ships no type hints.
        tqdm = importlib.import_module("tqdm.auto").tqdm
    except ImportError as exc:
        raise ImportError(
            f"progress=True in {owner} draws a tqdm bar: pip install 'crmscore[progress]' "
            "(or tqdm), or pass a callable taking the fraction done."
        ) from exc
    state: dict[str, Any] = {"bar": None, "shown": 0}

    def advance(fraction: float) -> None:
        if state["bar"] is None:
            state["bar"] = tqdm(
                total=_STEPS,
                desc=owner,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
            )
        step = round(fraction * _STEPS)
        if step > state["shown"]:
            state["bar"].update(step - state["shown"])
            state["shown"] = step
        if fraction >= 1.0:
            state["bar"].close()

    return advance


class ProgressReporter:
    """Forward the fraction done of one operation to an optional callback.

    Parameters
    ----------
    callback : callable, bool or None
        Called with a float in [0, 1]; ``True`` draws a tqdm bar (see
        :func:`tqdm_bar`); ``None`` or ``False`` switches reporting off.
    owner : str
        The public function or method, for the error message.

    Raises
    ------
    InvalidParameterError
        ``callback`` is neither callable, a bool nor ``None``.
    ImportError
        ``callback`` is ``True`` and tqdm is not installed.
    """

    __slots__ = ("_callback", "_last")

    def __init__(self, callback: Progress | bool | None, *, owner: str) -> None:  # noqa: FBT001 (the public progress= argument, passed through)
        if callback is True:
            callback = tqdm_bar(owner)
        elif callback is False:
            callback = None
        if callback is not None and not callable(callback):
            raise InvalidParameterError.for_value(
                name="progress",
                owner=owner,
                allowed="a callable taking the fraction done (0 to 1), True (a tqdm bar) or None",
                got=type(callback).__name__,
            )
        self._callback: Progress | None = callback
        self._last = -1.0

    @property
    def active(self) -> bool:
        """Whether there is a callback to report to."""
        return self._callback is not None

    def report(self, fraction: float) -> None:
        """Report ``fraction`` done, if it is more than reported so far."""
        if self._callback is None or not math.isfinite(fraction):
            return
        value = min(max(float(fraction), 0.0), 1.0)
        if value > self._last:
            self._last = value
            self._callback(value)

    def done(self) -> None:
        """Report completion (1.0)."""
        self.report(1.0)

    def span(self, start: float, end: float) -> Progress | None:
        """Return a callback for a step of this operation, its 0 to 1 mapped to ``start``-``end``.

        ``None`` when there is nothing to report to, so the step does no work for it.
        """
        if self._callback is None:
            return None
        return lambda fraction: self.report(start + (end - start) * fraction)


def gradient_fraction(norm: float, *, start: float, tol: float) -> float:
    """How far an optimiser has come, from its gradient norm (0 at the start, 1 at ``tol``).

    The distance is measured on the log scale, where Newton's method makes steady
    progress: ``log(start / norm) / log(start / tol)``, clipped to [0, 1].
    """
    if not (math.isfinite(norm) and math.isfinite(start)) or norm <= tol or start <= tol:
        return 1.0 if math.isfinite(norm) and norm <= tol else 0.0
    return min(max(math.log(start / norm) / math.log(start / tol), 0.0), 1.0)
