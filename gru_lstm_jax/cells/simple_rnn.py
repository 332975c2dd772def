"""The plain (Elman) tanh recurrent cell as pure functions: the baseline whose gradients vanish.

References:
    Elman (1990), "Finding Structure in Time", Cognitive Science 14(2).
    Bengio, Simard & Frasconi (1994), "Learning Long-Term Dependencies with Gradient Descent is
    Difficult" (why its gradients vanish over time).

Equation, with ``x`` the input, ``h`` the carry and ``tanh`` the activation (tanh by default)::

    h' = tanh(x W + h U + b)

Parameter layout (as Keras ``SimpleRNN``): ``kernel`` ``(input_size, H)`` Glorot-uniform,
``recurrent_kernel`` ``(H, H)`` orthogonal, ``bias`` ``(H,)`` zeros.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, input_projection, recurrent_kernel, register_cell

__all__ = [
    "RNNState",
    "simple_rnn_cell",
    "simple_rnn_init",
    "simple_rnn_initial_carry",
    "simple_rnn_update",
]


class RNNState(NamedTuple):
    """The simple RNN carry: hidden state ``h`` of shape ``(*batch, H)``."""

    h: jax.Array


def simple_rnn_init(key: jax.Array, input_size: int, hidden_size: int) -> dict[str, jax.Array]:
    """Initialises simple RNN parameters with Keras's defaults.

    Args:
        key: a PRNG key.
        input_size: number of input features ``I``.
        hidden_size: number of hidden units ``H``.

    Returns:
        ``{"kernel": (I, H), "recurrent_kernel": (H, H), "bias": (H,)}``, float32.
    """
    k_in, k_rec = jax.random.split(key)
    return {
        "kernel": jax.nn.initializers.glorot_uniform()(k_in, (input_size, hidden_size)),
        "recurrent_kernel": jax.nn.initializers.orthogonal()(k_rec, (hidden_size, hidden_size)),
        "bias": jnp.zeros((hidden_size,), jnp.float32),
    }


def simple_rnn_initial_carry(batch_shape: tuple[int, ...], hidden_size: int) -> RNNState:
    """Returns the zero carry ``RNNState(h)`` with ``h`` of shape ``(*batch_shape, H)``."""
    return RNNState(h=jnp.zeros((*batch_shape, hidden_size), jnp.float32))


def simple_rnn_update(
    params: dict[str, jax.Array],
    carry: RNNState,
    xp_t: jax.Array,
    hp_t: jax.Array,
    *,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
) -> tuple[RNNState, jax.Array]:
    """One step ``h' = tanh(xp_t + hp_t)``.

    Args:
        params: simple RNN parameters (unused: both products are given).
        carry: ``RNNState(h)`` with ``h`` of shape ``(*batch, H)`` (used only through ``hp_t``).
        xp_t: ``x_t @ kernel + bias``, ``(*batch, H)``.
        hp_t: ``h @ recurrent_kernel``, ``(*batch, H)``.
        activation: the activation (tanh).

    Returns:
        ``(RNNState(h'), h')`` with ``h'`` of shape ``(*batch, H)``.
    """
    h = activation(xp_t + hp_t)
    return RNNState(h=h), h


def simple_rnn_cell(activation: Callable[[jax.Array], jax.Array] = jnp.tanh) -> Cell:
    """Returns the simple RNN :class:`Cell`, named ``"rnn"``; equal options give the same cell."""
    return _simple_rnn_cell(activation)


@functools.cache
def _simple_rnn_cell(activation: Callable) -> Cell:
    update = functools.partial(simple_rnn_update, activation=activation)
    return Cell(
        "rnn", simple_rnn_init, simple_rnn_initial_carry, input_projection, update,
        recurrent_kernel,
    )  # fmt: skip


register_cell("rnn", simple_rnn_cell)
