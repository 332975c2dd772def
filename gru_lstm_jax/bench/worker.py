"""One worker's job in a fresh process: ``python -m gru_lstm_jax.bench.worker '<json spec>'``.

It prints the result as one line of JSON, the last line of its standard output.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gru_lstm_jax.bench.options import import_modules
from gru_lstm_jax.bench.timing import measure_peak, time_training, time_training_together
from gru_lstm_jax.bench.workloads import Workload


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs one worker's job in this process.

    Args:
        spec: ``{"kind": "train", "impl", "cell", "workload": {batch, time, features,
            hidden}, "warmup", "repeats"}``, ``{"kind": "together", "impls", "cell",
            "workload", "rounds", "warmup", "repeats"}``, ``{"kind": "peak", "size",
            "repeats"}`` or ``{"kind": "memory", "cell", "configuration", "sizes", "seed"}``;
            any spec may name ``"imports"``, modules imported first (a user's cells or
            implementations).

    Returns:
        The result of :func:`gru_lstm_jax.bench.timing.time_training`,
        :func:`~gru_lstm_jax.bench.timing.measure_peak` or
        :func:`gru_lstm_jax.bench.memory.measure`, or ``{"results": [...]}`` with
        :func:`~gru_lstm_jax.bench.timing.time_training_together`'s.
    """
    import_modules(spec.get("imports", ()))
    if spec["kind"] == "peak":
        return measure_peak(spec["size"], spec["repeats"])
    if spec["kind"] == "memory":
        from gru_lstm_jax.bench.memory import measure

        return measure(spec["cell"], spec["configuration"], spec["sizes"], spec["seed"])
    if spec["kind"] == "together":
        results = time_training_together(
            spec["impls"],
            spec["cell"],
            Workload(**spec["workload"]),
            rounds=spec["rounds"],
            warmup=spec["warmup"],
            repeats=spec["repeats"],
        )
        return {"results": results}
    return time_training(
        spec["impl"],
        spec["cell"],
        Workload(**spec["workload"]),
        warmup=spec["warmup"],
        repeats=spec["repeats"],
    )


if __name__ == "__main__":
    print(json.dumps(run_worker(json.loads(sys.argv[1]))))
