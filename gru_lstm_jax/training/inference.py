"""Predictions from a finished text-classification run folder on raw text."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from gru_lstm_jax.data.imdb import Vocabulary, encode_texts, tokenize
from gru_lstm_jax.models import build_model
from gru_lstm_jax.training import run_folder
from gru_lstm_jax.training.optimizers import make_optimizer
from gru_lstm_jax.training.steps import TrainState
from gru_lstm_jax.training.user_cells import import_cell_modules

__all__ = ["load_text_classifier", "predict_texts"]


def load_text_classifier(workdir: str | os.PathLike) -> tuple[nnx.Module, Vocabulary, Any]:
    """The tested checkpoint of a finished text run, in evaluation mode, without its dataset.

    The modules that the run's config names in ``imports`` are imported first (a user's cell).

    Args:
        workdir: a run folder with ``config.json``, ``vocabulary.json``, ``results.json`` and
            ``checkpoints/best``.

    Returns:
        ``(model, vocabulary, config)``.

    Raises:
        FileNotFoundError: if the folder holds no finished text-classification run.
        ValueError: if a module of the config's ``imports`` cannot be imported.
    """
    path = pathlib.Path(workdir).expanduser().absolute()
    for name in ("results.json", "vocabulary.json", "config.json"):
        if not (path / name).exists():
            raise FileNotFoundError(f"{str(path)!r} holds no finished text run (no {name})")
    config = ml_collections.ConfigDict(run_folder.read_json(path / "config.json"))
    import_cell_modules(config.get("imports", ()))
    vocabulary = Vocabulary.load(path / "vocabulary.json")
    model = build_model(
        config.model, len(vocabulary), 1, config.data.maxlen, rngs=nnx.Rngs(params=0, dropout=0)
    )
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    optimizer = make_optimizer(config.optimizer, 1)
    target = TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params))
    last, best = run_folder.checkpoint_managers(path, config.training.checkpoints_to_keep)
    manager, epoch = run_folder.tested_checkpoint(config.training, last, best)
    state = run_folder.restore_state(manager, target, epoch)
    model = nnx.merge(graphdef, state.params, rest)
    return nnx.view(model, deterministic=True, raise_if_not_found=False), vocabulary, config


def predict_texts(
    workdir: str | os.PathLike, texts: str | bytes | Sequence[str | bytes]
) -> list[dict]:
    """Classifies raw reviews with a finished IMDB run.

    The texts go through the run's own pipeline: the same cleaning, tokenizer, vocabulary and
    ``maxlen``.

    Args:
        workdir: the run folder.
        texts: raw texts (``str`` or UTF-8 ``bytes``); a single ``str`` or ``bytes`` is one
            text, not a sequence of characters.

    Returns:
        One ``{"text", "label", "probability", "confidence"}`` per text, in order (an empty
        list for no texts, without loading the run): ``probability`` is ``P(positive)`` in
        ``[0, 1]``, ``label`` is ``"positive"`` when it is at least 0.5, and ``confidence`` is
        the probability of the chosen label.

    Raises:
        ValueError: if a text is not a ``str`` or ``bytes``, or has no word after tokenisation
            (``""``, ``"<br />"``, only punctuation): there is nothing to classify. The message
            names its index.
    """
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, (str, bytes)):
            raise ValueError(f"texts[{index}] must be a str or bytes; got {type(text).__name__}")
        if not tokenize(text):
            raise ValueError(
                f"texts[{index}] has no word after tokenisation ({text!r}); there is nothing "
                "to classify"
            )
    if not texts:
        return []
    model, vocabulary, config = load_text_classifier(workdir)
    ids, lengths = encode_texts(texts, vocabulary, config.data.maxlen, keep=config.data.keep)
    logits = jax.jit(lambda ids, lengths: model(ids, lengths=lengths))(ids, lengths)
    probabilities = np.asarray(jax.nn.sigmoid(logits[:, 0]), np.float64)
    return [
        {
            "text": text if isinstance(text, str) else text.decode("utf-8", errors="replace"),
            "label": "positive" if p >= 0.5 else "negative",
            "probability": float(p),
            "confidence": float(max(p, 1.0 - p)),
        }
        for text, p in zip(texts, probabilities, strict=True)
    ]
