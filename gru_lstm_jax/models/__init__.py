"""Task heads over the recurrent layers: a forecaster, a sequence classifier, attention seq2seq."""

from __future__ import annotations

from typing import Any

from flax import nnx

from gru_lstm_jax.cells import cell_option_names
from gru_lstm_jax.models.classifier import POOLINGS, SequenceClassifier
from gru_lstm_jax.models.forecaster import Forecaster, autoregressive_forecast
from gru_lstm_jax.models.seq2seq import Seq2SeqAttention
from gru_lstm_jax.models.text_classifier import TextClassifier

__all__ = [
    "POOLINGS",
    "Forecaster",
    "Seq2SeqAttention",
    "SequenceClassifier",
    "TextClassifier",
    "autoregressive_forecast",
    "build_model",
]


def build_model(
    config: Any, in_features: int, out_features: int, time_steps: int, *, rngs: nnx.Rngs
) -> nnx.Module:
    """Builds the model described by a config's ``model`` section.

    Args:
        config: ``kind`` (``"forecaster"`` or ``"classifier"``), ``cell``, ``hidden_sizes`` and
            the model's options (``dropout``, ``recurrent_dropout``; for the classifier also
            ``bidirectional``, ``pooling`` (``"last"``, ``"mean"`` or ``"attention"``),
            ``layer_dropout``), ``compute_dtype`` (``"float32"`` by default, or ``"bfloat16"``:
            mixed precision, see :class:`~gru_lstm_jax.nn.RNN`). ``chrono_init: True`` gives
            chrono initialisation (Tallec & Ollivier 2018) for dependencies over the whole
            sequence (``chrono_max_length=time_steps``) to the cells that take that option
            (LSTM, GRU); cells without gates to initialise (the tanh RNN) are unaffected.
        in_features: features per time step of the data; for ``kind="text_classifier"``
            (``Embed`` + classifier over token ids, with ``embed_dim``) the vocabulary size.
        out_features: outputs per example (values to forecast, or logits).
        time_steps: the length of the data's sequences.
        rngs: ``nnx.Rngs`` with ``params`` and ``dropout`` streams.

    Returns:
        The model.

    Raises:
        ValueError: for an unknown ``kind``, naming the config field.
    """
    options = dict(config)
    kind = options.pop("kind")
    cell = options.pop("cell")
    hidden_sizes = tuple(options.pop("hidden_sizes"))
    chrono = options.pop("chrono_init", False)
    if chrono and isinstance(cell, str) and "chrono_max_length" in cell_option_names(cell):
        options["chrono_max_length"] = max(time_steps, 3)
    if kind == "forecaster":
        return Forecaster(cell, in_features, hidden_sizes, out_features=out_features, rngs=rngs,
                          **options)  # fmt: skip
    if kind == "classifier":
        return SequenceClassifier(cell, in_features, hidden_sizes, num_outputs=out_features,
                                  rngs=rngs, **options)  # fmt: skip
    if kind == "text_classifier":
        embed_dim = options.pop("embed_dim")
        return TextClassifier(cell, in_features, embed_dim, hidden_sizes, num_outputs=out_features,
                              rngs=rngs, **options)  # fmt: skip
    raise ValueError(
        f"config.model.kind must be 'forecaster', 'classifier' or 'text_classifier'; got {kind!r}"
    )
