"""The variants study's statistics: each LSTM variant against ``V``, and Greff et al.'s findings.

Greff et al. (2017), "LSTM: A Search Space Odyssey", compared eight variants of the vanilla LSTM
(``V``) on three tasks with Welch's t-test (p < 0.05) and concluded that removing the forget gate
(NFG) or the output activation (NOAF) hurts most, that coupling the input and forget gates (CIFG)
and removing the peepholes (NP) do not hurt significantly, and that full gate recurrence (FGR)
does not improve on ``V``. :func:`compare_variants` makes the same comparison on the study's
records and :func:`greff_findings` checks those three statements against it. Nothing here
trains; the records are those of :func:`~gru_lstm_jax.studies.runs.train_grid`.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["compare_variants", "greff_findings", "variant_name"]


def variant_name(cell: str) -> str:
    """``"lstm_cifg"`` -> ``"CIFG"``; any other cell name is returned unchanged."""
    return cell.removeprefix("lstm_").upper() if cell.startswith("lstm_") else cell


def _welch(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The two-sided p-value of Welch's t-test; 0 or 1 where both samples are constant."""
    if len(a) < 2 or len(b) < 2:
        return None
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():  # nearly equal samples: scipy warns, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def compare_variants(
    records: Sequence[dict[str, Any]], reference: str = "lstm_v", alpha: float = 0.05
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every cell of every task against ``reference``: difference, Welch p-value, verdict, rank.

    Args:
        records: the study's records (``task``, ``cell``, ``test``, ``higher_is_better``).
        reference: the cell the others are compared with.
        alpha: the significance level of the two-sided Welch t-test.

    Returns:
        ``{task: {cell: {"mean", "std", "difference", "p", "verdict", "rank"}}}`` for the tasks
        on which ``reference`` ran: ``difference`` is the cell's mean test metric minus the
        reference's, ``verdict`` ``"better"``, ``"worse"`` or ``"same"`` (p ≥ ``alpha``, or
        fewer than two seeds), ``rank`` the cell's place among the task's cells by mean (1 is
        best, ties share the mean place).
    """
    tasks: dict[str, dict[str, list[float]]] = {}
    higher: dict[str, bool] = {}
    for record in records:
        tasks.setdefault(record["task"], {}).setdefault(record["cell"], []).append(record["test"])
        higher[record["task"]] = bool(record["higher_is_better"])
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for task, cells in tasks.items():
        if reference not in cells:
            continue
        sign = 1.0 if higher[task] else -1.0
        means = {cell: statistics.fmean(values) for cell, values in cells.items()}
        ranks = stats.rankdata([-sign * means[cell] for cell in cells])
        result[task] = {}
        for (cell, values), rank in zip(cells.items(), ranks, strict=True):
            p = _welch(values, cells[reference])
            difference = means[cell] - means[reference]
            verdict = "same"
            if cell != reference and p is not None and p < alpha:
                verdict = "better" if sign * difference > 0 else "worse"
            result[task][cell] = {
                "mean": means[cell],
                "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "difference": difference,
                "p": p,
                "verdict": verdict,
                "rank": float(rank),
            }
    return result


def _p(p: float | None) -> str:
    return "n/a" if p is None else format(p, ".2g")


def _tasks_with(comparison: dict[str, dict[str, dict[str, Any]]], cell: str, verdict: str) -> list:
    return [
        task for task, cells in comparison.items() if cells.get(cell, {}).get("verdict") == verdict
    ]


def greff_findings(comparison: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Greff et al.'s main findings, each checked against :func:`compare_variants`.

    A variant "hurts" where it is significantly worse than ``V`` (the verdicts of
    :func:`compare_variants`); the variants that hurt most are those worse on the most tasks.

    Args:
        comparison: the output of :func:`compare_variants` with ``reference="lstm_v"``.

    Returns:
        One dict per finding: ``claim`` (Greff's statement), ``agrees`` (``True``, ``False``,
        or ``None`` where a variant it names did not run) and ``evidence`` (a sentence of the
        numbers behind the verdict).
    """
    cells = {cell for entries in comparison.values() for cell in entries} - {"lstm_v"}
    findings = []
    worse = {cell: _tasks_with(comparison, cell, "worse") for cell in sorted(cells)}
    most = max((len(tasks) for tasks in worse.values()), default=0)
    hurt = {cell for cell, tasks in worse.items() if most and len(tasks) == most}
    named = {"lstm_nfg", "lstm_noaf"}
    mean_rank = {
        cell: statistics.fmean(e[cell]["rank"] for e in comparison.values() if cell in e)
        for cell in sorted(cells)
    }
    ranking = ", ".join(f"{variant_name(c)} {mean_rank[c]:.1f}" for c in sorted(
        mean_rank, key=lambda c: -mean_rank[c]))  # fmt: skip
    listed = "; ".join(f"{variant_name(c)} on {', '.join(t)}" for c, t in worse.items() if t)
    findings.append({
        "claim": "Removing the forget gate (NFG) or the output activation (NOAF) hurts most.",
        "agrees": None if not named <= cells else hurt == named,
        "evidence": (f"significantly worse than V: {listed}" if listed
                     else "no variant is significantly worse than V on any task")
        + f"; mean rank over the tasks, worst first: {ranking}.",
    })  # fmt: skip
    for claim, cell, verdict in (
        ("Coupling the input and forget gates (CIFG) does not hurt.", "lstm_cifg", "worse"),
        ("Removing the peepholes (NP) does not hurt.", "lstm_np", "worse"),
        ("Full gate recurrence (FGR) does not improve on V.", "lstm_fgr", "better"),
    ):
        against = _tasks_with(comparison, cell, verdict)
        tasks = [t for t, e in comparison.items() if cell in e]
        detail = "; ".join(
            f"{t}: {comparison[t][cell]['difference']:+.4g} (p = {_p(comparison[t][cell]['p'])})"
            for t in tasks
        )
        findings.append({
            "claim": claim,
            "agrees": None if not tasks else not against,
            "evidence": (f"significantly {verdict} than V on {', '.join(against)}" if against
                         else f"not significantly {verdict} than V on any task")
            + f" (difference of the mean test metric from V's: {detail}).",
        })  # fmt: skip
    return findings
