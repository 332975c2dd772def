"""The attention seq2seq experiment as one call: train, score exact match, write the run folder.

The seq2seq task trains with its own jitted loop (:func:`~gru_lstm_jax.models.train_seq2seq`,
teacher forcing over a whole target sequence), so it does not go through
:func:`~gru_lstm_jax.training.train_and_evaluate`; its ``results.json`` carries the same summary
fields (``cell``, ``task``, ``metric``, ``final``, ``num_params``, ``steps_per_s``, ...) so that
studies can read every task's run folder alike.
"""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from gru_lstm_jax.data import EOS_ID, FIRST_DIGIT_ID, make_reverse_data, reverse_vocab_size
from gru_lstm_jax.models.seq2seq import Seq2SeqAttention, exact_match, train_seq2seq
from gru_lstm_jax.nn import count_params
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.optimizers import check_clip_norm, check_learning_rate
from gru_lstm_jax.training.user_cells import check_cell_names, import_cell_modules

__all__ = ["plot_attention_heatmaps", "train_and_evaluate_seq2seq"]

# One line of metrics.jsonl per this many optimizer steps (the mean loss over them).
_LOG_EVERY_STEPS = 50


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
        split: a split of :func:`~gru_lstm_jax.data.make_reverse_data` (``source`` ``(N, S)``,
            ``source_lengths`` ``(N,)``, ``target_out`` ``(N, T)``, ...).
        path: the PNG to write.
        count: how many sequences, one panel each (target steps down, source digits across).

    Returns:
        ``path`` as a :class:`pathlib.Path`.
    """
    path = pathlib.Path(path)
    max_length = split["target_out"].shape[1]
    tokens, weights = model.greedy_decode(
        split["source"][:count], split["source_lengths"][:count], max_length
    )
    tokens, weights = np.asarray(tokens), np.asarray(weights)
    figure = Figure(figsize=(4 * count, 4.5), layout="constrained")
    for index in range(count):
        axes = figure.add_subplot(1, count, index + 1)
        source_length = int(split["source_lengths"][index])
        eos = np.flatnonzero(tokens[index] == EOS_ID)
        decoded = int(eos[0]) + 1 if eos.size else max_length
        image = axes.imshow(
            weights[index, :decoded, :source_length], vmin=0.0, vmax=1.0, cmap="viridis"
        )
        axes.set_xticks(range(source_length))
        axes.set_xticklabels([_token_text(t) for t in split["source"][index, :source_length]])
        axes.set_yticks(range(decoded))
        axes.set_yticklabels([_token_text(t) for t in tokens[index, :decoded]])
        axes.set_xlabel("source digit")
        axes.set_ylabel("predicted token")
        axes.set_title(f"test example {index}")
    figure.colorbar(image, ax=figure.axes, shrink=0.8, label="attention weight")
    figure.savefig(path, dpi=120)
    return path


def _learning_rate(training: ml_collections.ConfigDict) -> float | optax.Schedule:
    check_learning_rate(training.learning_rate, "config.training.learning_rate")
    check_clip_norm(training.clip_norm, "config.training.clip_norm")
    if training.schedule == "cosine":
        return optax.cosine_decay_schedule(training.learning_rate, training.steps)
    if training.schedule == "constant":
        return training.learning_rate
    raise ValueError(
        f"config.training.schedule must be 'constant' or 'cosine'; got {training.schedule!r}"
    )


def train_and_evaluate_seq2seq(
    config: ml_collections.ConfigDict, workdir: str | os.PathLike
) -> dict[str, Any]:
    """Trains the attention seq2seq model of ``config`` and writes its run folder.

    A folder that already holds ``results.json`` for the same config is a finished run: its
    results are returned without training again. The modules named in ``config.imports`` are
    imported first, so that ``config.model.cell`` can be a cell they register.

    Writes ``config.json``, ``metrics.jsonl`` (the mean training loss of every 50 steps),
    ``attention_heatmaps.png`` (four test examples) and, last, ``results.json`` with
    ``exact_match`` ``{"val", "test"}``, ``final`` ``{split: {"exact_match": v}}``,
    ``num_params``, ``steps``, ``steps_per_s`` (optimizer steps per second over the whole
    training loop, compilation included), ``wall_time_s`` (the whole call) and
    ``final_train_loss``.

    Args:
        config: a seq2seq config (``gru_lstm_jax/configs/seq2seq.py``).
        workdir: the run folder.

    Returns:
        The contents of ``results.json``.

    Raises:
        ValueError: for a bad config (a module of ``config.imports`` that cannot be imported,
            an unknown cell, ...), an unwritable workdir, or a workdir holding a run with a
            different config; before any file is written.
    """
    start = time.perf_counter()
    import_cell_modules(config.get("imports", ()))
    if isinstance(config.model.cell, str):
        check_cell_names([config.model.cell], "config.model.cell")
    path = run_folder.check_writable(workdir)
    learning_rate = _learning_rate(config.training)
    settings = run_folder.check_same_config(path, config)
    if (path / "results.json").exists():
        return run_folder.read_json(path / "results.json")
    data_key, init_key = jax.random.split(jax.random.key(config.seed))
    data = make_reverse_data(data_key, **config.data)
    vocab = reverse_vocab_size(config.data.num_digits)
    model = Seq2SeqAttention(vocab, vocab, rngs=nnx.Rngs(params=init_key), **config.model)
    training = config.training
    train_start = time.perf_counter()
    losses = train_seq2seq(
        model,
        data["train"],
        steps=training.steps,
        batch_size=training.batch_size,
        learning_rate=learning_rate,
        seed=config.seed,
        clip_norm=training.clip_norm,
    )
    train_seconds = time.perf_counter() - train_start
    val = exact_match(model, data["val"], training.eval_batch_size)
    test = exact_match(model, data["test"], training.eval_batch_size)
    path.mkdir(parents=True, exist_ok=True)
    run_folder.write_json(path / "config.json", settings)
    records = [
        {"step": first + len(chunk), "train_loss": float(np.mean(chunk))}
        for first in range(0, len(losses), _LOG_EVERY_STEPS)
        for chunk in [losses[first : first + _LOG_EVERY_STEPS]]
    ]
    run_folder.write_metrics(path, records)
    plot_attention_heatmaps(model, data["test"], path / "attention_heatmaps.png")
    results = {
        "cell": config.model.cell,
        "task": "seq2seq",
        "metric": "exact_match",
        "exact_match": {"val": val, "test": test},
        "final": {"val": {"exact_match": val}, "test": {"exact_match": test}},
        "num_params": count_params(model),
        "steps": training.steps,
        "steps_per_s": training.steps / train_seconds,
        "train_time_s": train_seconds,
        "wall_time_s": time.perf_counter() - start,
        "final_train_loss": losses[-1],
    }
    # Written last, so a run folder with results.json is a finished run.
    run_folder.write_json(path / "results.json", results)
    return results
