"""Gate statistics of LSTM and GRU cells over time: mean gate values and saturation.

The gates are recomputed from the carries of a normal run: :func:`~gru_lstm_jax.recurrence.run_scan`
returns the carry after every step, so the carry before step ``t`` is the initial carry for
``t = 0`` and the carry after step ``t - 1`` otherwise, and the gate pre-activations follow from
the cell's parameters with the equations of :mod:`gru_lstm_jax.cells.lstm` and
:mod:`gru_lstm_jax.cells.gru`.

A gate is *saturated* when its value is within ``saturation`` of 0 or 1: its derivative is then
small and it passes little gradient to its pre-activation (Gers et al. 2000; Chung et al. 2014).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells import Cell, get_cell, gru_step, lstm_step
from gru_lstm_jax.recurrence import run_scan, sequence_mask

__all__ = ["GATED_CELLS", "gate_statistics"]

GATED_CELLS = ("lstm", "gru", "gru_reset_before")
"""The registered cell names whose gates :func:`gate_statistics` knows."""


def _gate_activation(cell: Cell) -> Any:
    """The gate activation of a package LSTM/GRU cell; raises for any other step function.

    The cells built by :func:`~gru_lstm_jax.cells.lstm_cell` and
    :func:`~gru_lstm_jax.cells.gru_cell` (with any options) have a step that is
    ``functools.partial(lstm_step or gru_step, **options)``; a cell with a custom step may compute
    different gates under the same name, so it is refused rather than misread.
    """
    expected = lstm_step if cell.name == "lstm" else gru_step
    step = cell.step
    recognised = (
        isinstance(step, functools.partial)
        and step.func is expected
        and not step.args
        and step.keywords.get("reset_after", True) == (cell.name != "gru_reset_before")
    )
    if not recognised:
        raise ValueError(
            f"cell {cell.name!r} has a custom step function; gate_statistics recomputes gates "
            "with the package's LSTM/GRU equations and supports only cells from get_cell / "
            "lstm_cell / gru_cell"
        )
    return step.keywords.get("gate_activation", jax.nn.sigmoid)


def _lstm_gates(
    params: dict[str, jax.Array], h_before: jax.Array, xp: jax.Array, sigma: Any
) -> dict[str, jax.Array]:
    z = xp + h_before @ params["recurrent_kernel"]
    zi, zf, _, zo = jnp.split(z, 4, axis=-1)
    return {"input_gate": sigma(zi), "forget_gate": sigma(zf), "output_gate": sigma(zo)}


def _gru_gates(
    params: dict[str, jax.Array], h_before: jax.Array, xp: jax.Array, sigma: Any, reset_after: bool
) -> dict[str, jax.Array]:
    U = params["recurrent_kernel"]
    H = U.shape[0]
    x_r, x_z, _ = jnp.split(xp, 3, axis=-1)
    if reset_after:
        recurrent = h_before @ U[:, : 2 * H] + params["recurrent_bias"][: 2 * H]
    else:
        recurrent = h_before @ U[:, : 2 * H]
    h_r, h_z = jnp.split(recurrent, 2, axis=-1)
    return {"reset_gate": sigma(x_r + h_r), "update_gate": sigma(x_z + h_z)}


def gate_statistics(
    cell_name_or_cell: str | Cell,
    params: dict[str, jax.Array],
    xs: jax.Array,
    *,
    hidden_size: int,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    saturation: float = 0.05,
) -> dict[str, jax.Array]:
    """Per-step mean gate values and the fraction of saturated gates of an LSTM or GRU.

    Gates, with the names of the returned keys:

    - LSTM (``"lstm"``): ``input_gate`` ``i``, ``forget_gate`` ``f``, ``output_gate`` ``o``.
    - GRU (``"gru"`` and ``"gru_reset_before"``): ``reset_gate`` ``r`` and ``update_gate`` ``z``,
      where ``z`` is the fraction of the old state kept (``h' = (1 - z) * n + z * h``).

    The gates are evaluated with the cell's own gate activation (sigmoid by default; a cell made
    with ``gate_activation=jax.nn.hard_sigmoid`` is evaluated with that). Only cells built by
    the package's LSTM/GRU factories are accepted, with any of their options.

    Args:
        cell_name_or_cell: ``"lstm"``, ``"gru"``, ``"gru_reset_before"`` or such a
            :class:`~gru_lstm_jax.cells.Cell`.
        params: the cell's parameters.
        xs: inputs ``(B, T, F)``.
        hidden_size: ``H``.
        lengths: optional integer lengths ``(B,)`` of right-padded sequences.
        mask: optional boolean ``(B, T)``, True on valid steps (combined with ``lengths``).
        saturation: a gate with value ``< saturation`` or ``> 1 - saturation`` counts as
            saturated; in ``(0, 0.5)``.

    Returns:
        A dict with, for each gate ``<gate>`` of the cell, ``"<gate>"``: ``(T,)`` the mean gate
        value over the batch and the ``H`` units at each step, and ``"<gate>_saturated"``:
        ``(T,)`` the fraction of saturated values. Only valid steps count; a step where no
        sequence is valid gives NaN.

    Raises:
        ValueError: for a cell without gates (such as ``"rnn"``), a cell with a custom step,
            ``xs`` not ``(B, T, F)``, ``saturation`` outside ``(0, 0.5)``, or malformed
            ``hidden_size``, ``lengths`` or ``mask``.
    """
    cell = get_cell(cell_name_or_cell)
    if cell.name not in GATED_CELLS:
        raise ValueError(
            f"cell {cell.name!r} exposes no gates; gate_statistics supports {list(GATED_CELLS)}"
        )
    sigma = _gate_activation(cell)
    if not 0.0 < saturation < 0.5:
        raise ValueError(f"saturation must lie in (0, 0.5); got {saturation!r}")
    xs = jnp.asarray(xs)
    if xs.ndim != 3:
        raise ValueError(f"xs must have shape (batch, time, features); got shape {tuple(xs.shape)}")
    batch, time = xs.shape[:2]
    valid = sequence_mask(lengths, mask, batch, time)

    _, _, carries = run_scan(
        cell, params, xs, hidden_size=hidden_size, lengths=lengths, mask=mask,
        return_carries=True,
    )  # fmt: skip
    h0 = cell.initial_carry((batch,), hidden_size).h.astype(carries.h.dtype)
    h_before = jnp.concatenate([h0[:, None], carries.h[:, :-1]], axis=1)  # (B, T, H)
    xp = cell.project(params, xs)
    if cell.name == "lstm":
        gates = _lstm_gates(params, h_before, xp, sigma)
    else:
        gates = _gru_gates(params, h_before, xp, sigma, reset_after=cell.name == "gru")

    dtype = h_before.dtype
    weight = jnp.ones((batch, time), dtype) if valid is None else valid.astype(dtype)
    count = jnp.sum(weight, axis=0) * hidden_size  # (T,)

    def mean_over_valid(values: jax.Array) -> jax.Array:
        total = jnp.einsum("bth,bt->t", values, weight)
        return jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)

    statistics = {}
    for name, value in gates.items():
        saturated = (value < saturation) | (value > 1.0 - saturation)
        statistics[name] = mean_over_valid(value)
        statistics[f"{name}_saturated"] = mean_over_valid(saturated.astype(value.dtype))
    return statistics
