"""The criteria hierarchy: criterion → sub-criteria → indicators, local and global weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs
import pandas as pd

from crmscore._display import html_block
from crmscore._serialise import reads
from crmscore.errors import InvalidParameterError
from crmscore.tiering._ahp import DirectWeights, PairwiseMatrix

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["Criterion", "Weights"]

Weights: TypeAlias = PairwiseMatrix | DirectWeights


def _to_weights(value: Weights | Mapping[str, float]) -> Weights:
    if isinstance(value, (PairwiseMatrix, DirectWeights)):
        return value
    if isinstance(value, Mapping):
        return DirectWeights.from_mapping(value)
    raise InvalidParameterError.for_value(
        name="weights",
        owner="Criterion",
        allowed="a PairwiseMatrix, a DirectWeights or a mapping {name: weight}",
        got=type(value).__name__,
    )


def _to_criteria(values: Sequence[Criterion]) -> tuple[Criterion, ...]:
    return tuple(values)


def _weights_to_dict(weights: Weights) -> dict[str, Any]:
    kind = "pairwise" if isinstance(weights, PairwiseMatrix) else "direct"
    return {"kind": kind, **weights.to_dict()}


@reads("kind", optional=None, method=False)
def _weights_from_dict(data: Mapping[str, Any]) -> Weights:
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind == "pairwise":
        return PairwiseMatrix.from_dict(fields)
    if kind == "direct":
        return DirectWeights.from_dict(fields)
    raise InvalidParameterError.for_value(
        name="kind", owner="Criterion weights", allowed="one of {'pairwise', 'direct'}", got=kind
    )


@attrs.frozen(kw_only=True)
class Criterion:
    """A node of the criteria hierarchy: criterion → sub-criteria → indicators.

    The labels of ``weights`` are the node's children. A label that names one of
    ``subcriteria`` is that sub-criterion; every other label is an indicator (a
    leaf, scored from the data column of that name by the scorecard). A child's
    **local** weight is its weight among its siblings; its **global** weight is the
    product of local weights from the root down, so the indicators' global weights
    sum to 1.

    Examples
    --------
    >>> financial = Criterion(
    ...     name="financial",
    ...     weights={"annual_revenue": 0.5, "profit_margin": 0.3, "payment_cycle": 0.2})
    >>> goal = Criterion(
    ...     name="customer value",
    ...     weights={"financial": 0.5, "potential": 0.3, "risk": 0.2},
    ...     subcriteria=[financial])
    >>> goal.indicators
    ('annual_revenue', 'profit_margin', 'payment_cycle', 'potential', 'risk')
    >>> {k: round(v, 3) for k, v in goal.global_weights().items()}
    {'annual_revenue': 0.25, 'profit_margin': 0.15, 'payment_cycle': 0.1,
     'potential': 0.3, 'risk': 0.2}
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    """Name of the criterion (the root's name is the goal)."""

    weights: Weights = attrs.field(converter=_to_weights)
    """How the children are weighted: a :class:`PairwiseMatrix` of judgments, a
    :class:`DirectWeights`, or a mapping ``{child: weight}`` (read as direct weights)."""

    subcriteria: tuple[Criterion, ...] = attrs.field(default=(), converter=_to_criteria)
    """Children that are criteria themselves (each named by a label of ``weights``)."""

    def __attrs_post_init__(self) -> None:
        labels = set(self.weights.labels)
        for child in self.subcriteria:
            if not isinstance(child, Criterion):
                raise InvalidParameterError.for_value(
                    name="subcriteria",
                    owner=f"Criterion {self.name!r}",
                    allowed="a sequence of Criterion",
                    got=type(child).__name__,
                )
            if child.name not in labels:
                raise InvalidParameterError(
                    f"Criterion {self.name!r}: sub-criterion {child.name!r} is not among its "
                    f"weighted children {list(self.weights.labels)}."
                )
        names = [self.name, *(name for name, _, _ in self._walk())]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidParameterError(
                f"Criterion {self.name!r}: the names {repeated} appear more than once in the "
                "hierarchy; every criterion and indicator needs its own name."
            )

    def _walk(self) -> Iterator[tuple[str, Criterion, bool]]:
        """Depth-first ``(child name, parent, is_indicator)`` over the whole subtree."""
        children = {child.name: child for child in self.subcriteria}
        for label in self.weights.labels:
            child = children.get(label)
            yield label, self, child is None
            if child is not None:
                yield from child._walk()

    @property
    def indicators(self) -> tuple[str, ...]:
        """Leaf names (indicators), depth first in label order."""
        return tuple(name for name, _, leaf in self._walk() if leaf)

    @property
    def local_weights(self) -> dict[str, float]:
        """Weights of this node's children among themselves."""
        return self.weights.weights

    def global_weights(self) -> dict[str, float]:
        """Global weight of every indicator: the product of local weights on its path."""
        out: dict[str, float] = {}
        for label, weight in self.local_weights.items():
            child = next((c for c in self.subcriteria if c.name == label), None)
            if child is None:
                out[label] = weight
            else:
                out.update({k: weight * v for k, v in child.global_weights().items()})
        return out

    def top_level(self) -> dict[str, str]:
        """Map each indicator to its top-level criterion (a child of this node)."""
        out: dict[str, str] = {}
        for label in self.weights.labels:
            child = next((c for c in self.subcriteria if c.name == label), None)
            out.update({label: label} if child is None else dict.fromkeys(child.indicators, label))
        return out

    def weight_table(self) -> pd.DataFrame:
        """Every node below this one with its parent, level, local and global weight.

        Returns
        -------
        pandas.DataFrame
            Indexed by node name: ``parent``, ``level`` (1 for this node's children),
            ``kind`` (``"criterion"`` or ``"indicator"``), ``local_weight``,
            ``global_weight``.
        """
        rows: list[tuple[str, str, int, str, float, float]] = []

        def visit(node: Criterion, level: int, scale: float) -> None:
            children = {c.name: c for c in node.subcriteria}
            for label, weight in node.local_weights.items():
                child = children.get(label)
                kind = "indicator" if child is None else "criterion"
                rows.append((label, node.name, level, kind, weight, scale * weight))
                if child is not None:
                    visit(child, level + 1, scale * weight)

        visit(self, 1, 1.0)
        frame = pd.DataFrame(
            rows, columns=["node", "parent", "level", "kind", "local_weight", "global_weight"]
        )
        return frame.set_index("node")

    def _repr_html_(self) -> str:
        return html_block(
            f"Criterion {self.name!r}: the weight tree", tables=[("", self.weight_table())]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation."""
        return {
            "name": self.name,
            "weights": _weights_to_dict(self.weights),
            "subcriteria": [child.to_dict() for child in self.subcriteria],
        }

    @classmethod
    @reads("name", "weights", optional=("subcriteria",))
    def from_dict(cls, data: Mapping[str, Any]) -> Criterion:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            weights=_weights_from_dict(data["weights"]),
            subcriteria=[cls.from_dict(child) for child in data.get("subcriteria", [])],
        )
