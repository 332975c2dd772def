"""The benchmark's summary: medians over rounds, throughput, FLOP rates and our speed-up."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from typing import Any

from gru_lstm_jax.bench.registry import get_impl
from gru_lstm_jax.bench.workloads import (
    Workload,
    gate_count,
    has_recurrent_matrix,
    train_step_flops,
)


def summarize(runs: Sequence[dict[str, Any]], peaks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combines the rounds: medians, throughput, FLOP rates and our speed-up.

    For each (workload, cell, implementation): the median over rounds of the workers' median
    step times, steps per second (its inverse), the median first-step (compile) time, the cell's
    gate count ``gates`` and whether it has a ``recurrent_matrix`` (see
    :func:`gru_lstm_jax.bench.workloads.forward_flops`), FLOPs per step
    (:func:`~gru_lstm_jax.bench.workloads.train_step_flops`), achieved GFLOP/s and its fraction
    of the median peak. For ``ours``, ``speedup_vs_fastest_other`` is our steps/s over the
    highest steps/s of the implementations that are not ours (``None`` when there is none).
    ``page_faults_per_step`` is the median over the rounds that report it (``None`` if none).
    ``recurrent_kernel`` is what the first round's worker recorded.

    Args:
        runs: training worker results as returned by
            :func:`gru_lstm_jax.bench.runner.run_rounds`.
        peaks: peak worker results (each with ``gflops``).

    Returns:
        ``{"peak_gflops": float, "rows": [...]}``, rows in the order first seen in ``runs``.
    """
    peak_gflops = statistics.median(peak["gflops"] for peak in peaks)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["workload"], run["cell"], run["impl"]), []).append(run)
    rows = []
    for (workload, cell, impl), group in groups.items():
        shape = Workload(**group[0]["workload_shape"])
        round_medians = [run["median_step_s"] for run in group]
        median_step = statistics.median(round_medians)
        flops = train_step_flops(cell, shape)
        gflops = flops / median_step / 1e9
        faults = [
            run["page_faults_per_step"]
            for run in group
            if run.get("page_faults_per_step") is not None
        ]
        rows.append(
            {
                "workload": workload,
                "workload_shape": dataclasses.asdict(shape),
                "cell": cell,
                "impl": impl,
                "device": group[0]["device"],
                "rounds": len(group),
                "round_median_step_s": round_medians,
                "median_step_s": median_step,
                "steps_per_s": 1.0 / median_step,
                "ms_per_step": median_step * 1e3,
                "compile_s": statistics.median(run["compile_s"] for run in group),
                "gates": gate_count(cell, shape),
                "recurrent_matrix": has_recurrent_matrix(cell),
                "flops_per_step": flops,
                "gflops": gflops,
                "peak_fraction": gflops / peak_gflops,
                "page_faults_per_step": statistics.median(faults) if faults else None,
                "recurrent_kernel": group[0].get("recurrent_kernel"),
                "speedup_vs_fastest_other": None,
            }
        )
    for row in rows:
        if row["impl"] != "ours":
            continue
        others = [
            other["steps_per_s"]
            for other in rows
            if (other["workload"], other["cell"]) == (row["workload"], row["cell"])
            and not get_impl(other["impl"]).ours
        ]
        if others:
            row["speedup_vs_fastest_other"] = row["steps_per_s"] / max(others)
    return {"peak_gflops": peak_gflops, "rows": rows}
