"""Gated recurrent unit (GRU) as pure functions, in both published variants.

References:
    Cho, van Merriënboer, Gulcehre, Bahdanau, Bougares, Schwenk & Bengio (2014), "Learning
    Phrase Representations using RNN Encoder-Decoder for Statistical Machine Translation"
    (the original GRU: reset before the recurrent matmul, ``reset_after=False``).
    Chung, Gulcehre, Cho & Bengio (2014), "Empirical Evaluation of Gated Recurrent Neural
    Networks on Sequence Modeling".
    NVIDIA cuDNN ``CUDNN_GRU`` (reset after the recurrent matmul, ``reset_after=True``; the form
    used by PyTorch ``nn.GRU`` and Keras's default).

Equations, with ``x`` the input, ``h`` the carry, ``σ`` the gate activation (sigmoid) and
``tanh`` the candidate activation (tanh).

``reset_after=True`` (cuDNN, PyTorch, Keras default)::

    r  = σ(x W_r + b_ir + h U_r + b_hr)
    z  = σ(x W_z + b_iz + h U_z + b_hz)
    n  = tanh(x W_n + b_in + r * (h U_n + b_hn))
    h' = (1 - z) * n + z * h

``reset_after=False`` (Cho et al. 2014)::

    r  = σ(x W_r + h U_r + b_r)
    z  = σ(x W_z + h U_z + b_z)
    n  = tanh(x W_n + (r * h) U_n + b_n)
    h' = (1 - z) * n + z * h

Parameter layout: gates fused in the order ``r, z, n`` (as cuDNN and PyTorch; Keras stores
``z, r, n``, see :mod:`gru_lstm_jax.cells.convert`).

- ``kernel``: ``(input_size, 3H)``, Glorot-uniform.
- ``recurrent_kernel``: ``(H, 3H)``, orthogonal.
- ``bias``: ``(3H,)`` zeros: the input bias ``b_i*`` (reset_after) or the only bias ``b_*``.
- ``recurrent_bias``: ``(3H,)`` zeros, the recurrent bias ``b_h*``; only when ``reset_after``.

``GRU(64)`` on one input feature has 12,864 parameters with ``reset_after=True`` and 12,672
with ``reset_after=False``, as in Keras.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, input_projection, matmul, register_cell
from gru_lstm_jax.cells.chrono import check_chrono_max_length, chrono_bias

__all__ = [
    "GRUState",
    "gru_cell",
    "gru_init",
    "gru_initial_carry",
    "gru_recurrent_kernel",
    "gru_update",
]


class GRUState(NamedTuple):
    """The GRU carry: hidden state ``h`` of shape ``(*batch, H)``."""

    h: jax.Array


def gru_init(
    key: jax.Array,
    input_size: int,
    hidden_size: int,
    *,
    reset_after: bool = True,
    chrono_max_length: int | None = None,
) -> dict[str, jax.Array]:
    """Initialises GRU parameters with Keras's defaults.

    Args:
        key: a PRNG key.
        input_size: number of input features ``I``.
        hidden_size: number of hidden units ``H``.
        reset_after: whether to create the separate recurrent bias of the cuDNN variant.
        chrono_max_length: if given, chrono initialisation (Tallec & Ollivier 2018) for
            dependencies up to this many steps: the update-gate bias ``b_z = log(u)``,
            ``u ~ U[1, T_max - 1]``, so that ``z`` (the kept fraction of ``h``) starts at
            ``u / (1 + u)``; otherwise all biases are 0.

    Returns:
        ``{"kernel": (I, 3H), "recurrent_kernel": (H, 3H), "bias": (3H,)}`` plus
        ``"recurrent_bias": (3H,)`` when ``reset_after``; gates in the order ``r, z, n``.
    """
    k_in, k_rec = jax.random.split(key)
    H = hidden_size
    bias = jnp.zeros((3 * H,), jnp.float32)
    if chrono_max_length is not None:
        bias = bias.at[H : 2 * H].set(chrono_bias(jax.random.fold_in(key, 2), H, chrono_max_length))
    params = {
        "kernel": jax.nn.initializers.glorot_uniform()(k_in, (input_size, 3 * H), jnp.float32),
        "recurrent_kernel": jax.nn.initializers.orthogonal()(k_rec, (H, 3 * H), jnp.float32),
        "bias": bias,
    }
    if reset_after:
        params["recurrent_bias"] = jnp.zeros((3 * H,), jnp.float32)
    return params


def gru_initial_carry(batch_shape: tuple[int, ...], hidden_size: int) -> GRUState:
    """Returns the zero carry ``GRUState(h)`` with ``h`` of shape ``(*batch_shape, H)``."""
    return GRUState(h=jnp.zeros((*batch_shape, hidden_size), jnp.float32))


def gru_update(
    params: dict[str, jax.Array],
    carry: GRUState,
    xp_t: jax.Array,
    hp_t: jax.Array,
    *,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
) -> tuple[GRUState, jax.Array, dict[str, jax.Array]]:
    """One GRU step from its products, in the variant of ``params`` (module docstring).

    Args:
        params: GRU parameters; with ``recurrent_bias`` they are the ``reset_after`` variant.
        carry: ``GRUState(h)`` with ``h`` of shape ``(*batch, H)``.
        xp_t: ``x_t @ kernel + bias``, ``(*batch, 3H)``
            (:func:`~gru_lstm_jax.cells.base.input_projection`).
        hp_t: ``h @ U`` with ``U`` from :func:`gru_recurrent_kernel`: ``(*batch, 3H)`` for
            ``reset_after``, else ``(*batch, 2H)`` (``r`` and ``z`` only; the candidate's
            ``(r * h) @ U_n`` is taken here).
        gate_activation: the activation of ``r`` and ``z`` (sigmoid).
        activation: the activation of the candidate ``n`` (tanh).

    Returns:
        ``(GRUState(h'), h', {"reset_gate": r, "update_gate": z})``, every array
        ``(*batch, H)``; ``z`` is the fraction of the old state kept.
    """
    h = carry.h
    x_r, x_z, x_n = jnp.split(xp_t, 3, axis=-1)
    if "recurrent_bias" in params:  # reset_after
        h_r, h_z, h_n = jnp.split(hp_t + params["recurrent_bias"], 3, axis=-1)
        r = gate_activation(x_r + h_r)
        n = activation(x_n + r * h_n)
    else:
        h_r, h_z = jnp.split(hp_t, 2, axis=-1)
        r = gate_activation(x_r + h_r)
        U_n = params["recurrent_kernel"][:, 2 * h.shape[-1] :]
        n = activation(x_n + matmul(r * h, U_n))
    z = gate_activation(x_z + h_z)
    h_new = (1.0 - z) * n + z * h
    return GRUState(h=h_new), h_new, {"reset_gate": r, "update_gate": z}


def gru_recurrent_kernel(params: dict[str, jax.Array]) -> jax.Array:
    """The weights that multiply ``h`` at every step, before any gate.

    Returns:
        ``recurrent_kernel`` ``(H, 3H)`` for ``reset_after`` parameters (with
        ``recurrent_bias``); else its ``r`` and ``z`` columns ``(H, 2H)`` (the candidate's
        ``U_n`` multiplies ``r * h`` inside :func:`gru_update`).
    """
    U = params["recurrent_kernel"]
    return U if "recurrent_bias" in params else U[:, : 2 * U.shape[0]]


def gru_cell(
    reset_after: bool = True,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
    chrono_max_length: int | None = None,
) -> Cell:
    """Returns the GRU :class:`Cell`; equal options give the same (cached) cell.

    Args:
        reset_after: ``True`` for the cuDNN/PyTorch/Keras-default variant (named ``"gru"``),
            ``False`` for Cho et al.'s original (named ``"gru_reset_before"``).
        gate_activation: the activation of the gates ``r, z`` (sigmoid).
        activation: the activation of the candidate ``n`` (tanh).
        chrono_max_length: chrono-initialise the update-gate bias for dependencies of up to
            this many steps (see :func:`gru_init`); ``None`` keeps zero biases.

    Returns:
        The cell.
    """
    if chrono_max_length is not None:
        check_chrono_max_length(chrono_max_length)  # at construction, not at the first init
    return _gru_cell(bool(reset_after), gate_activation, activation, chrono_max_length)


@functools.cache
def _gru_cell(
    reset_after: bool, gate_activation: Callable, activation: Callable, chrono: int | None
) -> Cell:
    init = functools.partial(gru_init, reset_after=reset_after, chrono_max_length=chrono)
    update = functools.partial(gru_update, gate_activation=gate_activation, activation=activation)
    name = "gru" if reset_after else "gru_reset_before"
    return Cell(name, init, gru_initial_carry, input_projection, update, gru_recurrent_kernel)


register_cell("gru", gru_cell)
# Cho et al.'s (2014) original under its own name: gru_cell with reset_after=False.
register_cell("gru_reset_before", functools.partial(gru_cell, False))
