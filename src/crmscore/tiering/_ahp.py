"""The Analytic Hierarchy Process: pairwise judgments, their weights and consistency."""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Real
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._display import html_block
from crmscore._serialise import reads
from crmscore._validation import (
    NON_NEGATIVE,
    Interval,
    OneOf,
    Optional,
    non_negative_finite,
    to_float,
    validator,
)
from crmscore.errors import InconsistentJudgmentsError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "MAX_ELEMENTS",
    "RANDOM_INDEX",
    "SAATY_SCALE",
    "DirectWeights",
    "PairwiseMatrix",
    "WeightMethod",
]

WeightMethod: TypeAlias = Literal["eigenvector", "geometric_mean"]
FloatArray: TypeAlias = npt.NDArray[np.float64]

RANDOM_INDEX: Mapping[int, float] = MappingProxyType(
    {
        1: 0.0,
        2: 0.0,
        3: 0.58,
        4: 0.90,
        5: 1.12,
        6: 1.24,
        7: 1.32,
        8: 1.41,
        9: 1.45,
        10: 1.49,
        11: 1.52,
        12: 1.54,
        13: 1.56,
        14: 1.58,
        15: 1.59,
    }
)
"""Saaty's random consistency index RI(n), by matrix order n.

RI(n) is the mean consistency index of random reciprocal matrices of order n with
entries from the 1-9 scale; the consistency ratio is CI / RI(n).

The table joins two published tables, and says so:

* n = 1..10 come from Saaty's original table (Saaty 1980, *The Analytic Hierarchy
  Process*, McGraw-Hill): 0, 0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, the
  values most implementations use. That table goes on to n = 15 with 1.51, 1.48,
  1.56, 1.57, 1.59, which are not used here: they fall from n = 11 to n = 12,
  which a mean over ever larger random matrices should not do.
* n = 11..15 come from Saaty's later table, from a larger simulation (Saaty 2005,
  *Theory and Applications of the Analytic Network Process*, RWS Publications):
  1.52, 1.54, 1.56, 1.58, 1.59. That later table also gives n = 3..9 (0.52, 0.89,
  1.11, 1.25, 1.35, 1.40, 1.45), which are not used here, so that the consistency
  ratios of the common small matrices are the ones of the 1980 table.

Larger matrices are rejected: split the elements into a hierarchy, as Saaty
advises (about seven per matrix).
"""

MAX_ELEMENTS = 15
"""The largest pairwise matrix accepted (the largest order with a published RI)."""

SAATY_SCALE: tuple[float, float] = (1.0 / 9.0, 9.0)
"""Saaty's fundamental scale: judgments lie between 1/9 and 9."""

#: Relative slack on the ends of the scale, so that 0.111 (for 1/9) is accepted.
_SCALE_SLACK = 0.01

_METHODS: tuple[WeightMethod, ...] = ("eigenvector", "geometric_mean")


def _judgment(value: object, *, where: str) -> float:
    """Read a judgment as a float: numbers, ``Fraction`` or strings such as ``"1/3"``."""
    if isinstance(value, bool):
        raise InvalidParameterError(f"Judgment {where} must be a number, got {value!r}.")
    try:
        number = float(Fraction(value)) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise InvalidParameterError(
            f"Judgment {where} must be a number or a fraction such as '1/3', got {value!r}."
        ) from exc
    return number


def _to_labels(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(values)


def _to_rows(rows: Sequence[Sequence[Any]]) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(_judgment(v, where=f"at row {i}, column {j}") for j, v in enumerate(row))
        for i, row in enumerate(rows)
    )


def _check_labels(
    instance: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]
) -> None:
    owner = type(instance).__name__
    if not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidParameterError.for_value(
            name=attribute.name, owner=owner, allowed="a non-empty sequence of names", got=value
        )
    if len(set(value)) != len(value):
        repeated = sorted({v for v in value if value.count(v) > 1})
        raise InvalidParameterError(
            f"The labels of {owner} repeat {repeated}; names must be unique."
        )
    if len(value) > MAX_ELEMENTS:
        raise InvalidParameterError.for_value(
            name=attribute.name,
            owner=owner,
            allowed=f"at most {MAX_ELEMENTS} elements (the largest order with a published "
            "random index); group them into a hierarchy of criteria",
            got=len(value),
        )


_check_limit = validator(Optional(NON_NEGATIVE))


def _optional_float(value: object) -> float | None:
    return None if value is None else to_float(value)


_check_reciprocal_tolerance = validator(Interval(Real, 0, 1, closed="left"))


@attrs.frozen(kw_only=True)
class PairwiseMatrix:
    r"""Pairwise comparison judgments on Saaty's 1-9 scale, and the weights they imply.

    **Orientation.** Entry ``values[i][j]`` says how many times more important
    ``labels[i]`` is than ``labels[j]`` (row over column), Saaty's convention: a row
    of large numbers is an important element. ``values[j][i]`` must be its
    reciprocal. A transposed matrix gives plausible but wrong weights (the order of
    the elements is reversed), so build matrices with :meth:`from_judgments`, whose
    keys read ``(more_important, less_important): how_much``.

    Judgments with a consistency ratio above ``max_consistency_ratio`` (Saaty's 0.1
    by default) are rejected when the matrix is made, with an error naming the most
    inconsistent judgments; pass ``max_consistency_ratio=None`` to accept them
    explicitly.

    Notes
    -----
    With :math:`A` the matrix and :math:`\lambda_{max}` its principal (Perron)
    eigenvalue, the **eigenvector** weights solve :math:`A w = \lambda_{max} w`,
    :math:`\sum w = 1` (Saaty, 1977, 1980); the **geometric-mean** weights are the
    normalised geometric means of the rows (Crawford and Williams, 1985). Both agree
    exactly on consistent matrices and on every 3 x 3 matrix. The consistency index
    is :math:`CI = (\lambda_{max} - n) / (n - 1)` and the consistency ratio
    :math:`CR = CI / RI(n)` with Saaty's random index :data:`RANDOM_INDEX`
    (:math:`CR = 0` for :math:`n \le 2`, where every reciprocal matrix is
    consistent). The consistency ratio always uses :math:`\lambda_{max}`, whichever
    weighting method is chosen.

    A judgment's inconsistency is :math:`|\log(a_{ij} w_j / w_i)|`: how far it is,
    as a ratio, from what the weights imply.

    References
    ----------
    T. L. Saaty (1977), A scaling method for priorities in hierarchical structures,
    *J. Math. Psychology* 15, 234-281. T. L. Saaty (1980), *The Analytic Hierarchy
    Process*, McGraw-Hill. G. Crawford and C. Williams (1985), A note on the analysis
    of subjective judgment matrices, *J. Math. Psychology* 29, 387-405.

    Examples
    --------
    The policy's 50 / 30 / 20 split as consistent judgments: financial contribution
    is 5/3 times as important as cooperation potential and 5/2 times as important as
    risk control; potential is 3/2 times as important as risk.

    >>> m = PairwiseMatrix.from_judgments({
    ...     ("financial", "potential"): "5/3",
    ...     ("financial", "risk"): "5/2",
    ...     ("potential", "risk"): "3/2",
    ... })
    >>> {k: round(v, 6) for k, v in m.weights.items()}
    {'financial': 0.5, 'potential': 0.3, 'risk': 0.2}
    >>> round(m.consistency_ratio, 12)
    0.0
    """

    labels: tuple[str, ...] = attrs.field(converter=_to_labels, validator=_check_labels)
    """Element names, in the order of the rows and columns."""

    values: tuple[tuple[float, ...], ...] = attrs.field(converter=_to_rows)
    """``values[i][j]``: how many times more important ``labels[i]`` is than ``labels[j]``."""

    method: WeightMethod = attrs.field(default="eigenvector", validator=validator(OneOf(_METHODS)))
    """How weights are derived: principal ``"eigenvector"`` or row ``"geometric_mean"``."""

    max_consistency_ratio: float | None = attrs.field(
        default=0.1, converter=_optional_float, validator=_check_limit
    )
    """Largest consistency ratio accepted (Saaty's 0.1); ``None`` accepts any."""

    reciprocal_tolerance: float = attrs.field(
        default=0.01, converter=to_float, validator=_check_reciprocal_tolerance
    )
    """Relative tolerance on ``values[i][j] * values[j][i] == 1`` (0.01 accepts
    entries rounded to three decimals, such as 0.333 for 1/3)."""

    _lambda_max: float = attrs.field(init=False, repr=False, eq=False)
    _weights: tuple[float, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        matrix = self._checked_matrix()
        eigenvalues, eigenvectors = np.linalg.eig(matrix)
        k = int(np.argmax(eigenvalues.real))
        lambda_max = float(eigenvalues[k].real)
        if self.method == "eigenvector":
            vector = np.abs(eigenvectors[:, k].real)
        else:
            vector = np.exp(np.log(matrix).mean(axis=1))
        object.__setattr__(self, "_lambda_max", lambda_max)
        object.__setattr__(self, "_weights", tuple((vector / vector.sum()).tolist()))
        limit = self.max_consistency_ratio
        if limit is not None and self.consistency_ratio > limit:
            worst = self.inconsistent_judgments(3)
            listed = "; ".join(
                f"{i!r} over {j!r} judged {given:.4g}, weights imply {implied:.4g}"
                for i, j, given, implied in worst
            )
            raise InconsistentJudgmentsError(
                f"The judgments over {list(self.labels)} are too inconsistent: consistency "
                f"ratio {self.consistency_ratio:.3f} > {limit} (lambda_max "
                f"{self.lambda_max:.3f}, CI {self.consistency_index:.3f}, RI "
                f"{self.random_index}). Most inconsistent: {listed}. Revise these judgments, "
                "or pass max_consistency_ratio=None to accept them.",
                consistency_ratio=self.consistency_ratio,
                judgments=worst,
            )

    def _checked_matrix(self) -> FloatArray:
        owner = "PairwiseMatrix"
        n = len(self.labels)
        if len(self.values) != n or any(len(row) != n for row in self.values):
            shape = [len(row) for row in self.values]
            raise InvalidParameterError(
                f"{owner} over {n} labels {list(self.labels)} needs {n} rows of {n} judgments; "
                f"got {len(self.values)} rows of lengths {shape}."
            )
        matrix = np.array(self.values, dtype=np.float64).reshape(n, n)
        low, high = SAATY_SCALE
        for i, j in zip(*np.nonzero(~np.isfinite(matrix) | (matrix <= 0)), strict=True):
            raise InvalidParameterError(
                f"{owner}: judgment {self.labels[i]!r} over {self.labels[j]!r} is "
                f"{float(matrix[i, j])!r}; judgments must be positive (Saaty's scale runs from 1/9 "
                "to 9)."
            )
        outside = (matrix < low * (1 - _SCALE_SLACK)) | (matrix > high * (1 + _SCALE_SLACK))
        for i, j in zip(*np.nonzero(outside), strict=True):
            raise InvalidParameterError(
                f"{owner}: judgment {self.labels[i]!r} over {self.labels[j]!r} is "
                f"{matrix[i, j]:.6g}, outside Saaty's scale 1/9..9."
            )
        for i in range(n):
            if not math.isclose(matrix[i, i], 1.0, rel_tol=self.reciprocal_tolerance):
                raise InvalidParameterError(
                    f"{owner}: the diagonal judgment of {self.labels[i]!r} over itself is "
                    f"{matrix[i, i]:.6g}; it must be 1."
                )
        product = matrix * matrix.T
        bad = np.abs(product - 1.0) > self.reciprocal_tolerance
        for i, j in zip(*np.nonzero(np.triu(bad, 1)), strict=True):
            raise InvalidParameterError(
                f"{owner} is not reciprocal: {self.labels[i]!r} over {self.labels[j]!r} is "
                f"{matrix[i, j]:.6g} but {self.labels[j]!r} over {self.labels[i]!r} is "
                f"{matrix[j, i]:.6g}; it must be {1 / matrix[i, j]:.6g}. Entry (i, j) says "
                "how much more important row i is than column j."
            )
        return matrix

    @classmethod
    def from_judgments(
        cls,
        judgments: Mapping[tuple[str, str], float | str | Fraction],
        *,
        labels: Sequence[str] | None = None,
        method: WeightMethod = "eigenvector",
        max_consistency_ratio: float | None = 0.1,
        reciprocal_tolerance: float = 0.01,
    ) -> PairwiseMatrix:
        """Build the matrix from one judgment per pair.

        Parameters
        ----------
        judgments : mapping
            ``{(a, b): x}`` means *a is x times as important as b* (x > 1 favours a,
            x < 1 favours b). Values are numbers, ``Fraction`` or strings such as
            ``"1/3"``. Every pair must be judged exactly once, in either order.
        labels : sequence of str, optional
            Element order; by default the order of first appearance in ``judgments``.
        method, max_consistency_ratio, reciprocal_tolerance
            As the fields of the class.

        Returns
        -------
        PairwiseMatrix

        Raises
        ------
        InvalidParameterError
            A pair is missing, judged twice, compares an element with itself or names
            an element not in ``labels``; a judgment is not positive or off the scale.
        InconsistentJudgmentsError
            The consistency ratio exceeds ``max_consistency_ratio``.
        """
        order: list[str] = list(labels) if labels is not None else []
        if labels is None:
            for pair in judgments:
                order.extend(label for label in pair if label not in order)
        index = {label: k for k, label in enumerate(order)}
        n = len(index)
        rows = [[1.0] * n for _ in range(n)]
        seen: set[frozenset[str]] = set()
        for pair, raw in judgments.items():
            key: object = pair
            if not (isinstance(key, tuple) and len(key) == 2):
                raise InvalidParameterError(
                    f"Judgment keys must be (more_important, less_important) pairs; got {pair!r}."
                )
            a, b = pair
            unknown = [x for x in (a, b) if x not in index]
            if unknown:
                raise InvalidParameterError(
                    f"Judgment {pair!r} names {unknown}, not among the labels {order}."
                )
            if a == b:
                raise InvalidParameterError(f"Judgment {pair!r} compares {a!r} with itself.")
            if frozenset(pair) in seen:
                raise InvalidParameterError(
                    f"The pair {pair!r} is judged twice (in both orders); judge each pair once."
                )
            seen.add(frozenset(pair))
            value = _judgment(raw, where=f"{a!r} over {b!r}")
            if not (math.isfinite(value) and value > 0):
                raise InvalidParameterError(
                    f"Judgment {a!r} over {b!r} is {raw!r}; judgments must be positive "
                    "(Saaty's scale runs from 1/9 to 9)."
                )
            rows[index[a]][index[b]] = value
            rows[index[b]][index[a]] = 1.0 / value
        missing = [
            (order[i], order[j])
            for i in range(n)
            for j in range(i + 1, n)
            if frozenset((order[i], order[j])) not in seen
        ]
        if missing:
            raise InvalidParameterError(
                f"{len(missing)} pair(s) are not judged, first {missing[:5]}. A pairwise matrix "
                f"over {n} elements needs all {n * (n - 1) // 2} judgments."
            )
        return cls(
            labels=order,
            values=rows,
            method=method,
            max_consistency_ratio=max_consistency_ratio,
            reciprocal_tolerance=reciprocal_tolerance,
        )

    @property
    def n(self) -> int:
        """Number of elements compared."""
        return len(self.labels)

    @property
    def weights(self) -> dict[str, float]:
        """Weights by ``method``: positive, summing to 1, keyed by label in label order."""
        return dict(zip(self.labels, self._weights, strict=True))

    @property
    def lambda_max(self) -> float:
        """The principal eigenvalue (``n`` for a consistent matrix, larger otherwise)."""
        return self._lambda_max

    @property
    def consistency_index(self) -> float:
        """``CI = (lambda_max - n) / (n - 1)``; 0 for ``n <= 2``."""
        n = self.n
        if n <= 2:
            return 0.0
        return max((self._lambda_max - n) / (n - 1), 0.0)

    @property
    def random_index(self) -> float:
        """Saaty's random index ``RI(n)`` (:data:`RANDOM_INDEX`)."""
        return RANDOM_INDEX[self.n]

    @property
    def consistency_ratio(self) -> float:
        """``CR = CI / RI(n)``; 0 for ``n <= 2``. Saaty accepts ``CR <= 0.1``."""
        return 0.0 if self.n <= 2 else self.consistency_index / self.random_index

    def inconsistent_judgments(self, k: int = 3) -> list[tuple[str, str, float, float]]:
        """Return the ``k`` judgments furthest from what the weights imply, worst first.

        Returns
        -------
        list of (str, str, float, float)
            ``(i, j, given, implied)``: the judgment of ``i`` over ``j`` and the ratio
            of their weights ``w_i / w_j``.
        """
        matrix = np.array(self.values, dtype=np.float64)
        w = np.asarray(self._weights)
        implied = w[:, None] / w[None, :]
        upper_i, upper_j = np.triu_indices(self.n, 1)
        error = np.abs(np.log(matrix[upper_i, upper_j] / implied[upper_i, upper_j]))
        worst = np.argsort(-error, kind="stable")[:k]
        return [
            (
                self.labels[upper_i[p]],
                self.labels[upper_j[p]],
                float(matrix[upper_i[p], upper_j[p]]),
                float(implied[upper_i[p], upper_j[p]]),
            )
            for p in worst
        ]

    def to_frame(self) -> pd.DataFrame:
        """Return the matrix as a labelled DataFrame (rows over columns)."""
        return pd.DataFrame(list(self.values), index=list(self.labels), columns=list(self.labels))

    def _repr_html_(self) -> str:
        table = self.to_frame().assign(weight=list(self._weights))
        return html_block(
            "PairwiseMatrix: AHP judgments (row over column) and weights",
            facts=[
                ("weights", self.method),
                ("consistency ratio", self.consistency_ratio),
                (
                    "lambda_max, CI, RI",
                    f"{self.lambda_max:.4g}, {self.consistency_index:.4g}, {self.random_index:g}",
                ),
            ],
            tables=[("", table)],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "labels": list(self.labels),
            "values": [list(row) for row in self.values],
            "method": self.method,
            "max_consistency_ratio": self.max_consistency_ratio,
            "reciprocal_tolerance": self.reciprocal_tolerance,
        }

    @classmethod
    @reads("labels", "values", "method", "max_consistency_ratio", "reciprocal_tolerance")
    def from_dict(cls, data: Mapping[str, Any]) -> PairwiseMatrix:
        """Inverse of :meth:`to_dict`."""
        return cls(
            labels=data["labels"],
            values=data["values"],
            method=data["method"],
            max_consistency_ratio=data["max_consistency_ratio"],
            reciprocal_tolerance=data["reciprocal_tolerance"],
        )


def _to_floats(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(_judgment(v, where=f"number {k}") for k, v in enumerate(values))


@attrs.frozen(kw_only=True)
class DirectWeights:
    """Weights stated directly (e.g. the policy's 0.5 / 0.3 / 0.2), not judged pairwise.

    The stated ``values`` must sum to 1 within ``tolerance``; :attr:`weights` are the
    values divided by their sum, so the weights used always sum to 1 (to the last
    bit of floating point) and a score's contributions add up to the score. Values
    that already sum to exactly 1 are used unchanged. ``values`` keeps what was
    stated, so :meth:`to_dict` records it.

    Examples
    --------
    >>> DirectWeights.from_mapping({"financial": 0.5, "potential": 0.3, "risk": 0.2}).weights
    {'financial': 0.5, 'potential': 0.3, 'risk': 0.2}

    A sum off 1 by rounding (within ``tolerance``) is rescaled:

    >>> w = DirectWeights.from_mapping({"a": 0.5000009, "b": 0.5}).weights
    >>> {k: round(v, 9) for k, v in w.items()}
    {'a': 0.50000045, 'b': 0.49999955}
    """

    labels: tuple[str, ...] = attrs.field(converter=_to_labels, validator=_check_labels)
    """Element names."""

    values: tuple[float, ...] = attrs.field(converter=_to_floats)
    """The weights as stated, positive and summing to 1 (within ``tolerance``), in
    label order. :attr:`weights` rescales them to sum to exactly 1."""

    tolerance: float = attrs.field(default=1e-6, converter=to_float, validator=non_negative_finite)
    """Allowed absolute difference between the sum of the weights and 1."""

    _weights: tuple[float, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        owner = "DirectWeights"
        if len(self.values) != len(self.labels):
            raise InvalidParameterError(
                f"{owner}: {len(self.labels)} labels but {len(self.values)} weights."
            )
        for label, value in zip(self.labels, self.values, strict=True):
            if not (math.isfinite(value) and value > 0):
                raise InvalidParameterError(
                    f"{owner}: the weight of {label!r} is {value!r}; weights must be positive "
                    "(drop an element rather than weighting it 0)."
                )
        total = math.fsum(self.values)
        if not abs(total - 1.0) <= self.tolerance:
            raise InvalidParameterError(
                f"{owner}: weights {dict(zip(self.labels, self.values, strict=True))} sum to "
                f"{total:.10g}, not 1. Rescale them (or use a PairwiseMatrix)."
            )
        object.__setattr__(self, "_weights", tuple(v / total for v in self.values))

    @classmethod
    def from_mapping(
        cls, weights: Mapping[str, float], *, tolerance: float = 1e-6
    ) -> DirectWeights:
        """Build from ``{label: weight}``."""
        return cls(labels=list(weights), values=list(weights.values()), tolerance=tolerance)

    @property
    def weights(self) -> dict[str, float]:
        """The weights keyed by label: ``values`` divided by their sum."""
        return dict(zip(self.labels, self._weights, strict=True))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "labels": list(self.labels),
            "values": list(self.values),
            "tolerance": self.tolerance,
        }

    @classmethod
    @reads("labels", "values", "tolerance")
    def from_dict(cls, data: Mapping[str, Any]) -> DirectWeights:
        """Inverse of :meth:`to_dict`."""
        return cls(labels=data["labels"], values=data["values"], tolerance=data["tolerance"])
