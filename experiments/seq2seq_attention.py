"""Attention seq2seq on the digit-reversal task, with attention heatmaps of test examples.

Usage (from the repository root; see ``gru_lstm_jax/configs/seq2seq.py`` for the expected
result)::

    python experiments/seq2seq_attention.py --workdir runs/seq2seq

Writes to ``--workdir``: ``config.json``, ``results.json`` (exact match on validation and test,
steps, seconds, final training loss) and ``attention_heatmaps.png`` (four test examples: the
attention weights of each decoded token, target steps down, source digits across).
"""

from __future__ import annotations

import pathlib
import time

import jax
import numpy as np
import optax
from absl import app, flags
from flax import nnx
from matplotlib.figure import Figure
from ml_collections import config_flags

from gru_lstm_jax import configs
from gru_lstm_jax.data import EOS_ID, FIRST_DIGIT_ID, make_reverse_data, reverse_vocab_size
from gru_lstm_jax.models.seq2seq import Seq2SeqAttention, exact_match, train_seq2seq
from gru_lstm_jax.training import run_folder

_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).parent / "seq2seq.py"), "Experiment config."
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/seq2seq", "The run folder.")


def _token_text(token: int) -> str:
    return "EOS" if token == EOS_ID else str(token - FIRST_DIGIT_ID)


def plot_attention_heatmaps(
    model: Seq2SeqAttention, split: dict[str, np.ndarray], path: pathlib.Path, count: int = 4
) -> pathlib.Path:
    """Draws the greedy decoder's attention weights for the first ``count`` sequences."""
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


def main(argv: list[str]) -> None:
    del argv
    config = _CONFIG.value
    workdir = run_folder.check_writable(_WORKDIR.value)
    start = time.perf_counter()
    data_key, init_key = jax.random.split(jax.random.key(config.seed))
    data = make_reverse_data(data_key, **config.data)
    vocab = reverse_vocab_size(config.data.num_digits)
    model = Seq2SeqAttention(vocab, vocab, rngs=nnx.Rngs(params=init_key), **config.model)
    training = config.training
    learning_rate = training.learning_rate
    if training.schedule == "cosine":
        learning_rate = optax.cosine_decay_schedule(learning_rate, training.steps)
    elif training.schedule != "constant":
        raise ValueError(
            f"config.training.schedule must be 'constant' or 'cosine'; got {training.schedule!r}"
        )
    losses = train_seq2seq(
        model,
        data["train"],
        steps=config.training.steps,
        batch_size=config.training.batch_size,
        learning_rate=learning_rate,
        seed=config.seed,
        clip_norm=config.training.clip_norm,
    )
    eval_batch = config.training.eval_batch_size
    val = exact_match(model, data["val"], eval_batch)
    test = exact_match(model, data["test"], eval_batch)
    seconds = time.perf_counter() - start
    workdir.mkdir(parents=True, exist_ok=True)
    run_folder.write_json(workdir / "config.json", config.to_dict())
    plot_attention_heatmaps(model, data["test"], workdir / "attention_heatmaps.png")
    results = {
        "exact_match": {"val": val, "test": test},
        "steps": config.training.steps,
        "seconds": seconds,
        "final_train_loss": losses[-1],
    }
    # Written last, so a run folder with results.json is a finished run.
    run_folder.write_json(workdir / "results.json", results)
    print(f"exact match: val {val:.4f}, test {test:.4f} "
          f"({config.training.steps} steps, {seconds:.0f} s) -> {workdir}")  # fmt: skip


if __name__ == "__main__":
    app.run(main)
