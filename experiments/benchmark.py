"""Training-step throughput of our LSTM and GRU beside Flax linen, Flax NNX and PyTorch.

Usage (from the repository root)::

    python experiments/benchmark.py --workdir runs/benchmark
    python experiments/benchmark.py --quick --workloads sine --cells lstm --impls ours,flax_nnx
    python experiments/benchmark.py --shared_process --rounds 5 --workdir runs/benchmark_shared
    PYTHONPATH=. python experiments/benchmark.py --quick --import my_cells --cells lstm,my_cell

Writes ``benchmark.json`` (machine, options, every worker's raw step times, the peak runs and the
summary) and ``benchmark.md`` (a table per workload and cell) into ``--workdir``. How it times,
and how a module of one's own (``--import``) adds cells or implementations:
``gru_lstm_jax/bench/README.md``.
"""

from __future__ import annotations

import pathlib

from absl import app, flags

from gru_lstm_jax.bench import available_impls, default_impls
from gru_lstm_jax.bench.impls import LIBRARY_CELLS
from gru_lstm_jax.bench.options import DEFAULTS, QUICK, make_options
from gru_lstm_jax.bench.registry import torch_available
from gru_lstm_jax.bench.report import make_report, render_markdown, write_outputs
from gru_lstm_jax.bench.runner import run_rounds
from gru_lstm_jax.bench.workloads import DEFAULT_WORKLOADS, WORKLOADS

_WORKDIR = flags.DEFINE_string("workdir", "runs/benchmark", "Folder for the outputs.")
_WORKLOADS = flags.DEFINE_list("workloads", list(DEFAULT_WORKLOADS), f"From {list(WORKLOADS)}.")
_CELLS = flags.DEFINE_list(
    "cells", list(LIBRARY_CELLS), f"Registered cells; Flax and PyTorch have {list(LIBRARY_CELLS)}."
)
_IMPORTS = flags.DEFINE_multi_string(
    "import", [], "Modules that register cells or implementations (repeatable, or a,b)."
)
_IMPLS = flags.DEFINE_list(
    "impls", None, f"From {list(available_impls())}; default {list(default_impls())} (torch's "
    "when importable).",
)  # fmt: skip
_ROUNDS = flags.DEFINE_integer("rounds", None, f"Rounds (default {DEFAULTS['rounds']}).")
_REPEATS = flags.DEFINE_integer("repeats", None, f"Timed steps per worker ({DEFAULTS['repeats']}).")
_WARMUP = flags.DEFINE_integer("warmup", None, f"Warm-up steps per worker ({DEFAULTS['warmup']}).")
_PEAK_SIZE = flags.DEFINE_integer("peak_size", None, "n of the n x n peak matmul (by device).")
_QUICK = flags.DEFINE_bool("quick", False, f"A smoke check: {QUICK} unless given explicitly.")
_SHARED_PROCESS = flags.DEFINE_bool(
    "shared_process", False, "Time all implementations of a workload and cell in one process."
)


def main(argv: list[str]) -> None:
    del argv
    try:
        options = make_options(
            torch_available=torch_available(), workloads=_WORKLOADS.value, cells=_CELLS.value,
            impls=_IMPLS.value, imports=_IMPORTS.value, rounds=_ROUNDS.value,
            repeats=_REPEATS.value, warmup=_WARMUP.value, peak_size=_PEAK_SIZE.value,
            quick=_QUICK.value, shared_process=_SHARED_PROCESS.value,
        )  # fmt: skip
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    for note in options.notes:
        print(f"note: {note}")
    runs, peaks = run_rounds(options)
    report = make_report(options, runs, peaks)
    print(render_markdown(report))
    for path in write_outputs(report, pathlib.Path(_WORKDIR.value)):
        print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
