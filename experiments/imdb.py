"""IMDB sentiment: train and evaluate a (bidirectional) LSTM/GRU, or classify raw text with a run.

Usage (from the repository root; see ``gru_lstm_jax/configs/imdb.py`` for the variants and the
expected results)::

    python experiments/imdb.py --workdir runs/imdb --config.data.data_dir=../shared/data/tfds
    python experiments/imdb.py predict --workdir runs/imdb "A wonderful film." "Dull."

A cell of one's own: ``--config.imports=my_cells --config.model.cell=my_cell`` (the module must
be importable, e.g. with ``PYTHONPATH=.``); ``predict`` imports it again from the run's config.
"""

from __future__ import annotations

import pathlib

from absl import app, flags, logging
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.training import train_and_evaluate
from gru_lstm_jax.training.inference import predict_texts

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "imdb.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/imdb", "The run folder.")


def main(argv: list[str]) -> None:
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO
    if len(argv) > 1 and argv[1] == "predict":
        if len(argv) < 3:
            raise app.UsageError('predict needs at least one text: predict --workdir RUN "text"')
        for prediction in predict_texts(_WORKDIR.value, argv[2:]):
            print(
                f"{prediction['label']:8s} {prediction['confidence']:.3f}  "
                f"(P(positive) = {prediction['probability']:.3f})  {prediction['text']}"
            )
        return
    if len(argv) > 1:
        raise app.UsageError(f"unknown command {argv[1]!r}; the only command is 'predict'")
    results = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    final = results["final"]
    seconds_per_epoch = results["train_time_s"] / results["epochs"]
    print(
        f"{results['cell']}: test accuracy {final['test']['accuracy']:.4f} (best epoch "
        f"{results['best_epoch']}, val {final['val']['accuracy']:.4f}), "
        f"{seconds_per_epoch:.0f} s per epoch -> {_WORKDIR.value}"
    )


if __name__ == "__main__":
    app.run(main)
