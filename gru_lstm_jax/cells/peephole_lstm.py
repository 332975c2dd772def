"""The LSTM with peephole connections, as one cell of the protocol.

Reference:
    Gers & Schmidhuber (2000), "Recurrent Nets that Time and Count", IJCNN: the gates also see
    the cell state, ``c`` (input and forget gates) and the new ``c'`` (output gate).

Equations, with ``x`` the input, ``(h, c)`` the carry and ``⊙`` the elementwise product::

    i  = σ(x W_i + h U_i + p_i ⊙ c  + b_i)
    f  = σ(x W_f + h U_f + p_f ⊙ c  + b_f)
    g  = tanh(x W_g + h U_g + b_g)
    c' = f * c + i * g
    o  = σ(x W_o + h U_o + p_o ⊙ c' + b_o)
    h' = o * tanh(c')

Parameters: the LSTM's (:func:`~gru_lstm_jax.cells.lstm.lstm_init`, gates ``i, f, g, o``) and
``peephole`` ``(3, H)``, the rows ``p_i, p_f, p_o``, initialised to zero (so the cell starts as
the LSTM). ``H`` units on ``I`` inputs have ``4 (I H + H² + H) + 3 H`` parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, input_projection, recurrent_kernel, register_cell
from gru_lstm_jax.cells.lstm import LSTMState, lstm_init, lstm_initial_carry

__all__ = ["peephole_lstm_cell"]


def _init(key: jax.Array, input_size: int, hidden_size: int) -> dict[str, jax.Array]:
    return {**lstm_init(key, input_size, hidden_size), "peephole": jnp.zeros((3, hidden_size))}


def _update(
    params: dict[str, jax.Array], carry: LSTMState, xp_t: jax.Array, hp_t: jax.Array
) -> tuple[LSTMState, jax.Array, dict[str, jax.Array]]:
    p_i, p_f, p_o = params["peephole"]
    zi, zf, zg, zo = jnp.split(xp_t + hp_t, 4, axis=-1)
    i, f = jax.nn.sigmoid(zi + p_i * carry.c), jax.nn.sigmoid(zf + p_f * carry.c)
    c = f * carry.c + i * jnp.tanh(zg)
    o = jax.nn.sigmoid(zo + p_o * c)
    h = o * jnp.tanh(c)
    return LSTMState(h=h, c=c), h, {"input_gate": i, "forget_gate": f, "output_gate": o}


def peephole_lstm_cell() -> Cell:
    """Returns the peephole LSTM :class:`Cell`, named ``"peephole_lstm"``."""
    return _CELL


_CELL = Cell(
    "peephole_lstm", _init, lstm_initial_carry, input_projection, _update, recurrent_kernel
)
register_cell("peephole_lstm", peephole_lstm_cell)
