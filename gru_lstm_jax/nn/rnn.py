"""Flax NNX recurrent layers over any cell: ``RNN(cell)``, ``LSTM``, ``GRU``, ``SimpleRNN``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from gru_lstm_jax.cells import Cell, get_cell
from gru_lstm_jax.checks import check_bool, check_compute_dtype, check_positive_int, check_rate
from gru_lstm_jax.recurrence import (
    add_batch_axis,
    check_implementation,
    last_output,
    run_scan,
    sequence_mask,
    with_compute_dtype,
)

__all__ = ["GRU", "LSTM", "RNN", "SimpleRNN"]


def check_sequence_input(xs: Any, in_features: int) -> jax.Array:
    """Checks that ``xs`` is ``(batch, time, in_features)`` or ``(time, in_features)``.

    Returns:
        ``xs`` as an array.
    """
    xs = jnp.asarray(xs)
    if xs.ndim not in (2, 3) or xs.shape[-1] != in_features:
        raise ValueError(
            f"xs must have shape (batch, time, {in_features}) or (time, {in_features}); "
            f"got {tuple(xs.shape)}"
        )
    return xs


def _dropout(rate: float, rngs: nnx.Rngs, **kwargs: Any) -> nnx.Dropout:
    # A rate of zero needs no random stream, so none is kept in the module's state.
    return nnx.Dropout(rate, rngs=rngs if rate > 0 else None, **kwargs)


class RNN(nnx.Module):
    """A recurrent layer that runs any cell over a sequence with ``lax.scan``.

    Example:
        >>> layer = RNN("lstm", 1, 64, return_sequences=True, rngs=nnx.Rngs(0))
        >>> layer(jnp.zeros((8, 50, 1))).shape
        (8, 50, 64)

    Dropout (Gal & Ghahramani 2016, "A Theoretically Grounded Application of Dropout in
    Recurrent Neural Networks"): ``dropout`` drops input features and ``recurrent_dropout`` drops
    units of ``h`` where it feeds the recurrent weights, ``(h * mask) @ U`` (``run_scan``'s
    ``recurrent_mask``; see :func:`~gru_lstm_jax.cells.base.recurrent_dropout`), each with one
    mask per sequence that is the same at every time step. The carried state is not dropped (the
    LSTM's ``c``, the GRU's ``z * h``), as in Keras's ``recurrent_dropout``, so the mask never
    compounds over steps; a staged product inside ``update`` (the reset-before GRU's
    ``(r * h) @ U_n``) reads the undropped ``h``. Both are off after ``module.eval()``.

    Mixed precision: with ``compute_dtype=jnp.bfloat16`` (or ``"bfloat16"``) every matrix product
    of the cell takes bfloat16 operands and gives float32, accumulated in float32
    (:func:`~gru_lstm_jax.recurrence.with_compute_dtype`). The parameters are stored in float32
    and get float32 gradients; the carry, the gate arithmetic and the outputs stay float32.

    Attributes:
        cell: the :class:`~gru_lstm_jax.cells.Cell`.
        in_features: input features ``F``.
        hidden_size: hidden units ``H``.
        out_features: ``H``.
    """

    def __init__(
        self,
        cell: str | Cell,
        in_features: int,
        hidden_size: int,
        *,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        unroll: int | bool = 1,
        remat: bool = False,
        implementation: str = "auto",
        compute_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
        **cell_options: Any,
    ):
        """Creates the layer and initialises the cell's parameters.

        Args:
            cell: a registered cell name (``"lstm"``, ``"gru"``, ``"gru_reset_before"``,
                ``"rnn"``, ...) or a :class:`~gru_lstm_jax.cells.Cell`.
            in_features: input features ``F``.
            hidden_size: hidden units ``H``.
            return_sequences: return every output ``(B, T, H)`` instead of the last one
                ``(B, H)``.
            return_state: also return the final carry.
            go_backwards: process each sequence from its last valid step to its first; outputs
                are returned in the original time order (unlike Keras, which returns them
                reversed).
            dropout: input dropout rate (one mask per sequence).
            recurrent_dropout: dropout rate on ``h`` in the recurrent product (one mask per
                sequence); needs a carry with an ``h`` field.
            unroll: the ``lax.scan`` unroll factor, a positive int (or ``True``: all steps).
            remat: rematerialise each step in the backward pass to save memory.
            implementation: how ``run_scan`` runs the cell: ``"auto"``, ``"fused"``,
                ``"scan"``, ``"cudnn"`` or ``"cudnn_reference"`` (see
                :mod:`gru_lstm_jax.recurrence.scan`; the cuDNN values run only the LSTM).
            compute_dtype: the dtype of the operands of the cell's matrix products,
                ``jnp.float32`` (or ``"float32"``) or ``jnp.bfloat16`` (``"bfloat16"``; see
                above); the cuDNN implementations run float32 only.
            rngs: ``nnx.Rngs``; the ``params`` stream initialises the weights, the ``dropout``
                stream (or the default stream) draws dropout masks.
            **cell_options: options for a named cell, e.g. ``reset_after=False``.
        """
        check_positive_int(in_features, "in_features")
        check_positive_int(hidden_size, "hidden_size")
        check_rate(dropout, "dropout")
        check_rate(recurrent_dropout, "recurrent_dropout")
        check_implementation(implementation)
        self.compute_dtype = check_compute_dtype(compute_dtype, "compute_dtype")
        for flag, value in (
            ("return_sequences", return_sequences),
            ("return_state", return_state),
            ("go_backwards", go_backwards),
            ("remat", remat),
        ):
            check_bool(value, flag)
        self.cell = get_cell(cell, **cell_options)
        self.in_features = in_features
        self.hidden_size = hidden_size
        self.out_features = hidden_size
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        if not isinstance(unroll, bool):
            check_positive_int(unroll, "unroll")
        self.unroll = unroll
        self.remat = remat
        self.implementation = implementation
        carry = jax.eval_shape(lambda: self.cell.initial_carry((1,), hidden_size))
        if not hasattr(carry, "h") or not hasattr(carry, "_replace"):
            raise ValueError(
                f"cell {self.cell.name!r}: the carry must be a NamedTuple with an 'h' field; got "
                f"{type(carry).__name__}"
            )
        params = self.cell.init(rngs.params(), in_features, hidden_size)
        self.params = nnx.Dict({name: nnx.Param(value) for name, value in params.items()})
        # Axis 1 is time: one input mask per sequence, the same at every step.
        self.input_dropout = _dropout(dropout, rngs, broadcast_dims=(1,))
        self.recurrent_dropout = _dropout(recurrent_dropout, rngs)

    def cell_params(self) -> dict[str, jax.Array]:
        """Returns the cell's parameters as a plain dict of arrays."""
        return {name: param[...] for name, param in self.params.items()}

    def load_cell_params(self, params: Mapping[str, Any]) -> None:
        """Replaces the cell's parameters, e.g. with weights converted from PyTorch or Keras.

        Args:
            params: a dict with exactly the keys and shapes of :meth:`cell_params`.

        Raises:
            ValueError: if a key is missing or extra, or a shape differs.
        """
        current = self.cell_params()
        if set(params) != set(current):
            missing, extra = sorted(set(current) - set(params)), sorted(set(params) - set(current))
            raise ValueError(
                f"params must have the keys {sorted(current)}; missing {missing}, extra {extra}"
            )
        for name, value in params.items():
            if tuple(jnp.shape(value)) != current[name].shape:
                raise ValueError(
                    f"params[{name!r}] must have shape {current[name].shape}; "
                    f"got {tuple(jnp.shape(value))}"
                )
        for name, value in params.items():
            self.params[name][...] = jnp.asarray(value, current[name].dtype)

    def __call__(
        self,
        xs: jax.Array,
        *,
        initial_state: Any = None,
        lengths: jax.Array | None = None,
        mask: jax.Array | None = None,
        resets: jax.Array | None = None,
    ) -> Any:
        """Runs the layer.

        Args:
            xs: ``(B, T, F)``, or ``(T, F)`` for one sequence (then ``lengths`` is a scalar and
                ``mask`` and ``resets`` are ``(T,)``).
            initial_state: a carry with leaves ``(B, ...)``; default zeros.
            lengths: integer lengths ``(B,)`` in ``[0, T]`` of right-padded sequences.
            mask: boolean ``(B, T)``; True on valid steps.
            resets: boolean ``(B, T)``; where True the carry is reset to the initial state
                before that step (see ``run_scan``).

        Returns:
            ``(B, T, H)`` if ``return_sequences`` else ``(B, H)`` (the output of the last valid
            step; for ``go_backwards``, of the first); with ``return_state``, the pair
            ``(output, final_carry)``.
        """
        xs = check_sequence_input(xs, self.in_features)
        if xs.ndim == 2:
            return self._call_unbatched(xs, initial_state, lengths, mask, resets)
        batch, time = xs.shape[:2]
        valid = sequence_mask(lengths, mask, batch, time)
        dropout = self.recurrent_dropout
        recurrent_mask = None
        if dropout.rate > 0 and not dropout.deterministic:
            recurrent_mask = dropout(jnp.ones((batch, self.hidden_size)))
        outputs, final_carry, _ = run_scan(
            with_compute_dtype(self.cell, self.compute_dtype),
            self.cell_params(),
            self.input_dropout(xs),
            hidden_size=self.hidden_size,
            initial_carry=initial_state,
            lengths=lengths,
            mask=mask,
            resets=resets,
            recurrent_mask=recurrent_mask,
            reverse=self.go_backwards,
            unroll=self.unroll,
            remat=self.remat,
            implementation=self.implementation,
        )
        return self._layer_output(outputs, final_carry, valid)

    def _layer_output(self, outputs: jax.Array, final_carry: Any, valid: jax.Array | None) -> Any:
        """What the layer returns, from all ``outputs`` ``(B, T, H)`` and the final carry."""
        output = (
            outputs
            if self.return_sequences
            else last_output(outputs, valid, reverse=self.go_backwards)
        )
        return (output, final_carry) if self.return_state else output

    def _call_unbatched(
        self, xs: jax.Array, initial_state: Any, lengths: Any, mask: Any, resets: Any
    ) -> Any:
        xs, batched = add_batch_axis(
            xs, initial_carry=initial_state, lengths=lengths, mask=mask, resets=resets
        )
        result = self(xs, initial_state=batched.pop("initial_carry"), **batched)
        return jax.tree.map(lambda a: a[0], result)


class LSTM(RNN):
    """An LSTM layer: :class:`RNN` over :func:`~gru_lstm_jax.cells.lstm_cell`.

    Hochreiter & Schmidhuber (1997); equations and layout in :mod:`gru_lstm_jax.cells.lstm`.
    ``implementation="cudnn"`` runs it through cuDNN on a GPU (see
    :mod:`gru_lstm_jax.recurrence.cudnn`).
    """

    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        *,
        gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
        activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
        rngs: nnx.Rngs,
        **kwargs: Any,
    ):
        """Creates the layer; ``kwargs`` are :class:`RNN`'s (``return_sequences``, ...)."""
        super().__init__(
            "lstm", in_features, hidden_size, rngs=rngs,
            gate_activation=gate_activation, activation=activation, **kwargs,
        )  # fmt: skip


class GRU(RNN):
    """A GRU layer: :class:`RNN` over :func:`~gru_lstm_jax.cells.gru_cell`.

    Cho et al. (2014); ``reset_after=True`` is the cuDNN/PyTorch/Keras-default variant,
    ``reset_after=False`` the original. Equations in :mod:`gru_lstm_jax.cells.gru`.
    """

    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        *,
        reset_after: bool = True,
        gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
        activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
        rngs: nnx.Rngs,
        **kwargs: Any,
    ):
        """Creates the layer; ``kwargs`` are :class:`RNN`'s (``return_sequences``, ...)."""
        super().__init__(
            "gru", in_features, hidden_size, rngs=rngs, reset_after=reset_after,
            gate_activation=gate_activation, activation=activation, **kwargs,
        )  # fmt: skip


class SimpleRNN(RNN):
    """A plain tanh RNN layer: ``h' = tanh(x W + h U + b)`` (Elman 1990)."""

    def __init__(
        self,
        in_features: int,
        hidden_size: int,
        *,
        activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
        rngs: nnx.Rngs,
        **kwargs: Any,
    ):
        """Creates the layer; ``kwargs`` are :class:`RNN`'s (``return_sequences``, ...)."""
        super().__init__(
            "rnn", in_features, hidden_size, rngs=rngs, activation=activation, **kwargs
        )
