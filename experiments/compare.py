r"""The LSTM-vs-GRU study: every cell on every task with several seeds, and a generated report.

Usage (from the repository root)::

    python experiments/compare.py --quick --workdir runs/compare_quick
    python experiments/compare.py --workdir runs/compare --imdb_data_dir=../shared/data/tfds
    python experiments/compare.py --quick --cells lstm,gru,gru_reset_before --seeds 0,1,2
    python experiments/compare.py --quick --tasks xor,temporal_order \
        --lengths xor:20,50,100 --lengths temporal_order:50,100
    PYTHONPATH=. python experiments/compare.py --quick --import my_cells --cells lstm,my_cell
    PYTHONPATH=. python experiments/compare.py --quick --import my_task --tasks sine,my_task

Writes ``study.json``, ``report.md`` and the figures (validation-loss curves with seed bands, test
metric against parameter count, gradient flow) to ``--workdir``, and one run folder per
(task, cell, seed) under ``--workdir/runs``. Running the same command again resumes the study:
finished runs are read back.

``--tasks`` names registered tasks that have a config; each runs its config's ``quick`` variant
with ``--quick``, else its full config, and is scored by its objective's metric. ``--lengths
TASK:L1,L2`` sweeps a task over ``config.data.length`` (default, when ``xor`` is among the
tasks: ``xor:20,50`` with ``--quick``, else ``xor:20,50,100``). IMDB runs only when
``imdb_reviews`` is prepared in ``--imdb_data_dir``; otherwise it is left out with a note in the
report. ``--import`` (repeated, or comma-separated) names modules that register cells or tasks
of one's own; they are imported before ``--cells`` and ``--tasks`` are looked up, and every
run's ``config.imports`` names them. See :mod:`gru_lstm_jax.studies.compare`.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging

from gru_lstm_jax.data.imdb import imdb_is_prepared
from gru_lstm_jax.studies.compare import run_study

_SHARED_TFDS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tfds"

_WORKDIR = flags.DEFINE_string("workdir", "runs/compare", "The study's folder.")
_QUICK = flags.DEFINE_bool("quick", False, "Shortened settings: minutes on a 2-core CPU.")
_CELLS = flags.DEFINE_list(
    "cells", None, "Registered cells (default: lstm,gru with --quick, else lstm,gru,rnn)."
)
_IMPORTS = flags.DEFINE_multi_string(
    "import", [], "Modules that register cells or tasks of one's own (repeatable, or a,b)."
)
_SEEDS = flags.DEFINE_list("seeds", None, "Seeds (default: 0,1 with --quick, else 0,1,2).")
_TASKS = flags.DEFINE_list(
    "tasks", ["sine", "xor", "imdb", "seq2seq"], "Registered tasks, in study order."
)
_LENGTHS = flags.DEFINE_multi_string(
    "lengths",
    [],
    "TASK:L1,L2,... sweeps TASK over config.data.length (repeatable; default with xor among "
    "the tasks: xor:20,50 with --quick, else xor:20,50,100).",
)
_IMDB_DATA_DIR = flags.DEFINE_string(
    "imdb_data_dir",
    str(_SHARED_TFDS) if _SHARED_TFDS.exists() else "",
    "TFDS data directory of imdb_reviews ('' = TFDS's default); IMDB is left out if absent.",
)


def _parse_lengths(values: list[str]) -> dict[str, list[int]]:
    lengths = {}
    for value in values:
        task, _, numbers = value.partition(":")
        try:
            lengths[task.strip()] = [int(n) for n in numbers.split(",")]
        except ValueError:
            raise app.UsageError(f"--lengths must be TASK:L1,L2,...; got {value!r}") from None
        if not task.strip():
            raise app.UsageError(f"--lengths must be TASK:L1,L2,...; got {value!r}")
    return lengths


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    quick = _QUICK.value
    seeds = _SEEDS.value or (["0", "1"] if quick else ["0", "1", "2"])
    tasks = list(_TASKS.value)
    lengths = _parse_lengths(_LENGTHS.value)
    if not _LENGTHS.value and "xor" in tasks:
        lengths = {"xor": [20, 50] if quick else [20, 50, 100]}
    overrides, notes = {}, []
    if "imdb" in tasks:
        data_dir = _IMDB_DATA_DIR.value or None
        if imdb_is_prepared(data_dir):
            overrides["imdb"] = {"data.data_dir": data_dir or ""}
        else:
            tasks.remove("imdb")
            notes.append(
                f"IMDB left out: imdb_reviews is not prepared in data_dir={data_dir!r} "
                "(in this project: --imdb_data_dir=../shared/data/tfds)."
            )
            print(notes[-1])
    study = run_study(
        _WORKDIR.value,
        cells=_CELLS.value or (["lstm", "gru"] if quick else ["lstm", "gru", "rnn"]),
        seeds=[int(s) for s in seeds],
        mode="quick" if quick else "full",
        tasks=tasks,
        lengths=lengths,
        overrides=overrides,
        notes=notes,
        imports=_IMPORTS.value,
    )
    report = (pathlib.Path(_WORKDIR.value) / "report.md").resolve()
    print(f"study: {study['wall_time_s'] / 60:.1f} min; report and figures in {report.parent}")
    print(f"report: {report}")


if __name__ == "__main__":
    app.run(main)
