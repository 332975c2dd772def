"""Attention seq2seq on the digit-reversal task, with attention heatmaps of test examples.

Usage (from the repository root; see ``gru_lstm_jax/configs/seq2seq.py`` for the expected
result)::

    python experiments/seq2seq_attention.py --workdir runs/seq2seq

Writes the run folder of :func:`~gru_lstm_jax.training.train_and_evaluate` to ``--workdir``
(``config.json``, ``metrics.jsonl``, checkpoints, ``results.json`` with the exact match of every
split) and ``attention_heatmaps.png`` (four test examples: the attention weights of each decoded
token, target steps down, source digits across). Run it again to resume an interrupted run.

A cell of one's own: ``--config.imports=my_cells --config.model.cell=my_cell`` (the module must
be importable, e.g. with ``PYTHONPATH=.``).
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.training import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "seq2seq.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/seq2seq", "The run folder.")


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    results = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    final = results["final"]
    print(
        f"exact match: val {final['val']['exact_match']:.4f}, test "
        f"{final['test']['exact_match']:.4f} ({results['steps']} steps, "
        f"{results['wall_time_s']:.0f} s) -> {_WORKDIR.value}"
    )


if __name__ == "__main__":
    app.run(main)
