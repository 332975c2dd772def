r"""The variants study: Greff et al.'s eight LSTM variants against V, and minGRU/minLSTM.

Usage (from the repository root)::

    python experiments/variants.py --workdir runs/variants
    python experiments/variants.py --workdir runs/variants_quick --mode quick --seeds 0,1
    python experiments/variants.py --workdir runs/variants_smoke --mode smoke

Every variant (``--variants``, default all nine) trains on XOR at L = 100, the adding problem,
temporal order and sine forecasting (``--tasks``); minGRU, minLSTM, GRU and the LSTM (``NP``)
on XOR at L = 100, the adding problem and IMDB (``--min_tasks``; IMDB only when
``imdb_reviews`` is prepared in ``--imdb_data_dir``, with ``--imdb_seeds``). Writes
``study.json``, ``report.md`` (tables, Welch t-tests against V, Greff et al.'s findings checked)
and a figure per task to ``--workdir``; running the same command again resumes. See
:mod:`gru_lstm_jax.studies.variants`.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging

from gru_lstm_jax.cells import LSTM_VARIANTS
from gru_lstm_jax.data.imdb import imdb_is_prepared
from gru_lstm_jax.studies.runs import MODES
from gru_lstm_jax.studies.variants import MIN_CELLS, MIN_TASKS, VARIANT_TASKS, run_variants_study

_SHARED_TFDS = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tfds"

_WORKDIR = flags.DEFINE_string("workdir", "runs/variants", "The study's folder.")
_MODE = flags.DEFINE_enum("mode", "full", list(MODES), "Every task's config: full, quick, smoke.")
_VARIANTS = flags.DEFINE_list("variants", list(LSTM_VARIANTS), "Greff et al.'s variants.")
_TASKS = flags.DEFINE_list("tasks", list(VARIANT_TASKS), "Tasks of the variants.")
_MIN_CELLS = flags.DEFINE_list("min_cells", list(MIN_CELLS), "Cells of the second part.")
_MIN_TASKS = flags.DEFINE_list("min_tasks", list(MIN_TASKS), "Tasks of the second part.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of every run.")
_IMDB_SEEDS = flags.DEFINE_list("imdb_seeds", ["0"], "Seeds of the IMDB runs.")
_XOR_LENGTH = flags.DEFINE_integer("xor_length", 100, "XOR's sequence length L.")
_IMDB_DATA_DIR = flags.DEFINE_string(
    "imdb_data_dir",
    str(_SHARED_TFDS) if _SHARED_TFDS.exists() else "",
    "TFDS data directory of imdb_reviews ('' = TFDS's default); IMDB is left out if absent.",
)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    min_tasks, notes, overrides, task_seeds = list(_MIN_TASKS.value), [], {}, {}
    if "imdb" in min_tasks:
        data_dir = _IMDB_DATA_DIR.value or None
        if imdb_is_prepared(data_dir):
            overrides["imdb"] = {"data.data_dir": data_dir or ""}
            task_seeds["imdb"] = [int(s) for s in _IMDB_SEEDS.value]
        else:
            min_tasks.remove("imdb")
            notes.append(f"IMDB left out: imdb_reviews is not prepared in {data_dir!r}.")
            print(notes[-1])
    tasks = set(_TASKS.value) | set(min_tasks)
    study = run_variants_study(
        _WORKDIR.value,
        variants=_VARIANTS.value,
        tasks=_TASKS.value,
        min_cells=_MIN_CELLS.value,
        min_tasks=min_tasks,
        seeds=[int(s) for s in _SEEDS.value],
        task_seeds=task_seeds,
        mode=_MODE.value,
        lengths={"xor": [_XOR_LENGTH.value]} if "xor" in tasks else {},
        overrides=overrides,
        notes=notes,
    )
    report = pathlib.Path(_WORKDIR.value) / "report.md"
    print(f"variants study: {study['wall_time_s'] / 60:.1f} min -> {report}")


if __name__ == "__main__":
    app.run(main)
