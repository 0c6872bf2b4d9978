"""The API reference as mkdocstrings renders it from the numpydoc docstrings.

A numpydoc line that documents several parameters at once (``a, b, c : str``) is
rendered by mkdocstrings as one entry per name, each showing the *first* name's
default: the reference then claims ``timestamp_col`` defaults to ``'customer_id'``.
Every parameter gets its own entry, and every documented name is one the callable
accepts (``inspect.signature`` is the outside reference).
"""

from __future__ import annotations

import ast
import inspect
import re
from typing import TYPE_CHECKING, Any

import attrs
import pandas as pd
import pytest

import crmscore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# A parameter entry in a numpydoc "Parameters" section: the name(s), optionally
# followed by " : type", at the section's own indentation.
_ENTRY = re.compile(r"^(?P<names>\*{0,2}[A-Za-z_][\w]*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s*(?::.*)?$")
_SECTION_RULE = re.compile(r"^-{3,}$")


def _public_callables() -> Iterator[tuple[str, Callable[..., object]]]:
    """Every public function, class and public method reachable from ``crmscore.__all__``."""
    for name in crmscore.__all__:
        obj = getattr(crmscore, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            yield name, obj
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                wrapped = isinstance(member, classmethod | staticmethod)
                function = member.__func__ if wrapped else member
                if inspect.isfunction(function):
                    yield f"{name}.{attr}", function


def _parameter_entries(doc: str) -> list[str]:
    """The entry lines of the first "Parameters" section of a docstring (names part)."""
    lines = inspect.cleandoc(doc).splitlines()
    for start, line in enumerate(lines[:-1]):
        if line.strip() == "Parameters" and _SECTION_RULE.match(lines[start + 1].strip()):
            indent = len(line) - len(line.lstrip())
            break
    else:
        return []
    entries: list[str] = []
    for position in range(start + 2, len(lines)):
        line = lines[position]
        if not line.strip():
            continue
        if position + 1 < len(lines) and _SECTION_RULE.match(lines[position + 1].strip()):
            break  # the next section's title
        if len(line) - len(line.lstrip()) != indent:
            continue  # a description line
        match = _ENTRY.match(line.strip())
        if match:
            entries.append(match.group("names"))
    return entries


def test_the_parser_reads_numpydoc_entries() -> None:
    doc = """Summary.

    Parameters
    ----------
    data : pandas.DataFrame
        The data, with a colon: here.
    a, b : str, default "x"
        Two at once.
    *args
        More.

    Returns
    -------
    out : int
        Not a parameter.
    """
    assert _parameter_entries(doc) == ["data", "a, b", "*args"]


def test_every_parameter_has_its_own_docstring_entry() -> None:
    offenders = [
        f"{qualname}: {entry!r}"
        for qualname, obj in _public_callables()
        for entry in _parameter_entries(inspect.getdoc(obj) or "")
        if "," in entry
    ]
    assert not offenders, (
        "numpydoc lines documenting several parameters at once (mkdocstrings shows the"
        " first one's default for all of them); give each parameter its own entry:\n"
        + "\n".join(offenders)
    )


def _signature_names(obj: Callable[..., object]) -> set[str] | None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    prefix: dict[inspect._ParameterKind, str] = {
        inspect.Parameter.VAR_POSITIONAL: "*",
        inspect.Parameter.VAR_KEYWORD: "**",
    }
    return {
        prefix.get(parameter.kind, "") + parameter.name
        for parameter in signature.parameters.values()
    }


def test_every_documented_parameter_is_in_the_signature() -> None:
    offenders = [
        f"{qualname}: {name!r} not in {sorted(accepted)}"
        for qualname, obj in _public_callables()
        if (accepted := _signature_names(obj)) is not None
        for entry in _parameter_entries(inspect.getdoc(obj) or "")
        for name in (part.strip() for part in entry.split(","))
        if name not in accepted and name.lstrip("*") not in accepted
    ]
    assert not offenders, "Documented parameters the callable does not accept:\n" + "\n".join(
        offenders
    )


def _documented_defaults(doc: str) -> Iterator[tuple[str, str]]:
    """``(name, default text)`` of each entry whose type says ``default ...``."""
    lines = inspect.cleandoc(doc).splitlines()
    entries = set(_parameter_entries(doc))
    for line in lines:
        name, _, kind = line.strip().partition(" : ")
        match = re.search(r"(?:^|,\s*)default[:=]?\s+(.+)$", kind)
        if name in entries and match:
            yield name, match.group(1).strip()


def test_every_documented_default_is_the_signature_default() -> None:
    offenders = []
    for qualname, obj in _public_callables():
        try:
            parameters = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        for name, text in _documented_defaults(inspect.getdoc(obj) or ""):
            parameter = parameters.get(name)
            if parameter is None or parameter.default is inspect.Parameter.empty:
                continue
            # A number may be written for the reader with thousands separators.
            grouped = re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text)
            literal = text.replace(",", "") if grouped else text
            try:
                documented = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                continue  # prose ("default the module's map"): nothing to compare
            actual = parameter.default
            if isinstance(actual, tuple | list | frozenset | set) and not actual:
                same = isinstance(documented, tuple | list | set) and not documented
            else:
                same = documented == actual and type(documented) in {type(actual), int, float}
            if not same:
                offenders.append(f"{qualname}: {name} documented {text}, signature {actual!r}")
    assert not offenders, "Documented defaults that differ from the signature:\n" + "\n".join(
        offenders
    )


def test_help_of_rfm_segments_shows_a_short_signature() -> None:
    """The default map is a sentinel: its long repr is not printed in the signature."""
    signature = inspect.signature(crmscore.rfm_segments)
    assert signature.parameters["segment_map"].default is None
    assert len(str(signature)) < 300


def test_the_sentinel_means_the_classic_map() -> None:
    book = crmscore.make_transactions(500, seed=3)
    table = crmscore.rfm_table(book.transactions, as_of=book.as_of)
    by_default = crmscore.rfm_segments(table)
    explicit = crmscore.rfm_segments(table, segment_map=crmscore.CLASSIC_SEGMENTS)
    assert by_default.equals(explicit)
    assert set(by_default["segment"].cat.categories) == {
        segment.label_en for segment in crmscore.CLASSIC_SEGMENTS.segments
    }


@pytest.mark.parametrize("cls", [crmscore.EarlyWarning, crmscore.LearnedWarningFitter])
def test_help_of_the_warnings_shows_a_short_signature(cls: type[Any]) -> None:
    """The default signals (and rules) are sentinels: their reprs took 1,200-2,400 chars."""
    signature = inspect.signature(cls)
    assert signature.parameters["signals"].default is None
    assert len(str(signature)) < 500
    # The warning's defaults add the purchase lapse to the eight policy signals; the
    # learned model's are the eight.
    defaults = (
        crmscore.churn.WARNING_SIGNALS
        if cls is crmscore.EarlyWarning
        else crmscore.churn.DEFAULT_SIGNALS
    )
    built = cls()
    assert built.signals == defaults
    assert built == cls(signals=defaults)


def test_the_rules_sentinel_means_the_default_rules() -> None:
    assert inspect.signature(crmscore.EarlyWarning).parameters["rules"].default is None
    warning = crmscore.EarlyWarning()
    assert warning.rules == crmscore.churn.DEFAULT_RULES
    assert crmscore.EarlyWarning.from_dict(warning.to_dict()) == warning
    with pytest.raises(crmscore.errors.InvalidParameterError, match="signals"):
        crmscore.EarlyWarning(signals="interaction_stop")  # type: ignore[arg-type]


# Bounds of the signatures help() and the API reference show (issue 19), chosen from
# the signatures of every public callable (functions, classes, public methods):
_MAX_DEFAULT_REPR = 64
_MAX_SIGNATURE = 700


def test_every_signature_is_short() -> None:
    """No public signature prints a long default, and none is a wall of text.

    Before the sentinels, defaults printed up to 629 characters (``action_plan``'s
    schedules); collections and nested objects (schedules, tier schemes, kind lists,
    level tables, reference figures) were all 90 or longer, while every scalar or small
    parameter object is at most 46 (``BetaGeoParams(...)``). A default may print at
    most 64 characters: the longest left are ``RescoringPolicy``'s two adjustments
    (63: ``None`` there already means "no adjustment", so it cannot stand for the
    default) and an error's one-sentence hint (60), which reads as text.

    What remains of a signature's length is its parameter count: the longest are
    ``RescoringPolicy`` (672 characters, 14 fields), ``predict_totals`` (610, 16
    parameters) and ``Book`` (608, 15 fields). No sentinel shortens those, so the whole
    signature is bounded at 700, a margin of one short parameter over the longest;
    a new long default is caught by the per-default bound first.
    """
    long_defaults = []
    long_signatures = []
    n_checked = 0
    for qualname, obj in _public_callables():
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            continue  # the exception classes' builtin __init__
        n_checked += 1
        for parameter in signature.parameters.values():
            shown = repr(parameter.default)
            if parameter.default is not inspect.Parameter.empty and len(shown) > _MAX_DEFAULT_REPR:
                long_defaults.append(f"{qualname}: {parameter.name} ({len(shown)} characters)")
        if len(str(signature)) > _MAX_SIGNATURE:
            long_signatures.append(f"{qualname} ({len(str(signature))} characters)")
    assert n_checked > 300  # the walk reaches the whole public API
    assert not long_defaults, "Use a None sentinel for these defaults:\n" + "\n".join(long_defaults)
    assert not long_signatures, "Signatures too long for help():\n" + "\n".join(long_signatures)


def _card() -> crmscore.Scorecard:
    return crmscore.Scorecard(
        hierarchy=crmscore.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[
            crmscore.Indicator(
                name="total_spend",
                direction="benefit",
                normaliser=crmscore.FixedRange(low=0, high=2000),
            )
        ],
    )


@pytest.mark.parametrize(
    ("build", "parameter", "default"),
    [
        (crmscore.b2b_scorecard, "criteria_weights", crmscore.B2B_CRITERIA),
        (crmscore.b2b_scorecard, "tiers", crmscore.POLICY_TIERS),
        (crmscore.b2b_policy_scorecard, "criteria_weights", crmscore.B2B_CRITERIA),
        (crmscore.b2b_policy_scorecard, "tiers", crmscore.POLICY_TIERS),
        (crmscore.relationship_scorecard, "tiers", crmscore.POLICY_TIERS),
        (crmscore.membership_levels, "levels", crmscore.MEMBERSHIP_LEVELS),
        (crmscore.InteractionStop, "kinds", crmscore.churn.ACTIVITY_KINDS),
    ],
)
def test_a_sentinel_builds_what_the_documented_default_builds(
    build: Callable[..., Any], parameter: str, default: object
) -> None:
    assert inspect.signature(build).parameters[parameter].default is None
    by_default = build()
    explicit = build(**{parameter: default})
    assert by_default == explicit
    if hasattr(by_default, "to_dict"):
        assert by_default.to_dict() == explicit.to_dict()
        assert type(by_default).from_dict(by_default.to_dict()) == by_default


def test_the_scorecard_tiers_sentinel_is_the_policy_scheme() -> None:
    assert inspect.signature(crmscore.Scorecard).parameters["tiers"].default is None
    card = _card()
    assert card.tiers is crmscore.POLICY_TIERS
    assert card == attrs.evolve(card, tiers=crmscore.POLICY_TIERS)
    assert card.to_dict()["tiers"] == crmscore.POLICY_TIERS.to_dict()
    assert crmscore.Scorecard.from_dict(card.to_dict()) == card
    assert crmscore.InteractionStop().kinds == crmscore.churn.ACTIVITY_KINDS


def test_the_book_sentinels_mean_the_defaults() -> None:
    """Schedules, course figures and a book's notes: the same plan, check and notes."""
    events = crmscore.make_events(300, seed=5).events
    book = crmscore.open_book(
        crmscore.RescoringPolicy(scorecard=_card()), events, as_of="2025-12-31 23:59"
    ).book
    assert book.notes == crmscore.rescoring._book.ENGINE_NOTES
    assert inspect.signature(crmscore.Book).parameters["notes"].default is None
    assert crmscore.Book(policy=book.policy).notes == book.notes

    start, end = "2025-07-01", "2025-12-31"
    assert inspect.signature(crmscore.action_plan).parameters["schedules"].default is None
    plan = crmscore.action_plan(book, start=start, end=end)
    assert len(plan) > 0
    assert plan.equals(
        crmscore.action_plan(book, start=start, end=end, schedules=crmscore.DEFAULT_SCHEDULES)
    )

    assert inspect.signature(crmscore.course_check).parameters["figures"].default is None
    check = crmscore.course_check(book, events, start=start, end=end)
    assert len(check) > 0
    assert check.equals(
        crmscore.course_check(book, events, start=start, end=end, figures=crmscore.COURSE_FIGURES)
    )
    assert check["reference"].to_dict() == {
        metric: crmscore.COURSE_FIGURES[metric] for metric in check.index
    }


def test_the_interaction_kinds_sentinel_means_the_activity_kinds() -> None:
    events = crmscore.make_events(300, seed=5).events
    signature = inspect.signature(crmscore.event_indicators)
    assert signature.parameters["interaction_kinds"].default is None
    by_default = crmscore.event_indicators(events, as_of="2025-12-31")
    explicit = crmscore.event_indicators(
        events, as_of="2025-12-31", interaction_kinds=crmscore.churn.ACTIVITY_KINDS
    )
    pd.testing.assert_frame_equal(by_default, explicit)
    only_contacts = crmscore.event_indicators(
        events, as_of="2025-12-31", interaction_kinds=("interaction",)
    )
    assert not only_contacts.equals(by_default)  # the parameter still reaches the count


def test_no_source_file_holds_a_control_character() -> None:
    """A docstring written as a plain string turns ``\\text`` into a tab, ``\\alpha``
    into a bell, ``\\frac`` into a form feed: the math then renders as garbage. The
    sources hold none of them (nor a tab anywhere)."""
    from pathlib import Path  # noqa: PLC0415

    root = Path(crmscore.__file__).parent
    control = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
        if control.search(line)
    ]
    assert not found, f"control characters in: {found}"
