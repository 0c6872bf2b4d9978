"""Churn early warning: all default signals and rules, and a pandas group-by reference.

    python benchmarks/bench_churn.py                     # 1M customers, ~10M events
    python benchmarks/bench_churn.py --customers 20000   # a quick run
    python benchmarks/bench_churn.py --learned           # the learned warning only

Prints the time and peak memory of ``EarlyWarning().predict`` (the default signals,
the eight policy signals and the purchase lapse, and the default rules), with and
without the ``event_id`` column (target: de-duplication costs at most 15 %), then
times two signals (interaction stop, spend drop) against a straightforward pandas
group-by implementation on the same log, checks that both give the same values, and
prints the ratio (target: at least 1x).
Then the learned warning on a nine-month book (training windows need the past): the
fit over four cut-offs (target: under 30 s for 1M customers), split into measuring the
features and the estimator, the estimator against scikit-learn's LogisticRegression
(newton-cholesky, the same objective) on the same design (ratio and largest
coefficient difference), and the scoring of every customer from the raw log with the
default call, reasons in words included (target: under 3 s; best of three, wall and CPU
time), then without the reasons and from features already measured as a breakdown.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd
from _common import machine, parser, peak_memory, row, timed

import crmscore as cs

#: About ten events per customer (10.0 at 1M customers): six months, one interaction
#: a month. The target is stated for 1M customers over 10M events.
EVENT_BOOK = {"acquisition_days": 184, "observation_days": 184, "interactions_per_month": 1.0}


def reference(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Interaction stop and spend drop with pandas group-bys (the obvious way)."""
    age = (as_of.normalize() - events["timestamp"].dt.normalize()).dt.days
    log = events.assign(age=age)[age >= 0]
    first_event = log.groupby("customer_id")["age"].max()
    activity = log[log["kind"].isin(cs.churn.ACTIVITY_KINDS)]
    last_activity = activity.groupby("customer_id")["age"].min()
    silent = last_activity.reindex(first_event.index).fillna(first_event)

    purchases = log[log["kind"] == "purchase"]
    by_customer = purchases.groupby("customer_id")
    first_purchase = by_customer["age"].max().reindex(first_event.index)
    recent = purchases[purchases["age"] < 90].groupby("customer_id")["value"].sum()
    old = purchases[(purchases["age"] >= 90) & (purchases["age"] < 450)]
    baseline = old.groupby("customer_id")["value"].sum()
    recent = recent.reindex(first_event.index, fill_value=0.0)
    baseline = baseline.reindex(first_event.index, fill_value=0.0)
    days = (first_purchase.clip(upper=449) - 90 + 1).clip(lower=0)
    judged = (days >= 90) & (baseline > 0)
    mean = (baseline * 30 / days).where(judged)
    drop = (1 - (recent / 3) / mean).where(judged)
    return pd.DataFrame({"interaction_stop_value": silent.astype(float), "spend_drop_value": drop})


#: Nine months (four training cut-offs reach 180 days back), about 13 events per
#: customer (13M at 1M customers).
LEARNED_BOOK = {"acquisition_days": 184, "observation_days": 270, "interactions_per_month": 0.25}


def learned(customers: int, seed: int) -> None:
    """Time the learned warning: fit over four cut-offs, then scoring."""
    book, generation = timed(lambda: cs.make_events(customers, seed=seed, **LEARNED_BOOK))
    events, as_of = book.events, book.as_of
    print(f"\nlearned warning: {len(events):,} events, {customers:,} customers ({machine()})")
    print(row("make_events", generation))
    fitter = cs.LearnedWarningFitter(n_windows=4)
    cpu = time.process_time()
    model, fit_s = timed(lambda: fitter.fit(events, as_of=as_of))
    fit_cpu = time.process_time() - cpu
    rows = sum(w.customers for w in model.training)
    print(row(f"LearnedWarningFitter.fit (4 cut-offs, {rows:,} rows)", fit_s))
    print(f"  {len(model.terms)} features, {model.n_iterations} Newton iterations")
    print(f"  CPU time of the fit (both cores, BLAS threads included): {fit_cpu:.1f} s")
    print(f"  target under 30 s: {'met' if fit_s < 30 else 'NOT met'} at this size")
    estimator_reference(fitter, events, as_of)
    # The target is for the call a user makes: the default, reasons in words included.
    # Wall time on a shared machine swings with the load: best of three, CPU time too.
    best_wall, best_cpu = math.inf, math.inf
    for _ in range(3):
        cpu = time.process_time()
        scored, wall = timed(lambda: model.predict(events, as_of=as_of))
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, time.process_time() - cpu)
    warned = int((scored["level"] != "none").sum())
    print(row(f"LearnedWarning.predict from the raw log ({warned:,} warned, reasons)", best_wall))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"  best of 3: wall {best_wall:.2f} s, CPU {best_cpu:.2f} s "
        f"(load average {load} on {os.cpu_count()} CPUs)"
    )
    quiet_wall, quiet_cpu = math.inf, math.inf
    for _ in range(3):
        cpu = time.process_time()
        _, wall = timed(lambda: model.predict(events, as_of=as_of, n_reasons=0))
        quiet_wall, quiet_cpu = min(quiet_wall, wall), min(quiet_cpu, time.process_time() - cpu)
    print(row("  of which: all but the reasons (n_reasons=0, best of 3)", quiet_wall))
    print(
        f"  CPU time with n_reasons=0: {quiet_cpu:.2f} s, so the reasons cost "
        f"{best_wall - quiet_wall:.2f} s wall, {best_cpu - quiet_cpu:.2f} s CPU"
    )
    # Scoring alone: features measured, then probabilities and levels.
    from crmscore._events import validate_events  # noqa: PLC0415 (internal, timing only)
    from crmscore.churn._history import LogHistory  # noqa: PLC0415

    validated, validate_s = timed(lambda: validate_events(events, as_of=as_of, owner="bench"))
    print(row("  of which: validating the log", validate_s))
    history, group_s = timed(lambda: LogHistory(validated, inactive_days=model.inactive_days))
    print(row("  of which: grouping by kind, customer and day", group_s))
    measured, measure_s = timed(lambda: model._measure(history, validated.as_of_day))
    print(row("  of which: measuring the features", measure_s))
    _, score_s = timed(lambda: model._frame(measured, validated.customers, n_reasons=0))
    print(row("  of which: scoring measured features (probability, level)", score_s))
    met = "met" if best_wall < 3 else "NOT met"
    print(
        f"  target under 3 s for scoring 1M customers from the raw log (the default call, "
        f"reasons included): {met} at this size"
    )


def estimator_reference(
    fitter: cs.LearnedWarningFitter, events: pd.DataFrame, as_of: pd.Timestamp
) -> None:
    """Time the fit's parts, and our IRLS against scikit-learn on the same design."""
    from crmscore._events import validate_events  # noqa: PLC0415 (internal, timing only)
    from crmscore.churn._history import LogHistory  # noqa: PLC0415
    from crmscore.churn._irls import fit_logistic  # noqa: PLC0415
    from crmscore.churn.learned._values import window_labels  # noqa: PLC0415

    validated, validate_s = timed(lambda: validate_events(events, as_of=as_of, owner="bench"))
    print(row("  of which: validating the log", validate_s))
    day = validated.as_of_day
    history = LogHistory(validated, inactive_days=fitter.inactive_days)
    kept, notes = fitter._kept_signals(validated, day)
    days = [day - fitter.horizon_days - k * fitter.window_step_days for k in range(4)]
    cache: dict = {}  # type: ignore[type-arg]
    blocks, measure_s = timed(lambda: [fitter._cached(history, d, kept, cache) for d in days])
    print(row("  of which: measuring the features at 4 cut-offs", measure_s))
    y = np.concatenate(
        [
            window_labels(b.cut, lead_days=fitter.lead_days, horizon_days=fitter.horizon_days)[
                b.cut.active
            ]
            for b in blocks
        ]
    )
    (_, x), design_s = timed(lambda: fitter._terms(blocks, list(notes), kept))
    print(row("  of which: the standardised design", design_s))
    ours, ours_s = timed(lambda: fit_logistic(x, y, penalty=fitter.penalty))
    print(row(f"  of which: IRLS ({x.shape[0]:,} x {x.shape[1]})", ours_s))
    try:
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 (optional)
    except ImportError:
        print("  scikit-learn is not installed: no reference for the estimator")
        return
    reference = LogisticRegression(C=1 / fitter.penalty, solver="newton-cholesky", tol=1e-8)
    _, ref_s = timed(lambda: reference.fit(x, y))
    print(row("  scikit-learn LogisticRegression(newton-cholesky) on the same design", ref_s))
    gap = float(np.max(np.abs(ours.beta[1:] - reference.coef_[0])))
    print(
        f"  IRLS is {ref_s / ours_s:.2f}x as fast as scikit-learn; largest coefficient "
        f"difference {gap:.1e}"
    )


def main() -> None:
    p = parser(__doc__ or "", customers=1_000_000)
    p.add_argument("--learned", action="store_true", help="only the learned warning")
    args = p.parse_args()
    if args.learned:
        learned(args.customers, args.seed)
        return
    book, generation = timed(lambda: cs.make_events(args.customers, seed=args.seed, **EVENT_BOOK))
    events, as_of = book.events, book.as_of
    print(f"bench_churn: {len(events):,} events, {args.customers:,} customers ({machine()})")
    print(row("make_events", generation))

    warning = cs.EarlyWarning()
    result, full_s = timed(lambda: warning.predict(events, as_of=as_of), repeat=args.repeat)
    full_mb = peak_memory(lambda: warning.predict(events, as_of=as_of))
    print(row("EarlyWarning().predict (default signals, rules)", full_s, full_mb))
    counts = result["level"].value_counts().reindex(list(cs.churn.LEVELS))
    print("  levels: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    target = "met" if full_s < 10 else "NOT met"
    print(f"  target under 10 s for 1M customers / 10M events: {target} at this size")

    # De-duplication by event id must cost little: the same log without the column.
    no_ids = events.drop(columns="event_id")
    _, plain_s = timed(lambda: warning.predict(no_ids, as_of=as_of), repeat=args.repeat)
    print(row("EarlyWarning().predict without event_id", plain_s))
    ratio = full_s / plain_s
    verdict = "met" if ratio <= 1.15 else "NOT met"
    print(f"  with event ids {ratio:.2f}x the time without (target <= 1.15x: {verdict})")

    two = cs.EarlyWarning(signals=(cs.InteractionStop(), cs.SpendDrop()), rules=())
    ours, ours_s = timed(lambda: two.predict(events, as_of=as_of), repeat=args.repeat)
    print(
        row(
            "crmscore: interaction stop + spend drop",
            ours_s,
            peak_memory(lambda: two.predict(events, as_of=as_of)),
        )
    )
    ref, ref_s = timed(lambda: reference(events, as_of))
    print(
        row(
            "pandas group-by: the same two signals",
            ref_s,
            peak_memory(lambda: reference(events, as_of)),
        )
    )
    for column in ("interaction_stop_value", "spend_drop_value"):
        np.testing.assert_allclose(
            ours[column].to_numpy(), ref[column].to_numpy(), rtol=1e-9, equal_nan=True
        )
    verdict = "met" if ours_s <= ref_s else "NOT met"
    print(
        f"  identical values; crmscore is {ref_s / ours_s:.2f}x as fast on these two signals "
        f"(target >= 1x: {verdict})"
    )
    learned(args.customers, args.seed)


if __name__ == "__main__":
    main()
