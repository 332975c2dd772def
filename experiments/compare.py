"""The LSTM-vs-GRU study: every cell on every task with several seeds, and a generated report.

Usage (from the repository root)::

    python experiments/compare.py --quick --workdir runs/compare_quick
    python experiments/compare.py --workdir runs/compare --imdb_data_dir=../shared/data/tfds
    python experiments/compare.py --quick --cells lstm,gru,gru_reset_before --seeds 0,1,2
    PYTHONPATH=. python experiments/compare.py --quick --import my_cells --cells lstm,my_cell

Writes ``study.json``, ``report.md`` and the figures (learning curves with seed bands, test
metric against parameter count, gradient flow) to ``--workdir``, and one run folder per
(task, cell, seed) under ``--workdir/runs``. Running the same command again resumes the study:
finished runs are read back. ``--import`` (repeated, or comma-separated) names modules that
register cells of one's own; they are imported before ``--cells`` is checked, and every run's
``config.imports`` names them. See :mod:`gru_lstm_jax.analysis.compare`.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging

from gru_lstm_jax.analysis.compare import TASK_FAMILIES, run_study

_SHARED_TFDS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tfds"

_WORKDIR = flags.DEFINE_string("workdir", "runs/compare", "The study's folder.")
_QUICK = flags.DEFINE_bool("quick", False, "Shortened settings: minutes on a 2-core CPU.")
_CELLS = flags.DEFINE_list("cells", ["lstm", "gru", "rnn"], "Registered cells to compare.")
_IMPORTS = flags.DEFINE_multi_string(
    "import", [], "Modules that register cells of one's own (repeatable, or comma-separated)."
)
_SEEDS = flags.DEFINE_list("seeds", None, "Seeds (default: 0,1 with --quick, else 0,1,2).")
_TASKS = flags.DEFINE_list("tasks", list(TASK_FAMILIES), "Task families.")
_XOR_LENGTHS = flags.DEFINE_list(
    "xor_lengths", None, "XOR lengths (default: 20,50 with --quick, else 20,50,100)."
)
_IMDB_DATA_DIR = flags.DEFINE_string(
    "imdb_data_dir",
    str(_SHARED_TFDS) if _SHARED_TFDS.exists() else "",
    "TFDS data directory of imdb_reviews ('' = TFDS's default); IMDB is left out if absent.",
)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    quick = _QUICK.value
    seeds = _SEEDS.value or (["0", "1"] if quick else ["0", "1", "2"])
    lengths = _XOR_LENGTHS.value or (["20", "50"] if quick else ["20", "50", "100"])
    study = run_study(
        _WORKDIR.value,
        cells=_CELLS.value,
        seeds=[int(s) for s in seeds],
        mode="quick" if quick else "full",
        tasks=_TASKS.value,
        xor_lengths=[int(n) for n in lengths],
        imdb_data_dir=_IMDB_DATA_DIR.value or None,
        imports=_IMPORTS.value,
    )
    report = pathlib.Path(_WORKDIR.value) / "report.md"
    print(f"study: {study['wall_time_s'] / 60:.1f} min -> {report}")


if __name__ == "__main__":
    app.run(main)
