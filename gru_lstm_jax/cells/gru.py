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

from gru_lstm_jax.cells.base import Cell, SplitStep, SplitWeights, register_cell
from gru_lstm_jax.cells.chrono import check_chrono_max_length, chrono_bias

__all__ = [
    "GRUState",
    "gru_cell",
    "gru_gates",
    "gru_init",
    "gru_initial_carry",
    "gru_project",
    "gru_reset_before_cell",
    "gru_split_forward",
    "gru_split_tangent",
    "gru_split_weights",
    "gru_step",
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


def gru_project(params: dict[str, jax.Array], xs: jax.Array) -> jax.Array:
    """Input projection for all steps: ``xs @ kernel + bias``.

    Args:
        params: GRU parameters (either variant).
        xs: inputs ``(*batch, T, I)``.

    Returns:
        Pre-activations from the input side, ``(*batch, T, 3H)``.
    """
    return xs @ params["kernel"] + params["bias"]


def gru_step(
    params: dict[str, jax.Array],
    carry: GRUState,
    xp_t: jax.Array,
    *,
    reset_after: bool = True,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
) -> tuple[GRUState, jax.Array]:
    """One GRU step (see the module docstring for the equations of both variants).

    Args:
        params: GRU parameters of the variant given by ``reset_after``.
        carry: ``GRUState(h)`` with ``h`` of shape ``(*batch, H)``.
        xp_t: the projected input of this step, ``(*batch, 3H)`` (from :func:`gru_project`).
        reset_after: apply the reset gate after the recurrent matmul (cuDNN) or before it (Cho).
        gate_activation: the activation of ``r`` and ``z`` (sigmoid).
        activation: the activation of the candidate ``n`` (tanh).

    Returns:
        ``(GRUState(h'), h')`` with ``h'`` of shape ``(*batch, H)``.
    """
    h = carry.h
    U = params["recurrent_kernel"]
    H = U.shape[0]
    x_r, x_z, x_n = jnp.split(xp_t, 3, axis=-1)
    if reset_after:
        hu = h @ U + params["recurrent_bias"]
        h_r, h_z, h_n = jnp.split(hu, 3, axis=-1)
        r = gate_activation(x_r + h_r)
        z = gate_activation(x_z + h_z)
        n = activation(x_n + r * h_n)
    else:
        h_r, h_z = jnp.split(h @ U[:, : 2 * H], 2, axis=-1)
        r = gate_activation(x_r + h_r)
        z = gate_activation(x_z + h_z)
        n = activation(x_n + (r * h) @ U[:, 2 * H :])
    h_new = (1.0 - z) * n + z * h
    return GRUState(h=h_new), h_new


def gru_split_weights(params: dict[str, jax.Array], *, reset_after: bool = True) -> SplitWeights:
    """The GRU's weights for its :class:`~gru_lstm_jax.cells.SplitStep`.

    Args:
        params: GRU parameters of the variant given by ``reset_after``.
        reset_after: the variant.

    Returns:
        ``reset_after=True``: ``SplitWeights(kernel (I, 3H), bias (3H,), recurrent_kernel
        (H, 3H), recurrent_bias (3H,))``. ``reset_after=False``: the recurrent product covers
        only ``r`` and ``z``, ``recurrent_kernel[:, :2H]`` ``(H, 2H)``, and the candidate kernel
        ``U_n = recurrent_kernel[:, 2H:]`` ``(H, H)``, which multiplies ``r * h`` inside the
        step, is the inner weight.
    """
    U = params["recurrent_kernel"]
    if reset_after:
        return SplitWeights(params["kernel"], params["bias"], U, params["recurrent_bias"])
    H = U.shape[0]
    return SplitWeights(params["kernel"], params["bias"], U[:, : 2 * H], inner=U[:, 2 * H :])


def gru_split_forward(
    inner: jax.Array | None,
    carry: GRUState,
    xp_t: jax.Array,
    hp_t: jax.Array,
    *,
    reset_after: bool = True,
) -> tuple[GRUState, jax.Array, jax.Array | None]:
    """The GRU step from its matrix products (sigmoid gates, tanh candidate).

    ``reset_after=True``: with ``hp_t = h U + b_h`` split into ``hp_r, hp_z, hp_n``,
    ``r = σ(xp_r + hp_r)``, ``z = σ(xp_z + hp_z)``, ``n = tanh(xp_n + r * hp_n)``.
    ``reset_after=False``: with ``hp_t = h U_rz`` split into ``hp_r, hp_z``, the same ``r`` and
    ``z`` and ``n = tanh(xp_n + (r * h) U_n)``. In both ``h' = (1 - z) * n + z * h``, exactly
    as :func:`gru_step`.

    Args:
        inner: ``U_n`` ``(H, H)`` for ``reset_after=False``, else ``None``.
        carry: ``GRUState(h)`` with ``h`` ``(B, H)``.
        xp_t: ``x_t @ kernel + bias``, ``(B, 3H)``.
        hp_t: the recurrent product, ``(B, 3H)`` (reset_after) or ``(B, 2H)``.
        reset_after: the variant.

    Returns:
        ``(GRUState(h'), [r, z, n] (B, 3H), hp_n (B, H) or None)``, the activations (and for
        ``reset_after``, ``hp_n``) saved for :func:`gru_split_tangent`.
    """
    h = carry.h
    x_r, x_z, x_n = jnp.split(xp_t, 3, axis=-1)
    if reset_after:
        h_r, h_z, h_n = jnp.split(hp_t, 3, axis=-1)
        r = jax.nn.sigmoid(x_r + h_r)
        n = jnp.tanh(x_n + r * h_n)
    else:
        h_r, h_z = jnp.split(hp_t, 2, axis=-1)
        h_n = None
        r = jax.nn.sigmoid(x_r + h_r)
        n = jnp.tanh(x_n + (r * h) @ inner)
    z = jax.nn.sigmoid(x_z + h_z)
    h_new = (1.0 - z) * n + z * h
    return GRUState(h=h_new), jnp.concatenate([r, z, n], axis=-1), h_n


def gru_split_tangent(
    inner: jax.Array | None,
    d_inner: jax.Array | None,
    saved: jax.Array,
    h_n: jax.Array | None,
    prev: GRUState,
    new: GRUState,
    d_prev: GRUState,
    d_xp: jax.Array,
    d_hp: jax.Array,
    *,
    reset_after: bool = True,
) -> GRUState:
    """The derivative of :func:`gru_split_forward`, linear in its ``d_*`` arguments.

    With ``σ' = σ(1 - σ)`` and ``tanh' = 1 - tanh²`` written in the saved ``r, z, n``::

        dr  = r(1-r) (dxp_r + dhp_r)
        dz  = z(1-z) (dxp_z + dhp_z)
        dn  = (1-n²) (dxp_n + hp_n dr + r dhp_n)                  (reset_after=True)
        dn  = (1-n²) (dxp_n + (dr h + r dh) U_n + (r h) dU_n)     (reset_after=False)
        dh' = (1 - z) dn + z dh + (h - n) dz

    Args:
        inner: ``U_n`` for ``reset_after=False``, else ``None``.
        d_inner: the tangent of ``U_n``, or ``None``.
        saved: the saved ``[r, z, n]`` ``(B, 3H)``.
        h_n: the saved ``hp_n`` ``(B, H)`` (reset_after), else ``None``.
        prev: the carry before the step.
        new: unused (the saved activations suffice).
        d_prev: the tangent of ``prev``.
        d_xp: the tangent of ``xp_t``, ``(B, 3H)``.
        d_hp: the tangent of ``hp_t``, ``(B, 3H)`` or ``(B, 2H)``.
        reset_after: the variant.

    Returns:
        The tangent ``GRUState(dh')``.
    """
    r, z, n = jnp.split(saved, 3, axis=-1)
    dxr, dxz, dxn = jnp.split(d_xp, 3, axis=-1)
    dhr, dhz, *dhn = jnp.split(d_hp, 3 if reset_after else 2, axis=-1)
    dr = r * (1 - r) * (dxr + dhr)
    dz = z * (1 - z) * (dxz + dhz)
    h = prev.h
    if reset_after:
        d_candidate = dxn + h_n * dr + r * dhn[0]
    else:
        d_candidate = dxn + (dr * h + r * d_prev.h) @ inner
        if d_inner is not None:
            d_candidate = d_candidate + (r * h) @ d_inner
    dn = (1 - n * n) * d_candidate
    return GRUState(h=(1 - z) * dn + z * d_prev.h + (h - n) * dz)


def gru_gates(
    params: dict[str, jax.Array],
    carry: GRUState,
    xp_t: jax.Array,
    *,
    reset_after: bool = True,
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
) -> dict[str, jax.Array]:
    """The gates of the step :func:`gru_step` takes from ``carry``.

    Args:
        params: GRU parameters of the variant given by ``reset_after``.
        carry: ``GRUState(h)`` before the step, ``h`` of shape ``(*batch, H)``.
        xp_t: the projected input ``(*batch, 3H)``.
        reset_after: the variant.
        gate_activation: the gate activation (sigmoid).

    Returns:
        ``{"reset_gate": r, "update_gate": z}``, each ``(*batch, H)``; ``z`` is the fraction
        of the old state kept.
    """
    U = params["recurrent_kernel"]
    H = U.shape[0]
    recurrent = carry.h @ U[:, : 2 * H]
    if reset_after:
        recurrent = recurrent + params["recurrent_bias"][: 2 * H]
    x_r, x_z, _ = jnp.split(xp_t, 3, axis=-1)
    h_r, h_z = jnp.split(recurrent, 2, axis=-1)
    return {"reset_gate": gate_activation(x_r + h_r), "update_gate": gate_activation(x_z + h_z)}


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
        The cell; with the default activations it carries a
        :class:`~gru_lstm_jax.cells.SplitStep` for the fused recurrence.
    """
    if chrono_max_length is not None:
        check_chrono_max_length(chrono_max_length)  # at construction, not at the first init
    return _gru_cell(bool(reset_after), gate_activation, activation, chrono_max_length)


@functools.cache
def _gru_cell(
    reset_after: bool, gate_activation: Callable, activation: Callable, chrono: int | None
) -> Cell:
    init = functools.partial(gru_init, reset_after=reset_after, chrono_max_length=chrono)
    step = functools.partial(
        gru_step, reset_after=reset_after, gate_activation=gate_activation, activation=activation
    )
    gates = functools.partial(gru_gates, reset_after=reset_after, gate_activation=gate_activation)
    name = "gru" if reset_after else "gru_reset_before"
    split = None
    if gate_activation is jax.nn.sigmoid and activation is jnp.tanh:
        # The split's derivative is written for sigmoid and tanh; other activations run the
        # reference scan, which differentiates them automatically.
        split = SplitStep(
            step,
            functools.partial(gru_split_weights, reset_after=reset_after),
            functools.partial(gru_split_forward, reset_after=reset_after),
            functools.partial(gru_split_tangent, reset_after=reset_after),
            blocks=3,
        )
    return Cell(name, init, gru_initial_carry, gru_project, step, gates, split)


def gru_reset_before_cell(
    gate_activation: Callable[[jax.Array], jax.Array] = jax.nn.sigmoid,
    activation: Callable[[jax.Array], jax.Array] = jnp.tanh,
    chrono_max_length: int | None = None,
) -> Cell:
    """Returns Cho et al.'s (2014) original GRU: :func:`gru_cell` with ``reset_after=False``."""
    return gru_cell(False, gate_activation, activation, chrono_max_length)


register_cell("gru", gru_cell)
register_cell("gru_reset_before", gru_reset_before_cell)
