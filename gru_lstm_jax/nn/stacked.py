"""A stack of recurrent layers (optionally bidirectional) with dropout between layers."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import jax
from flax import nnx

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.checks import check_bool, check_positive_int, check_rate
from gru_lstm_jax.nn.bidirectional import Bidirectional
from gru_lstm_jax.nn.rnn import RNN

__all__ = ["StackedRNN"]


class StackedRNN(nnx.Module):
    """``num_layers`` recurrent layers, each reading the full output sequence of the previous.

    Like PyTorch's ``nn.LSTM(num_layers=k, bidirectional=..., dropout=p)``: with
    ``bidirectional`` each layer is a :class:`~gru_lstm_jax.nn.Bidirectional` whose merged output
    feeds the next layer, and ``layer_dropout`` drops the outputs of every layer but the last.

    Example:
        >>> stack = StackedRNN("gru", 128, 64, num_layers=2, bidirectional=True,
        ...                    rngs=nnx.Rngs(0))
        >>> stack(jnp.zeros((4, 30, 128)), lengths=jnp.array([30, 12, 1, 0])).shape
        (4, 128)

    Attributes:
        layers: the layers, an ``nnx.List`` of :class:`~gru_lstm_jax.nn.RNN` or
            :class:`~gru_lstm_jax.nn.Bidirectional`.
        in_features: input features of the first layer.
        out_features: output features of the last layer.
    """

    def __init__(
        self,
        cell: str | Cell,
        in_features: int,
        hidden_size: int | Sequence[int],
        num_layers: int | None = None,
        *,
        bidirectional: bool = False,
        merge: str = "concat",
        layer_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        rngs: nnx.Rngs,
        **layer_options: Any,
    ):
        """Creates the stack.

        Args:
            cell: a registered cell name or a :class:`~gru_lstm_jax.cells.Cell`.
            in_features: input features of the first layer.
            hidden_size: hidden units of every layer (an int, with ``num_layers``), or one
                size per layer (a sequence; ``num_layers`` then defaults to its length).
            num_layers: the number of layers.
            bidirectional: make every layer bidirectional.
            merge: how each bidirectional layer merges its directions.
            layer_dropout: dropout rate on the outputs of every layer except the last.
            return_sequences: the last layer returns ``(B, T, out)`` instead of ``(B, out)``.
            return_state: also return the final carry of every layer.
            rngs: ``nnx.Rngs`` for initialisation and dropout.
            **layer_options: passed to every :class:`~gru_lstm_jax.nn.RNN` (``dropout``,
                ``recurrent_dropout``, ``unroll``, ``remat``, ``implementation``,
                ``compute_dtype``, cell options).

        Raises:
            ValueError: for a non-positive size or count, or sizes that disagree with
                ``num_layers``.
        """
        if isinstance(hidden_size, numbers.Integral):
            num_layers = 1 if num_layers is None else num_layers
            check_positive_int(num_layers, "num_layers")
            sizes = [hidden_size] * num_layers
        else:
            sizes = list(hidden_size)
            if not sizes or (num_layers is not None and num_layers != len(sizes)):
                raise ValueError(
                    f"hidden_size must be an int or a non-empty sequence of num_layers ints; "
                    f"got {hidden_size!r} with num_layers={num_layers!r}"
                )
        for index, size in enumerate(sizes):
            check_positive_int(size, f"hidden_size[{index}]")
        check_rate(layer_dropout, "layer_dropout")
        for flag, value in (
            ("bidirectional", bidirectional),
            ("return_sequences", return_sequences),
            ("return_state", return_state),
        ):
            check_bool(value, flag)
        for name in ("go_backwards", "return_sequences", "return_state"):
            if name in layer_options:
                raise ValueError(f"{name} is set by StackedRNN itself, not per layer")
        layers = []
        features = in_features
        for index, size in enumerate(sizes):
            last = index == len(sizes) - 1
            options = dict(
                return_sequences=return_sequences or not last,
                return_state=return_state,
                rngs=rngs,
                **layer_options,
            )
            if bidirectional:
                layer = Bidirectional(
                    RNN(cell, features, size, **options),
                    RNN(cell, features, size, go_backwards=True, **options),
                    merge=merge,
                )
            else:
                layer = RNN(cell, features, size, **options)
            layers.append(layer)
            features = layer.out_features
        self.layers = nnx.List(layers)
        self.in_features = in_features
        self.out_features = features
        self.return_state = return_state
        self.layer_dropout = nnx.Dropout(layer_dropout, rngs=rngs if layer_dropout > 0 else None)

    def __call__(
        self,
        xs: jax.Array,
        *,
        lengths: jax.Array | None = None,
        mask: jax.Array | None = None,
        resets: jax.Array | None = None,
    ) -> Any:
        """Runs the stack.

        Args:
            xs: ``(B, T, F)`` or ``(T, F)``.
            lengths: integer lengths ``(B,)`` of right-padded sequences (every layer masks).
            mask: boolean ``(B, T)``; True on valid steps.
            resets: boolean ``(B, T)``, True at the first step of each new episode (every layer
                resets its carry there; see :class:`~gru_lstm_jax.nn.RNN`).

        Returns:
            The last layer's output; with ``return_state``, ``(output, states)`` where
            ``states`` is a tuple with one final carry (or carry pair) per layer.
        """
        states = []
        output = xs
        for index, layer in enumerate(self.layers):
            if index > 0:
                output = self.layer_dropout(output)
            output = layer(output, lengths=lengths, mask=mask, resets=resets)
            if self.return_state:
                output, state = output
                states.append(state)
        return (output, tuple(states)) if self.return_state else output
