"""Attention seq2seq on the digit-reversal task, with attention heatmaps of test examples.

Usage (from the repository root; see ``gru_lstm_jax/configs/seq2seq.py`` for the expected
result)::

    python experiments/seq2seq_attention.py --workdir runs/seq2seq

Writes to ``--workdir``: ``config.json``, ``metrics.jsonl`` (training loss), ``results.json``
(exact match on validation and test, parameters, steps, seconds) and ``attention_heatmaps.png``
(four test examples: the attention weights of each decoded token, target steps down, source
digits across).

A cell of one's own: ``--config.imports=my_cells --config.model.cell=my_cell`` (the module must
be importable, e.g. with ``PYTHONPATH=.``).
"""

from __future__ import annotations

import pathlib

from absl import app, flags
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.training.seq2seq import train_and_evaluate_seq2seq

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "seq2seq.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/seq2seq", "The run folder.")


def main(argv: list[str]) -> None:
    del argv
    results = train_and_evaluate_seq2seq(_CONFIG.value, _WORKDIR.value)
    match = results["exact_match"]
    print(
        f"exact match: val {match['val']:.4f}, test {match['test']:.4f} "
        f"({results['steps']} steps, {results['wall_time_s']:.0f} s) -> {_WORKDIR.value}"
    )


if __name__ == "__main__":
    app.run(main)
