"""Attention seq2seq on the digit-reversal task (teacher forcing in training, greedy decoding).

``config.data`` holds the options of :func:`~gru_lstm_jax.data.make_reverse_data`; the model
is a :class:`~gru_lstm_jax.models.Seq2SeqAttention` with ``config.model`` as its keyword
arguments (``cell``, ``embed_dim``, ``encoder_hidden``, ``decoder_hidden``,
``attention_features``, cell options). The objective is ``sequence``: the cross-entropy of
every valid target token under teacher forcing, and the exact match of the whole output up to
and including EOS. In training the tokens are the argmax of the teacher-forced logits; in
evaluation they come from greedy decoding, each step fed the previous step's argmax.

A split holds ``"inputs"`` (the source ids ``(N, S)``), ``"lengths"`` ``(N,)``,
``"decoder_inputs"`` (BOS then the target, ``(N, T)``), ``"targets"`` (the target then EOS,
``(N, T)``) and ``"target_lengths"`` ``(N,)``. After training the run folder gets
``predictions.npz`` (the greedy test tokens and the targets) and ``attention_heatmaps.png``.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx
from matplotlib.figure import Figure

from gru_lstm_jax.configs import seq2seq as seq2seq_config
from gru_lstm_jax.data.seq2seq import EOS_ID, FIRST_DIGIT_ID, make_reverse_data, reverse_vocab_size
from gru_lstm_jax.models.seq2seq import Seq2SeqAttention
from gru_lstm_jax.tasks.base import Batch, Data, Task, check_options, register_task
from gru_lstm_jax.tasks.objectives import OBJECTIVES

__all__ = ["SEQ2SEQ", "plot_attention_heatmaps"]

_FIELDS = {
    "source": "inputs",
    "source_lengths": "lengths",
    "target_in": "decoder_inputs",
    "target_out": "targets",
    "target_lengths": "target_lengths",
}


def _load(options: dict[str, Any], key: Any) -> Data:
    check_options(make_reverse_data, options, "seq2seq")
    splits = make_reverse_data(key, **options)
    renamed = {
        name: {_FIELDS[field]: array for field, array in split.items()}
        for name, split in splits.items()
    }
    return Data(renamed, reverse_vocab_size(options.get("num_digits", 10)))


def _build(config: ml_collections.ConfigDict, data: Data, rngs: nnx.Rngs) -> nnx.Module:
    return Seq2SeqAttention(data.info, data.info, rngs=rngs, **config)


def _forward(model: Seq2SeqAttention, batch: Batch, training: bool) -> dict[str, jnp.ndarray]:
    logits, _ = model(batch["inputs"], batch["lengths"], batch["decoder_inputs"])
    if training:
        tokens = jnp.argmax(logits, axis=-1).astype(jnp.int32)
    else:
        tokens, _ = model.greedy_decode(batch["inputs"], batch["lengths"], logits.shape[1])
    return {"logits": logits, "tokens": tokens}


def _token_text(token: int) -> str:
    return "EOS" if token == EOS_ID else str(token - FIRST_DIGIT_ID)


def plot_attention_heatmaps(
    model: Seq2SeqAttention,
    split: dict[str, np.ndarray],
    path: str | os.PathLike,
    count: int = 4,
) -> pathlib.Path:
    """Draws the greedy decoder's attention weights for the first ``count`` sequences.

    Args:
        model: a trained :class:`~gru_lstm_jax.models.Seq2SeqAttention`.
        split: a split of this task (``inputs`` ``(N, S)``, ``lengths`` ``(N,)``, ``targets``
            ``(N, T)``, ...).
        path: the PNG to write.
        count: how many sequences, one panel each (target steps down, source digits across).

    Returns:
        ``path`` as a :class:`pathlib.Path`.
    """
    path = pathlib.Path(path)
    max_length = split["targets"].shape[1]
    tokens, weights = model.greedy_decode(
        split["inputs"][:count], split["lengths"][:count], max_length
    )
    tokens, weights = np.asarray(tokens), np.asarray(weights)
    figure = Figure(figsize=(4 * count, 4.5), layout="constrained")
    for index in range(count):
        axes = figure.add_subplot(1, count, index + 1)
        source_length = int(split["lengths"][index])
        eos = np.flatnonzero(tokens[index] == EOS_ID)
        decoded = int(eos[0]) + 1 if eos.size else max_length
        image = axes.imshow(
            weights[index, :decoded, :source_length], vmin=0.0, vmax=1.0, cmap="viridis"
        )
        axes.set_xticks(range(source_length))
        axes.set_xticklabels([_token_text(t) for t in split["inputs"][index, :source_length]])
        axes.set_yticks(range(decoded))
        axes.set_yticklabels([_token_text(t) for t in tokens[index, :decoded]])
        axes.set_xlabel("source digit")
        axes.set_ylabel("predicted token")
        axes.set_title(f"test example {index}")
    figure.colorbar(image, ax=figure.axes, shrink=0.8, label="attention weight")
    figure.savefig(path, dpi=120)
    return path


def _write_outputs(run: Any, params: Any, workdir: pathlib.Path) -> dict[str, Any]:
    test = run.splits["test"]
    tokens = run.predict_split(params, test)["tokens"]
    np.savez(workdir / "predictions.npz", test_tokens=tokens, test_target=test["targets"])
    plot_attention_heatmaps(run.steps.model_with(params), test, workdir / "attention_heatmaps.png")
    return {}


SEQ2SEQ = register_task(
    Task(
        name="seq2seq",
        objective=OBJECTIVES["sequence"],
        load=_load,
        build=_build,
        forward=_forward,
        write_outputs=_write_outputs,
        config=seq2seq_config.get_config,
    )
)
