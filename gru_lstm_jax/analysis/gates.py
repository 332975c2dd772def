"""Gate statistics of LSTM and GRU cells over time: mean gate values and saturation.

The gates are recomputed from the carries of a normal run: :func:`~gru_lstm_jax.recurrence.run_scan`
returns the carry after every step, so the carry before step ``t`` is the initial carry for
``t = 0`` and the carry after step ``t - 1`` otherwise, and the named gate values that the cell's
``update`` returns (:meth:`~gru_lstm_jax.cells.Cell.gates`) give the gates of every step at once.

A gate is *saturated* when its value is within ``saturation`` of 0 or 1: its derivative is then
small and it passes little gradient to its pre-activation (Gers et al. 2000; Chung et al. 2014).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells import Cell, get_cell
from gru_lstm_jax.recurrence import run_scan, sequence_mask

__all__ = ["gate_statistics"]


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

    Any cell with a ``gates`` function works, with the gates it names; the package's cells
    evaluate them with their own gate activation (sigmoid unless the cell was built with
    another).

    Args:
        cell_name_or_cell: a registered name such as ``"lstm"``, or a
            :class:`~gru_lstm_jax.cells.Cell` with a ``gates`` function.
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
        ValueError: for a cell whose update returns no gates (such as ``"rnn"``),
            ``xs`` not ``(B, T, F)``, ``saturation`` outside ``(0, 0.5)``, or malformed
            ``hidden_size``, ``lengths`` or ``mask``.
    """
    cell = get_cell(cell_name_or_cell)
    if not 0.0 < saturation < 0.5:
        raise ValueError(f"saturation must lie in (0, 0.5); got {saturation!r}")
    xs = jnp.asarray(xs)
    if xs.ndim != 3:
        raise ValueError(f"xs must have shape (batch, time, features); got shape {tuple(xs.shape)}")
    batch, time = xs.shape[:2]
    valid = sequence_mask(lengths, mask, batch, time)
    first = jax.tree.map(lambda a: a[:, :1], cell.project(params, xs[:, :1]))
    if not jax.eval_shape(cell.gates, params, cell.initial_carry((batch, 1), hidden_size), first):
        raise ValueError(
            f"cell {cell.name!r} exposes no gates (its update returns no named gate values); "
            "the LSTM and both GRU variants do"
        )

    _, _, carries = run_scan(
        cell, params, xs, hidden_size=hidden_size, lengths=lengths, mask=mask,
        return_carries=True,
    )  # fmt: skip
    initial = cell.initial_carry((batch,), hidden_size)
    carries_before = jax.tree.map(  # every leaf (B, T, ...): the carry entering each step
        lambda first, after: jnp.concatenate(
            [first[:, None].astype(after.dtype), after[:, :-1]], 1
        ),
        initial,
        carries,
    )
    gates = cell.gates(params, carries_before, cell.project(params, xs))

    dtype = carries.h.dtype
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
