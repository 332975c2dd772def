"""Long short-term memory cell (LSTM) as pure functions.

References:
    Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", Neural Computation 9(8).
    Gers, Schmidhuber & Cummins (2000), "Learning to Forget: Continual Prediction with LSTM"
    (the forget gate).
    Jozefowicz, Zaremba & Sutskever (2015), "An Empirical Exploration of Recurrent Network
    Architectures" (forget-gate bias initialised to 1).

Equations, with ``x`` the input, ``(h, c)`` the carry and ``σ`` the gate activation (sigmoid by
default) and ``tanh`` the candidate/output activation (tanh by default)::

    i  = σ(x W_i + h U_i + b_i)
    f  = σ(x W_f + h U_f + b_f)
    g  = tanh(x W_g + h U_g + b_g)
    o  = σ(x W_o + h U_o + b_o)
    c' = f * c + i * g
    h' = o * tanh(c')

Parameter layout (the same as Keras ``LSTM`` and, transposed, PyTorch ``nn.LSTM``): gates are
fused in the order ``i, f, g, o``.

- ``kernel``: ``(input_size, 4H)``, Glorot-uniform.
- ``recurrent_kernel``: ``(H, 4H)``, orthogonal.
- ``bias``: ``(4H,)``, zeros except the forget-gate block, which is 1.

``LSTM(64)`` on one input feature has ``4 * (1*64 + 64*64 + 64) = 16,896`` parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, input_projection, recurrent_kernel, register_cell
from gru_lstm_jax.cells.chrono import check_chrono_max_length, chrono_bias

__all__ = [
    "LSTMState",
    "lstm_cell",
    "lstm_init",
    "lstm_initial_carry",
    "lstm_update",
]


class LSTMState(NamedTuple):
    """The LSTM carry: hidden state ``h`` and cell state ``c``, each ``(*batch, H)``."""

    h: jax.Array
    c: jax.Array


def lstm_init(
    key: jax.Array, input_size: int, hidden_size: int, *, chrono_max_length: int | None = None
) -> dict[str, jax.Array]:
    """Initialises LSTM parameters with Keras's defaults and ``unit_forget_bias``.

    Args:
        key: a PRNG key.
        input_size: number of input features ``I``.
        hidden_size: number of hidden units ``H``.
        chrono_max_length: if given, chrono initialisation (Tallec & Ollivier 2018) for
            dependencies up to this many steps: ``b_f = log(u)``, ``u ~ U[1, T_max - 1]``, and
            ``b_i = -b_f``, instead of ``b_f = 1, b_i = 0``.

    Returns:
        ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}``, float32, gates in
        the order ``i, f, g, o``; the forget-gate bias is 1, the other biases 0 (by default).
    """
    k_in, k_rec = jax.random.split(key)
    H = hidden_size
    bias = jnp.zeros((4 * H,), jnp.float32).at[H : 2 * H].set(1.0)
    if chrono_max_length is not None:
        forget = chrono_bias(jax.random.fold_in(key, 2), H, chrono_max_length)
        bias = bias.at[:H].set(-forget).at[H : 2 * H].set(forget)
    return {
        "kernel": jax.nn.initializers.glorot_uniform()(k_in, (input_size, 4 * H), jnp.float32),
        "recurrent_kernel": jax.nn.initializers.orthogonal()(k_rec, (H, 4 * H), jnp.float32),
        "bias": bias,
    }


def lstm_initial_carry(batch_shape: tuple[int, ...], hidden_size: int) -> LSTMState:
    """Returns the zero carry ``LSTMState(h, c)``, each of shape ``(*batch_shape, H)``."""
    zeros = jnp.zeros((*batch_shape, hidden_size), jnp.float32)
    return LSTMState(h=zeros, c=zeros)


def lstm_update(
    params: dict[str, jax.Array],
    carry: LSTMState,
    xp_t: jax.Array,
    hp_t: jax.Array,
    *,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
) -> tuple[LSTMState, jax.Array, dict[str, jax.Array]]:
    """One LSTM step from its two products (see the module docstring for the equations).

    Args:
        params: LSTM parameters (unused: both products are given).
        carry: ``LSTMState(h, c)``, each ``(*batch, H)``.
        xp_t: ``x_t @ kernel + bias``, ``(*batch, 4H)``
            (:func:`~gru_lstm_jax.cells.base.input_projection`).
        hp_t: ``h @ recurrent_kernel``, ``(*batch, 4H)``.
        gate_activation: the activation of ``i``, ``f`` and ``o`` (sigmoid).
        activation: the activation of the candidate ``g`` and of ``c'`` in the output (tanh).

    Returns:
        ``(LSTMState(h', c'), h', {"input_gate": i, "forget_gate": f, "output_gate": o})``,
        every array ``(*batch, H)``.
    """
    # Split before adding, so that each gate reads its own columns of xp_t and hp_t.
    zi, zf, zg, zo = (
        x + h for x, h in zip(jnp.split(xp_t, 4, axis=-1), jnp.split(hp_t, 4, axis=-1), strict=True)
    )
    i, f, g, o = gate_activation(zi), gate_activation(zf), activation(zg), gate_activation(zo)
    c = f * carry.c + i * g
    h = o * activation(c)
    return LSTMState(h=h, c=c), h, {"input_gate": i, "forget_gate": f, "output_gate": o}


def lstm_cell(
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
    chrono_max_length: int | None = None,
) -> Cell:
    """Returns the LSTM :class:`Cell`; equal options give the same (cached) cell.

    Args:
        gate_activation: the activation of the gates ``i, f, o`` (sigmoid).
        activation: the activation of the candidate and of the cell state in the output (tanh).
        chrono_max_length: chrono-initialise the gate biases for dependencies of up to this
            many steps (see :func:`lstm_init`); ``None`` keeps the forget bias of 1.

    Returns:
        The cell, named ``"lstm"``.
    """
    if chrono_max_length is not None:
        check_chrono_max_length(chrono_max_length)  # at construction, not at the first init
    return _lstm_cell(gate_activation, activation, chrono_max_length)


@functools.cache
def _lstm_update(gate_activation: Callable, activation: Callable) -> Callable:
    return functools.partial(lstm_update, gate_activation=gate_activation, activation=activation)


@functools.cache
def _lstm_cell(gate_activation: Callable, activation: Callable, chrono: int | None) -> Cell:
    init = lstm_init if chrono is None else functools.partial(lstm_init, chrono_max_length=chrono)
    update = _lstm_update(gate_activation, activation)
    return Cell("lstm", init, lstm_initial_carry, input_projection, update, recurrent_kernel)


register_cell("lstm", lstm_cell)
