"""IMDB sentiment: a text classifier over the reviews' token ids.

``config.data`` holds the options of :func:`~gru_lstm_jax.data.imdb.load_imdb` (``""`` for
``data_dir`` and ``cache_dir`` means TFDS's default directory and no cache); the model is the
``config.model`` head (``kind="text_classifier"``: an embedding in front of a
:class:`~gru_lstm_jax.models.SequenceClassifier`) over the vocabulary, with one logit, trained
on the ``binary_classification`` objective. After training the run folder gets
``vocabulary.json`` (read by :func:`~gru_lstm_jax.training.inference.predict_texts`) and the
test probabilities.
"""

from __future__ import annotations

import pathlib
from typing import Any

import ml_collections
from flax import nnx

from gru_lstm_jax.configs import imdb as imdb_config
from gru_lstm_jax.data.imdb import load_imdb
from gru_lstm_jax.models import build_model
from gru_lstm_jax.tasks.base import (
    Data,
    Task,
    check_options,
    register_task,
    write_test_probabilities,
)
from gru_lstm_jax.tasks.objectives import OBJECTIVES

__all__ = ["IMDB"]


def _load(options: dict[str, Any], key: Any) -> Data:
    check_options(load_imdb, options, "imdb")
    options["data_dir"] = options.get("data_dir") or None
    options["cache_dir"] = options.get("cache_dir") or None
    splits, vocabulary = load_imdb(key, **options)
    return Data(splits, vocabulary)


def _build(config: ml_collections.ConfigDict, data: Data, rngs: nnx.Rngs) -> nnx.Module:
    time_steps = data.splits["train"]["inputs"].shape[1]
    return build_model(config, len(data.info), 1, time_steps, rngs=rngs)


def _write_outputs(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    run.data.save(workdir / "vocabulary.json")
    return write_test_probabilities(run, params, workdir)


IMDB = register_task(
    Task(
        name="imdb",
        objective=OBJECTIVES["binary_classification"],
        load=_load,
        build=_build,
        write_outputs=_write_outputs,
        config=imdb_config.get_config,
    )
)
