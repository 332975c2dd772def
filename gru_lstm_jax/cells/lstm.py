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

from gru_lstm_jax.cells.base import Cell, SplitStep, SplitWeights, register_cell
from gru_lstm_jax.cells.chrono import check_chrono_max_length, chrono_bias

__all__ = [
    "LSTMState",
    "lstm_cell",
    "lstm_gates",
    "lstm_init",
    "lstm_initial_carry",
    "lstm_project",
    "lstm_split_forward",
    "lstm_split_tangent",
    "lstm_split_weights",
    "lstm_step",
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


def lstm_project(params: dict[str, jax.Array], xs: jax.Array) -> jax.Array:
    """Input projection for all steps: ``xs @ kernel + bias``.

    Args:
        params: LSTM parameters.
        xs: inputs ``(*batch, T, I)``.

    Returns:
        Pre-activations from the input side, ``(*batch, T, 4H)``.
    """
    return xs @ params["kernel"] + params["bias"]


def lstm_step(
    params: dict[str, jax.Array],
    carry: LSTMState,
    xp_t: jax.Array,
    *,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
) -> tuple[LSTMState, jax.Array]:
    """One LSTM step (see the module docstring for the equations).

    Args:
        params: LSTM parameters.
        carry: ``LSTMState(h, c)``, each ``(*batch, H)``.
        xp_t: the projected input of this step, ``(*batch, 4H)`` (from :func:`lstm_project`).
        gate_activation: the activation of ``i``, ``f`` and ``o`` (sigmoid).
        activation: the activation of the candidate ``g`` and of ``c'`` in the output (tanh).

    Returns:
        ``(LSTMState(h', c'), h')`` with ``h'`` of shape ``(*batch, H)``.
    """
    z = xp_t + carry.h @ params["recurrent_kernel"]
    zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
    i = gate_activation(zi)
    f = gate_activation(zf)
    g = activation(zg)
    o = gate_activation(zo)
    c = f * carry.c + i * g
    h = o * activation(c)
    return LSTMState(h=h, c=c), h


def lstm_split_weights(params: dict[str, jax.Array]) -> SplitWeights:
    """The LSTM's weights for its :class:`~gru_lstm_jax.cells.SplitStep`.

    Args:
        params: LSTM parameters.

    Returns:
        ``SplitWeights(kernel (I, 4H), bias (4H,), recurrent_kernel (H, 4H))``, no recurrent
        bias and no inner weights.
    """
    return SplitWeights(params["kernel"], params["bias"], params["recurrent_kernel"])


def lstm_split_forward(
    inner: None, carry: LSTMState, xp_t: jax.Array, hp_t: jax.Array
) -> tuple[LSTMState, jax.Array, tuple[jax.Array, jax.Array]]:
    """The LSTM step from its two matrix products (sigmoid gates, tanh activations).

    ``z = xp_t + hp_t`` is split into ``z_i, z_f, z_g, z_o``; then ``i = σ(z_i)``,
    ``f = σ(z_f)``, ``g = tanh(z_g)``, ``o = σ(z_o)``, ``c' = f * c + i * g``,
    ``h' = o * tanh(c')``, exactly as :func:`lstm_step`.

    It saves the coefficients of the step's derivative (see :func:`lstm_split_tangent`) rather
    than the gates, so that the backward loop only multiplies.

    Args:
        inner: unused (the LSTM has no inner weights).
        carry: ``LSTMState(h, c)``, each ``(B, H)``.
        xp_t: ``x_t @ kernel + bias``, ``(B, 4H)``.
        hp_t: ``h @ recurrent_kernel``, ``(B, 4H)``.

    Returns:
        ``(LSTMState(h', c'), coefficients (B, 4H), (f, q))`` with the coefficients
        ``[g i(1-i), c f(1-f), i (1-g²), tanh(c') o(1-o)]``, ``f`` ``(B, H)`` and
        ``q = o (1 - tanh²(c'))`` ``(B, H)``.
    """
    # Split before adding, so that each gate reads its own columns of xp_t and hp_t.
    zi, zf, zg, zo = (
        x + h for x, h in zip(jnp.split(xp_t, 4, axis=-1), jnp.split(hp_t, 4, axis=-1), strict=True)
    )
    i, f, g, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jnp.tanh(zg), jax.nn.sigmoid(zo)
    c = f * carry.c + i * g
    tanh_c = jnp.tanh(c)
    coefficients = jnp.concatenate(
        [g * i * (1 - i), carry.c * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o)], axis=-1
    )
    return LSTMState(h=o * tanh_c, c=c), coefficients, (f, o * (1 - tanh_c * tanh_c))


def lstm_split_tangent(
    inner: None,
    d_inner: None,
    coefficients: jax.Array,
    f_and_q: tuple[jax.Array, jax.Array],
    prev: LSTMState,
    new: LSTMState,
    d_prev: LSTMState,
    d_z: jax.Array,
    d_hp: None,
) -> LSTMState:
    """The derivative of :func:`lstm_split_forward`, linear in ``d_prev`` and ``d_z``.

    With ``σ' = σ(1 - σ)``, ``tanh' = 1 - tanh²`` and ``dz = d(xp_t) + d(hp_t)`` (the LSTM's
    split is additive)::

        dc' = f dc + g i(1-i) dz_i + c f(1-f) dz_f + i (1-g²) dz_g
        dh' = tanh(c') o(1-o) dz_o + q dc',    q = o (1 - tanh²(c'))

    Args:
        inner: unused.
        d_inner: unused.
        coefficients: the saved ``[g i(1-i), c f(1-f), i (1-g²), tanh(c') o(1-o)]``
            ``(B, 4H)``.
        f_and_q: the saved ``(f, q)``, each ``(B, H)``.
        prev: unused (the coefficients hold what the derivative needs).
        new: unused.
        d_prev: the tangent of the carry before the step.
        d_z: the tangent of ``z = xp_t + hp_t``, ``(B, 4H)``.
        d_hp: unused (``None``).

    Returns:
        The tangent ``LSTMState(dh', dc')``.
    """
    f, q = f_and_q
    dzi, dzf, dzg, dzo = jnp.split(d_z, 4, axis=-1)
    ci, cf, cg, co = jnp.split(coefficients, 4, axis=-1)
    dc = f * d_prev.c + ci * dzi + cf * dzf + cg * dzg
    return LSTMState(h=co * dzo + q * dc, c=dc)


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
        The cell, named ``"lstm"``; with the default activations it carries a
        :class:`~gru_lstm_jax.cells.SplitStep` for the fused recurrence.
    """
    if chrono_max_length is not None:
        check_chrono_max_length(chrono_max_length)  # at construction, not at the first init
    return _lstm_cell(gate_activation, activation, chrono_max_length)


def lstm_gates(
    params: dict[str, jax.Array],
    carry: LSTMState,
    xp_t: jax.Array,
    *,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
) -> dict[str, jax.Array]:
    """The gates of the step :func:`lstm_step` takes from ``carry``.

    Args:
        params: LSTM parameters.
        carry: the carry before the step; only ``h`` ``(*batch, H)`` is used.
        xp_t: the projected input ``(*batch, 4H)``.
        gate_activation: the gate activation (sigmoid).

    Returns:
        ``{"input_gate": i, "forget_gate": f, "output_gate": o}``, each ``(*batch, H)``.
    """
    z = xp_t + carry.h @ params["recurrent_kernel"]
    zi, zf, _, zo = jnp.split(z, 4, axis=-1)
    return {
        "input_gate": gate_activation(zi),
        "forget_gate": gate_activation(zf),
        "output_gate": gate_activation(zo),
    }


@functools.cache
def _lstm_cell(gate_activation: Callable, activation: Callable, chrono: int | None) -> Cell:
    init = lstm_init if chrono is None else functools.partial(lstm_init, chrono_max_length=chrono)
    step = functools.partial(lstm_step, gate_activation=gate_activation, activation=activation)
    gates = functools.partial(lstm_gates, gate_activation=gate_activation)
    split = None
    if gate_activation is jax.nn.sigmoid and activation is jnp.tanh:
        # The split's derivative is written for sigmoid and tanh; other activations run the
        # reference scan, which differentiates them automatically.
        split = SplitStep(
            step,
            lstm_split_weights,
            lstm_split_forward,
            lstm_split_tangent,
            additive=True,
            blocks=4,
        )
    return Cell("lstm", init, lstm_initial_carry, lstm_project, step, gates, split)


register_cell("lstm", lstm_cell)
