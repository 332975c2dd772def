"""Worker processes and interleaved rounds: how a run schedules its measurements.

The method is in ``README.md`` beside this file ("How the speed benchmark times").
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from gru_lstm_jax.bench.options import Options
from gru_lstm_jax.bench.timing import round_order
from gru_lstm_jax.bench.workloads import WORKLOADS

WORKER_TIMEOUT_S = 1800


def run_worker_process(
    spec: dict[str, Any], timeout_s: float | None = WORKER_TIMEOUT_S
) -> dict[str, Any]:
    """Runs :func:`gru_lstm_jax.bench.worker.run_worker` in a fresh Python process.

    Args:
        spec: as for :func:`~gru_lstm_jax.bench.worker.run_worker`.
        timeout_s: the worker's time limit; ``None`` for none.

    Returns:
        The worker's result, read from the last line of its standard output.

    Raises:
        RuntimeError: if the worker fails; the message holds the end of its standard error.
    """
    command = [sys.executable, "-m", "gru_lstm_jax.bench.worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark worker {spec} failed with exit code {done.returncode}:\n"
            f"{done.stderr[-4000:]}"
        )
    return json.loads(lines[-1])


def _imports_spec(options: Options) -> dict[str, list[str]]:
    """``{"imports": [...]}`` for a training spec, or nothing when there are none."""
    return {"imports": list(options.imports)} if options.imports else {}


def _round_prefix(options: Options, index: int) -> str:
    return f"[round {index + 1}/{options.rounds}]"


def _run_peak(
    options: Options,
    run: Callable[[dict[str, Any]], dict[str, Any]],
    index: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Runs round ``index``'s peak worker and logs it: its result with ``round`` added."""
    peak = run({"kind": "peak", "size": options.peak_size, "repeats": max(options.repeats, 5)})
    prefix = _round_prefix(options, index)
    log(f"{prefix} peak {peak['size']}^2 matmul: {peak['gflops']:.1f} GFLOP/s")
    return {"round": index, **peak}


def _run_shared(
    options: Options,
    run: Callable[[dict[str, Any]], dict[str, Any]],
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """:func:`run_rounds` with ``shared_process``: one process per workload and cell."""
    peaks = [_run_peak(options, run, index, log) for index in range(options.rounds)]
    runs = []
    for name in options.workloads:
        shape = dataclasses.asdict(WORKLOADS[name])
        for cell in options.cells:
            spec = {
                "kind": "together", "impls": list(options.impls_for(cell)), "cell": cell,
                "workload": shape, "rounds": options.rounds, "warmup": options.warmup,
                "repeats": options.repeats, **_imports_spec(options),
            }  # fmt: skip
            for result in run(spec)["results"]:
                runs.append({"workload": name, "workload_shape": shape, "cell": cell, **result})
                log(
                    f"[round {result['round'] + 1}/{options.rounds}, one process] {name} {cell} "
                    f"{result['impl']}: {result['median_step_s'] * 1e3:.2f} ms/step"
                )
    return runs, peaks


def run_rounds(
    options: Options,
    run: Callable[[dict[str, Any]], dict[str, Any]] = run_worker_process,
    log: Callable[[str], None] = print,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs every worker of every round, interleaved.

    Each cell runs with the implementations that have it (:meth:`Options.impls_for`). With
    ``options.shared_process`` the peak workers run first, one per round, then one
    ``"together"`` worker per workload and cell times those implementations over all rounds.

    Args:
        options: what to run.
        run: runs one worker spec and returns its result (default: in its own process).
        log: receives one progress line per worker (per block with ``shared_process``).

    Returns:
        ``(runs, peaks)``: every training worker's result (one per round and implementation)
        with ``round``, ``workload``, ``workload_shape``, ``cell`` and ``impl`` added; every peak
        worker's result with ``round`` added.
    """
    if options.shared_process:
        return _run_shared(options, run, log)
    runs, peaks = [], []
    for index in range(options.rounds):
        prefix = _round_prefix(options, index)
        peaks.append(_run_peak(options, run, index, log))
        for name in options.workloads:
            shape = dataclasses.asdict(WORKLOADS[name])
            for cell in options.cells:
                for impl in round_order(options.impls_for(cell), index):
                    spec = {
                        "kind": "train", "impl": impl, "cell": cell, "workload": shape,
                        "warmup": options.warmup, "repeats": options.repeats,
                        **_imports_spec(options),
                    }  # fmt: skip
                    result = run(spec)
                    runs.append(
                        {"round": index, "workload": name, "workload_shape": shape,
                         "cell": cell, "impl": impl, **result}
                    )  # fmt: skip
                    log(
                        f"{prefix} {name} {cell} {impl}: {result['median_step_s'] * 1e3:.2f} "
                        f"ms/step, first step {result['compile_s']:.1f} s"
                    )
    return runs, peaks
