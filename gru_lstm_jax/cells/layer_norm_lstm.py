"""The layer-normalised LSTM, as one cell of the protocol.

Reference:
    Ba, Kiros & Hinton (2016), "Layer Normalization", arXiv:1607.06450, section 3.1 and the
    LSTM equations of its supplementary material.

Equations, with ``LN(z; α, β) = α ⊙ (z - mean(z)) / sqrt(var(z) + 1e-5) + β`` over the last axis
(the ``4H`` gate pre-activations, or the ``H`` units of ``c'``)::

    [z_i, z_f, z_g, z_o] = LN(x W; α_x, 0) + LN(h U; α_h, 0) + b
    i, f, o = σ(z_i), σ(z_f), σ(z_o);   g = tanh(z_g)
    c' = f * c + i * g
    h' = o * tanh(LN(c'; α_c, β_c))

Parameters: the LSTM's (:func:`~gru_lstm_jax.cells.lstm.lstm_init`; ``b`` is its ``bias``, with the
forget-gate block 1, which stands in for the shifts of the two gate normalisations), the gains
``ln_x`` ``(4H,)`` and ``ln_h`` ``(4H,)`` (ones), and ``ln_c`` ``(2, H)``: the gain (ones) and
the shift (zeros) of ``c'``. ``H`` units on ``I`` inputs have ``4 (I H + H² + H) + 10 H``
parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, matmul, recurrent_kernel, register_cell
from gru_lstm_jax.cells.lstm import LSTMState, lstm_init, lstm_initial_carry

__all__ = ["layer_norm", "layer_norm_lstm_cell"]


def layer_norm(z: jax.Array, gain: jax.Array, shift: jax.Array | float = 0.0) -> jax.Array:
    """``gain * (z - mean) / sqrt(var + 1e-5) + shift`` over the last axis of ``z`` ``(..., K)``."""
    centred = z - jnp.mean(z, axis=-1, keepdims=True)
    return (
        gain * centred * jax.lax.rsqrt(jnp.mean(centred**2, axis=-1, keepdims=True) + 1e-5) + shift
    )


def _init(key: jax.Array, input_size: int, hidden_size: int) -> dict[str, jax.Array]:
    H = hidden_size
    ln = {
        "ln_x": jnp.ones((4 * H,)),
        "ln_h": jnp.ones((4 * H,)),
        "ln_c": jnp.ones((2, H)).at[1].set(0),
    }
    return {**lstm_init(key, input_size, H), **ln}


def _project(params: dict[str, jax.Array], xs: jax.Array) -> jax.Array:
    return layer_norm(matmul(xs, params["kernel"]), params["ln_x"]) + params["bias"]


def _update(
    params: dict[str, jax.Array], carry: LSTMState, xp_t: jax.Array, hp_t: jax.Array
) -> tuple[LSTMState, jax.Array, dict[str, jax.Array]]:
    zi, zf, zg, zo = jnp.split(xp_t + layer_norm(hp_t, params["ln_h"]), 4, axis=-1)
    i, f, o = jax.nn.sigmoid(zi), jax.nn.sigmoid(zf), jax.nn.sigmoid(zo)
    c = f * carry.c + i * jnp.tanh(zg)
    h = o * jnp.tanh(layer_norm(c, *params["ln_c"]))
    return LSTMState(h=h, c=c), h, {"input_gate": i, "forget_gate": f, "output_gate": o}


def layer_norm_lstm_cell() -> Cell:
    """Returns the layer-normalised LSTM :class:`Cell`, named ``"layer_norm_lstm"``."""
    return _CELL


_CELL = Cell("layer_norm_lstm", _init, lstm_initial_carry, _project, _update, recurrent_kernel)
register_cell("layer_norm_lstm", layer_norm_lstm_cell)
