"""Progress reporting for long operations (private).

A long operation takes ``progress: Callable[[float], None] | None = None`` and
reports the fraction done through a :class:`ProgressReporter`, which clips the
fractions to [0, 1], drops any that would not advance (so the callback sees a
strictly increasing sequence, hence a bounded number of calls) and does nothing
at all without a callback. Nothing is ever printed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeAlias

from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Progress", "ProgressReporter", "gradient_fraction"]

#: The type of a progress callback: called with the fraction done, 0 to 1.
Progress: TypeAlias = "Callable[[float], None]"


class ProgressReporter:
    """Forward the fraction done of one operation to an optional callback.

    Parameters
    ----------
    callback : callable or None
        Called with a float in [0, 1]; ``None`` switches reporting off.
    owner : str
        The public function or method, for the error message.

    Raises
    ------
    InvalidParameterError
        ``callback`` is neither callable nor ``None``.
    """

    __slots__ = ("_callback", "_last")

    def __init__(self, callback: Progress | None, *, owner: str) -> None:
        if callback is not None and not callable(callback):
            raise InvalidParameterError.for_value(
                name="progress",
                owner=owner,
                allowed="a callable taking the fraction done (0 to 1), or None",
                got=type(callback).__name__,
            )
        self._callback = callback
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


def gradient_fraction(norm: float, *, start: float, tol: float) -> float:
    """How far an optimiser has come, from its gradient norm (0 at the start, 1 at ``tol``).

    The distance is measured on the log scale, where Newton's method makes steady
    progress: ``log(start / norm) / log(start / tol)``, clipped to [0, 1].
    """
    if not (math.isfinite(norm) and math.isfinite(start)) or norm <= tol or start <= tol:
        return 1.0 if math.isfinite(norm) and norm <= tol else 0.0
    return min(max(math.log(start / norm) / math.log(start / tol), 0.0), 1.0)
