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

from gru_lstm_jax.cells.base import Cell, SplitStep, SplitWeights, register_cell

__all__ = [
    "RNNState",
    "simple_rnn_cell",
    "simple_rnn_init",
    "simple_rnn_initial_carry",
    "simple_rnn_project",
    "simple_rnn_split_forward",
    "simple_rnn_split_tangent",
    "simple_rnn_split_weights",
    "simple_rnn_step",
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


def simple_rnn_project(params: dict[str, jax.Array], xs: jax.Array) -> jax.Array:
    """Input projection: ``xs @ kernel + bias``; ``(*batch, T, I) -> (*batch, T, H)``."""
    return xs @ params["kernel"] + params["bias"]


def simple_rnn_step(
    params: dict[str, jax.Array],
    carry: RNNState,
    xp_t: jax.Array,
    *,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
) -> tuple[RNNState, jax.Array]:
    """One step ``h' = tanh(xp_t + h U)``.

    Args:
        params: simple RNN parameters.
        carry: ``RNNState(h)`` with ``h`` of shape ``(*batch, H)``.
        xp_t: the projected input of this step, ``(*batch, H)``.
        activation: the activation (tanh).

    Returns:
        ``(RNNState(h'), h')`` with ``h'`` of shape ``(*batch, H)``.
    """
    h = activation(xp_t + carry.h @ params["recurrent_kernel"])
    return RNNState(h=h), h


def simple_rnn_split_weights(params: dict[str, jax.Array]) -> SplitWeights:
    """The simple RNN's weights for its :class:`~gru_lstm_jax.cells.SplitStep`.

    Args:
        params: simple RNN parameters.

    Returns:
        ``SplitWeights(kernel (I, H), bias (H,), recurrent_kernel (H, H))``.
    """
    return SplitWeights(params["kernel"], params["bias"], params["recurrent_kernel"])


def simple_rnn_split_forward(
    inner: None, carry: RNNState, xp_t: jax.Array, hp_t: jax.Array
) -> tuple[RNNState, None, None]:
    """The tanh step from its two matrix products: ``h' = tanh(xp_t + hp_t)``.

    Args:
        inner: unused.
        carry: ``RNNState(h)``, unused beyond the product ``hp_t = h U``.
        xp_t: ``x_t @ kernel + bias``, ``(B, H)``.
        hp_t: ``h @ recurrent_kernel``, ``(B, H)``.

    Returns:
        ``(RNNState(h'), None, None)``: the derivative needs only ``h'``.
    """
    return RNNState(h=jnp.tanh(xp_t + hp_t)), None, None


def simple_rnn_split_tangent(
    inner: None,
    d_inner: None,
    saved: None,
    extra: None,
    prev: RNNState,
    new: RNNState,
    d_prev: RNNState,
    d_z: jax.Array,
    d_hp: None,
) -> RNNState:
    """The derivative of :func:`simple_rnn_split_forward`: ``dh' = (1 - h'²) dz``.

    Args:
        inner: unused.
        d_inner: unused.
        saved: unused.
        extra: unused.
        prev: unused.
        new: the carry after the step (``h'`` is used).
        d_prev: unused (``h`` enters only through ``hp_t``).
        d_z: the tangent of ``xp_t + hp_t``, ``(B, H)``.
        d_hp: unused (``None``).

    Returns:
        The tangent ``RNNState(dh')``.
    """
    return RNNState(h=(1 - new.h * new.h) * d_z)


def simple_rnn_cell(activation: Callable[[jax.Array], jax.Array] = jnp.tanh) -> Cell:
    """Returns the simple RNN :class:`Cell`, named ``"rnn"``; equal options give the same cell.

    With the default tanh it carries a :class:`~gru_lstm_jax.cells.SplitStep` for the fused
    recurrence.
    """
    return _simple_rnn_cell(activation)


@functools.cache
def _simple_rnn_cell(activation: Callable) -> Cell:
    step = functools.partial(simple_rnn_step, activation=activation)
    split = None
    if activation is jnp.tanh:
        # The split's derivative is written for tanh; other activations run the reference scan.
        split = SplitStep(
            step,
            simple_rnn_split_weights,
            simple_rnn_split_forward,
            simple_rnn_split_tangent,
            additive=True,
        )
    return Cell(
        "rnn", simple_rnn_init, simple_rnn_initial_carry, simple_rnn_project, step, split=split
    )


register_cell("rnn", simple_rnn_cell)
