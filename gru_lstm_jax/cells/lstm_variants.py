"""The LSTM variants of Greff et al.'s search-space study: one family, eight variants and V.

Reference:
    Greff, Srivastava, Koutník, Steunebrink & Schmidhuber (2017), "LSTM: A Search Space Odyssey",
    IEEE Transactions on Neural Networks and Learning Systems 28(10), section II and table I.
    The vanilla LSTM ``V`` is Gers & Schmidhuber (2000)'s, with peepholes.

Equations of ``V``, with ``x`` the input, ``(h, c)`` the carry, ``σ`` the sigmoid and ``⊙`` the
elementwise product::

    g  = tanh(x W_g + h U_g + b_g)                  block input
    i  = σ(x W_i + h U_i + p_i ⊙ c  + b_i)          input gate
    f  = σ(x W_f + h U_f + p_f ⊙ c  + b_f)          forget gate
    c' = f ⊙ c + i ⊙ g
    o  = σ(x W_o + h U_o + p_o ⊙ c' + b_o)          output gate
    h' = o ⊙ tanh(c')

Each other variant changes one thing of ``V`` (cell name ``lstm_<variant in lower case>``);
parameters for ``I`` inputs and ``H`` units, with ``B = I H + H² + H`` per gate block:

=========  ====================================================  ===================
variant    change                                                 parameters
=========  ====================================================  ===================
``V``      none                                                   ``4 B + 3 H``
``NIG``    no input gate: ``i = 1``                               ``3 B + 2 H``
``NFG``    no forget gate: ``f = 1``                              ``3 B + 2 H``
``NOG``    no output gate: ``o = 1``                              ``3 B + 2 H``
``NIAF``   no input activation: ``g = x W_g + h U_g + b_g``       ``4 B + 3 H``
``NOAF``   no output activation: ``h' = o ⊙ c'``                  ``4 B + 3 H``
``NP``     no peepholes (the ``"lstm"`` cell's equations)         ``4 B``
``CIFG``   coupled input and forget gate: ``f = 1 − i``           ``3 B + 2 H``
``FGR``    full gate recurrence: the gates also read the          ``4 B + 3 H + 9 H²``
           previous step's gates, ``+ [i, f, o]_{t−1} R_k`` in
           the pre-activation of each gate ``k ∈ {i, f, o}``
=========  ====================================================  ===================

Parameter layout: ``kernel`` ``(I, nH)``, ``recurrent_kernel`` ``(H, nH)`` and ``bias`` ``(nH,)``
with the variant's ``n`` blocks in the order ``i, f, g, o`` (those it has); ``peephole``
``(m, H)``, the rows ``p_i, p_f, p_o`` that it has; ``FGR``'s ``gate_recurrent_kernel``
``(3H, 3H)``, rows and columns in the order ``i, f, o``. Initialisation follows the ``"lstm"``
cell (Glorot-uniform kernel, orthogonal recurrent kernel, forget bias 1; ``CIFG``'s input bias is
−1, so that ``f = 1 − i`` starts at ``σ(1)`` as well), with peepholes and ``R`` zero, so that
every variant starts from the function of the variant without them. ``FGR``'s carry also holds
the previous step's gates ``[i, f, o]`` (``(*batch, 3H)``, zero at the start).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells.base import Cell, input_projection, matmul, recurrent_kernel, register_cell
from gru_lstm_jax.cells.chrono import check_chrono_max_length, chrono_bias
from gru_lstm_jax.cells.lstm import LSTMState, lstm_initial_carry

__all__ = ["LSTM_VARIANTS", "FGRState", "lstm_variant_cell"]

# Each variant's gate blocks (order i, f, g, o) and the gates with a peephole.
_BLOCKS = {"NIG": "fgo", "NFG": "igo", "NOG": "ifg", "CIFG": "igo"}
_PEEPHOLES = {"NIG": "fo", "NFG": "io", "NOG": "if", "CIFG": "io", "NP": ""}
LSTM_VARIANTS = ("V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")


class FGRState(NamedTuple):
    """``FGR``'s carry: ``h``, ``c`` ``(*batch, H)`` and the last ``[i, f, o]`` ``(*batch, 3H)``."""

    h: jax.Array
    c: jax.Array
    gates: jax.Array


def _init(variant, chrono, key, input_size, hidden_size):
    blocks, peepholes, H = _BLOCKS.get(variant, "ifgo"), _PEEPHOLES.get(variant, "ifo"), hidden_size
    k_in, k_rec, k_chrono = jax.random.split(key, 3)
    bias = {k: jnp.zeros((H,), jnp.float32) for k in blocks}
    memory = jnp.ones((H,), jnp.float32) if chrono is None else chrono_bias(k_chrono, H, chrono)
    if "f" in blocks:
        bias["f"] = memory
    if "i" in blocks and (chrono is not None or variant == "CIFG"):
        bias["i"] = -memory
    width = len(blocks) * H
    params = {
        "kernel": jax.nn.initializers.glorot_uniform()(k_in, (input_size, width), jnp.float32),
        "recurrent_kernel": jax.nn.initializers.orthogonal()(k_rec, (H, width), jnp.float32),
        "bias": jnp.concatenate([bias[k] for k in blocks]),
    }
    if peepholes:
        params["peephole"] = jnp.zeros((len(peepholes), H), jnp.float32)
    if variant == "FGR":
        params["gate_recurrent_kernel"] = jnp.zeros((3 * H, 3 * H), jnp.float32)
    return params


def _initial_carry(variant, batch_shape, hidden_size):
    h, c = lstm_initial_carry(batch_shape, hidden_size)
    if variant != "FGR":
        return LSTMState(h, c)
    return FGRState(h, c, jnp.zeros((*batch_shape, 3 * hidden_size), jnp.float32))


def _update(variant, params, carry, xp_t, hp_t):
    blocks = _BLOCKS.get(variant, "ifgo")
    # Split before adding, so that each gate reads its own columns of xp_t and hp_t.
    parts = zip(jnp.split(xp_t, len(blocks), -1), jnp.split(hp_t, len(blocks), -1), strict=True)
    z = {k: x + h for k, (x, h) in zip(blocks, parts, strict=True)}
    if variant == "FGR":
        gate_product = matmul(carry.gates, params["gate_recurrent_kernel"])
        for k, r in zip("ifo", jnp.split(gate_product, 3, -1), strict=True):
            z[k] = z[k] + r
    peephole = dict(zip(_PEEPHOLES.get(variant, "ifo"), params.get("peephole", ()), strict=True))

    def gate(k, c):  # None where the variant has no gate k (a gate of 1)
        if k not in z:
            return None
        return jax.nn.sigmoid(z[k] + peephole[k] * c if k in peephole else z[k])

    i = gate("i", carry.c)
    f = 1.0 - i if variant == "CIFG" else gate("f", carry.c)
    g = z["g"] if variant == "NIAF" else jnp.tanh(z["g"])
    c = (carry.c if f is None else f * carry.c) + (g if i is None else i * g)
    o = gate("o", c)
    h = (c if variant == "NOAF" else jnp.tanh(c)) * (1.0 if o is None else o)
    gates = {"input_gate": i, "forget_gate": f, "output_gate": o}
    new = FGRState(h, c, jnp.concatenate([i, f, o], -1)) if variant == "FGR" else LSTMState(h, c)
    return new, h, {name: v for name, v in gates.items() if v is not None}


def lstm_variant_cell(variant: str = "V", chrono_max_length: int | None = None) -> Cell:
    """Returns the :class:`Cell` of one of Greff et al.'s LSTM variants (module docstring).

    Args:
        variant: one of :data:`LSTM_VARIANTS`: ``"V"``, ``"NIG"``, ``"NFG"``, ``"NOG"``,
            ``"NIAF"``, ``"NOAF"``, ``"NP"``, ``"CIFG"``, ``"FGR"``.
        chrono_max_length: chrono-initialise the gate biases (Tallec & Ollivier 2018) for
            dependencies of up to this many steps: ``b_f = log(u)``, ``u ~ U[1, T_max − 1]``,
            and ``b_i = −log(u)`` for the gates the variant has (``CIFG``: ``f = 1 − i`` keeps
            ``σ(log u)``); ``None`` keeps the biases described in the module docstring.

    Returns:
        The cell, named ``"lstm_<variant in lower case>"`` (e.g. ``"lstm_cifg"``).

    Raises:
        ValueError: for an unknown variant or a ``chrono_max_length`` that is not an int ``>= 3``.
    """
    if variant not in LSTM_VARIANTS:
        raise ValueError(f"variant must be one of {list(LSTM_VARIANTS)}; got {variant!r}")
    if chrono_max_length is not None:
        check_chrono_max_length(chrono_max_length)
    return _cell(variant, chrono_max_length)


@functools.cache
def _cell(variant: str, chrono: int | None) -> Cell:
    return Cell(
        f"lstm_{variant.lower()}",
        functools.partial(_init, variant, chrono),
        functools.partial(_initial_carry, variant),
        input_projection,
        functools.partial(_update, variant),
        recurrent_kernel,
    )


for _variant in LSTM_VARIANTS:
    register_cell(f"lstm_{_variant.lower()}", functools.partial(lstm_variant_cell, _variant))
