"""minGRU and minLSTM: gates that read the input only, so the recurrence is linear in ``h``.

Reference:
    Feng, Tung, Ahmed, Bengio & Hajimirsadeghi (2024), "Were RNNs All We Needed?",
    arXiv:2410.01201 (the sequential forms of section 3; no recurrent weights).

Equations, with ``x`` the input, ``h`` the carry and ``⊙`` the elementwise product::

    minGRU:   z  = σ(x W_z + b_z)           h̃ = x W_h + b_h
              h' = (1 − z) ⊙ h + z ⊙ h̃
    minLSTM:  f  = σ(x W_f + b_f)   i = σ(x W_i + b_i)   h̃ = x W_h + b_h
              h' = f / (f + i) ⊙ h + i / (f + i) ⊙ h̃

Each step is ``h' = a ⊙ h + b`` with ``a, b`` computed from ``x`` alone, so
``run_scan(..., implementation="associative")`` runs them in parallel over time (the library
finds that form from ``update``; see :mod:`gru_lstm_jax.recurrence.associative`).

Parameters: ``kernel`` ``(I, 2H)`` (``z, h̃``) or ``(I, 3H)`` (``f, i, h̃``), Glorot-uniform, and
``bias`` of the same width, zeros: ``2 (I H + H)`` and ``3 (I H + H)`` parameters.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, input_projection, register_cell

__all__ = ["MinState", "min_gru_cell", "min_lstm_cell"]


class MinState(NamedTuple):
    """The carry of minGRU and minLSTM: hidden state ``h`` of shape ``(*batch, H)``."""

    h: jax.Array


def _init(blocks: int, key: jax.Array, input_size: int, hidden_size: int) -> dict[str, jax.Array]:
    width = blocks * hidden_size
    return {
        "kernel": jax.nn.initializers.glorot_uniform()(key, (input_size, width)),
        "bias": jnp.zeros((width,), jnp.float32),
    }


def _initial_carry(batch_shape: tuple[int, ...], hidden_size: int) -> MinState:
    return MinState(jnp.zeros((*batch_shape, hidden_size), jnp.float32))


def _min_gru_update(
    params: dict[str, jax.Array], carry: MinState, xp_t: jax.Array, hp_t: None
) -> tuple[MinState, jax.Array, dict[str, jax.Array]]:
    z_pre, candidate = jnp.split(xp_t, 2, axis=-1)
    z = jax.nn.sigmoid(z_pre)
    h = (1.0 - z) * carry.h + z * candidate
    return MinState(h), h, {"update_gate": z}


def _min_lstm_update(
    params: dict[str, jax.Array], carry: MinState, xp_t: jax.Array, hp_t: None
) -> tuple[MinState, jax.Array, dict[str, jax.Array]]:
    f_pre, i_pre, candidate = jnp.split(xp_t, 3, axis=-1)
    f, i = jax.nn.sigmoid(f_pre), jax.nn.sigmoid(i_pre)
    h = f / (f + i) * carry.h + i / (f + i) * candidate
    return MinState(h), h, {"forget_gate": f, "input_gate": i}


def min_gru_cell() -> Cell:
    """Returns the minGRU :class:`Cell`, named ``"min_gru"``."""
    return _MIN_GRU


def min_lstm_cell() -> Cell:
    """Returns the minLSTM :class:`Cell`, named ``"min_lstm"``."""
    return _MIN_LSTM


_MIN_GRU = Cell(
    "min_gru", functools.partial(_init, 2), _initial_carry, input_projection, _min_gru_update
)
_MIN_LSTM = Cell(
    "min_lstm", functools.partial(_init, 3), _initial_carry, input_projection, _min_lstm_update
)
register_cell("min_gru", min_gru_cell)
register_cell("min_lstm", min_lstm_cell)
