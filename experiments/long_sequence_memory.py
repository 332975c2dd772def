"""Peak memory of one training step on a long sequence, with and without ``remat``.

Usage (from the repository root)::

    python experiments/long_sequence_memory.py --workdir runs/memory
    python experiments/long_sequence_memory.py --cells lstm --time_steps 100 --hidden_size 16
    PYTHONPATH=. python experiments/long_sequence_memory.py --import my_cells --cells my_cell

Each cell and configuration (``none``, ``remat``) runs in a fresh process; it writes
``memory.json`` and ``memory.md`` to ``--workdir`` and prints the table. What is measured, and
what the default size costs: :mod:`gru_lstm_jax.bench.memory`, ``gru_lstm_jax/bench/README.md``.
"""

from __future__ import annotations

import functools
import pathlib

from absl import app, flags, logging

from gru_lstm_jax.bench.memory import CONFIGURATIONS, measure_all, render_memory, write_memory

_WORKDIR = flags.DEFINE_string("workdir", "runs/memory", "Folder for the results.")
_CELLS = flags.DEFINE_list("cells", ["lstm", "gru"], "Registered cells to measure.")
_IMPORTS = flags.DEFINE_multi_string(
    "import", [], "Modules that register cells of one's own (repeatable, or a,b)."
)
_CONFIGURATIONS = flags.DEFINE_list(
    "configurations", list(CONFIGURATIONS), f"Among {list(CONFIGURATIONS)}."
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 16, "B")
_TIME_STEPS = flags.DEFINE_integer("time_steps", 10_000, "T")
_INPUT_SIZE = flags.DEFINE_integer("input_size", 32, "I")
_HIDDEN_SIZE = flags.DEFINE_integer("hidden_size", 256, "H")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the parameters and the batch.")


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # JAX logs at INFO which backends it could not start
    sizes = {
        "batch_size": _BATCH_SIZE.value,
        "time_steps": _TIME_STEPS.value,
        "input_size": _INPUT_SIZE.value,
        "hidden_size": _HIDDEN_SIZE.value,
    }
    try:
        report = measure_all(
            _CELLS.value, _CONFIGURATIONS.value, sizes, seed=_SEED.value,
            imports=_IMPORTS.value, log=functools.partial(print, flush=True),
        )  # fmt: skip
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    paths = write_memory(report, pathlib.Path(_WORKDIR.value))
    print(render_memory(report), end="")
    print(f"written: {', '.join(map(str, paths))}")


if __name__ == "__main__":
    app.run(main)
