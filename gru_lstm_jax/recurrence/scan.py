"""Running any cell over time: :func:`run_scan` and its implementations.

Inputs are batch-major ``(B, T, F)`` (or one unbatched sequence ``(T, F)``). On a masked step
(see :func:`~gru_lstm_jax.recurrence.sequence_mask`) the carry is held and the output is zero, so
padding never changes a valid output or the final carry. ``reverse=True`` runs from the last
time step to the first while holding the carry on masked steps; for right padding this is
exactly "reverse each sequence within its own length", and outputs come back in the original
time order.

The implementations (``implementation=``, the same values in every layer):

- ``"fused"``: the fused recurrence of :mod:`gru_lstm_jax.recurrence.fused`, derived from the
  cell's ``update``: one large product for the input projection, only ``h @ U`` and ``update``
  in the loop, and the weight gradients as one large product each after the backward loop.
- ``"scan"``: ``cell.project`` once and :meth:`~gru_lstm_jax.cells.Cell.step` in a
  ``lax.scan``, which JAX differentiates step by step. With ``remat=True`` each step projects
  its own input inside one ``jax.checkpoint``: the backward pass keeps the inputs and carries
  only, at the cost of recomputation and of ``T`` small products for the weight gradient.
- ``"associative"``: a cell linear in ``h`` (``h' = a ⊙ h + b`` with ``a, b`` from the input
  only, as minGRU and minLSTM; derived from ``update``) in parallel over time, with
  ``jax.lax.associative_scan`` (:mod:`gru_lstm_jax.recurrence.associative`).
- ``"auto"`` (the default): ``"fused"``, or ``"scan"`` with ``remat=True`` (remat trades the
  fused path's stored values for recomputation).
- ``"cudnn"``: the LSTM through cuDNN on a GPU (:mod:`gru_lstm_jax.recurrence.cudnn`);
  ``"cudnn_reference"`` runs ``jax.experimental.rnn.lstm_ref`` on the same converted weights on
  any backend. Only the LSTM cell with its default activations, right padding, and none of
  ``resets``, ``recurrent_mask``, ``remat``, ``unroll`` or ``return_carries``.

All compute the same numbers; the tests hold them to each other.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.checks import check_positive_int
from gru_lstm_jax.recurrence.associative import associative_scan, linear_in_h
from gru_lstm_jax.recurrence.cudnn import CUDNN_IMPLEMENTATIONS, cudnn_scan
from gru_lstm_jax.recurrence.fused import fused_scan
from gru_lstm_jax.recurrence.masks import (
    ScanOutput,
    add_batch_axis,
    check_carry,
    check_flags,
    entering,
    held,
    refuse,
    sequence_mask,
    time_major,
)

__all__ = ["IMPLEMENTATIONS", "check_implementation", "run_scan"]

# The values of ``implementation`` in run_scan and in every layer.
IMPLEMENTATIONS = ("auto", "fused", "scan", "associative", *CUDNN_IMPLEMENTATIONS)


def check_implementation(implementation: Any) -> None:
    """Raises ``ValueError`` unless ``implementation`` is one of :data:`IMPLEMENTATIONS`."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {list(IMPLEMENTATIONS)}; got {implementation!r}"
        )


def _project_step(cell: Cell, params: Any, x_t: jax.Array) -> Any:
    """``cell.project`` of one step ``x_t`` ``(B, F)``: that step's slice of ``xp``."""
    return jax.tree.map(lambda a: a[:, 0], cell.project(params, x_t[:, None]))


def _check_fits(cell: Cell, params: Any, carry: Any, xs: jax.Array) -> None:
    """Raises a ValueError naming the shapes if ``params`` cannot step ``xs`` and ``carry``."""
    batch, _, features = xs.shape
    try:
        jax.eval_shape(
            lambda p, c, x: cell.step(p, c, _project_step(cell, p, x)),
            params, carry, jax.ShapeDtypeStruct((batch, features), xs.dtype),
        )  # fmt: skip
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise ValueError(
            f"cell {cell.name!r}: its parameters do not fit xs with {features} features "
            f"(xs of shape (batch, time, features) = {tuple(xs.shape)}) and a carry whose h "
            f"has shape {tuple(jnp.shape(carry.h))}: {type(error).__name__}: {error}"
        ) from error


def run_scan(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    *,
    hidden_size: int | None = None,
    initial_carry: Any = None,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    resets: jax.Array | None = None,
    recurrent_mask: jax.Array | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
    remat: bool = False,
    return_carries: bool = False,
    implementation: str = "auto",
) -> ScanOutput:
    """Runs ``cell`` over the time axis of ``xs``, by any implementation (module docstring).

    Args:
        cell: any :class:`~gru_lstm_jax.cells.Cell`.
        params: the cell's parameters.
        xs: inputs ``(B, T, F)``, or ``(T, F)`` for one sequence (then ``lengths`` is a scalar,
            ``mask`` and ``resets`` are ``(T,)``, ``recurrent_mask`` is ``(H,)``, and the carry
            and outputs have no batch axis).
        hidden_size: ``H``, used to build the zero initial carry; required unless
            ``initial_carry`` is given, and then used to check its shapes.
        initial_carry: the carry to start from, leaves ``(B, ...)``; default zeros.
        lengths: integer lengths ``(B,)`` in ``[0, T]`` of right-padded sequences.
        mask: boolean ``(B, T)``, True on valid steps; combined with ``lengths`` by AND.
        resets: boolean ``(B, T)``: where True, the carry is reset to the initial carry
            before that step (episode boundaries); ignored on masked steps, which hold the
            carry.
        recurrent_mask: ``(B, H)``, a recurrent-dropout mask (Gal & Ghahramani 2016) applied
            at every step as :func:`~gru_lstm_jax.cells.base.recurrent_dropout` says; a
            constant, into which no derivative flows.
        reverse: process time backwards; each sequence starts at its last valid step and the
            outputs come back in the original order.
        unroll: the ``lax.scan`` unroll factor (an int, or True to unroll fully).
        remat: rematerialise each step, its input projection included, in the backward pass,
            which then keeps only the inputs and the carry entering each step.
        return_carries: also return the carry after every step.
        implementation: one of :data:`IMPLEMENTATIONS` (see the module docstring).

    Returns:
        A :class:`~gru_lstm_jax.recurrence.ScanOutput` ``(outputs (B, T, H), final_carry,
        carries or None)``.

    Raises:
        ValueError: for ``xs`` of the wrong rank or with features the parameters do not fit
            (or a ``hidden_size`` they do not fit), bad ``lengths``, ``mask``, ``resets`` or
            ``recurrent_mask`` (the message names the argument and its expected shape), a
            missing ``hidden_size``, an ``initial_carry`` whose structure or shapes differ from
            the cell's carry, a carry without an ``h`` field, an unknown ``implementation``, or
            ``remat=True`` with ``implementation="fused"``, or an option the cuDNN path
            cannot run.
    """
    xs = jnp.asarray(xs)
    if xs.ndim not in (2, 3):
        raise ValueError(
            "xs must have shape (batch, time, features) or (time, features); "
            f"got shape {tuple(xs.shape)}"
        )
    check_implementation(implementation)
    options = dict(
        hidden_size=hidden_size, initial_carry=initial_carry, lengths=lengths, mask=mask,
        resets=resets, recurrent_mask=recurrent_mask, reverse=reverse, unroll=unroll,
        remat=remat, return_carries=return_carries, implementation=implementation,
    )  # fmt: skip
    if xs.ndim == 2:
        return _run_unbatched(cell, params, xs, **options)
    batch, time = xs.shape[:2]
    valid = sequence_mask(lengths, mask, batch, time)
    resets = check_flags(resets, "resets", batch, time)

    if hidden_size is not None:
        check_positive_int(hidden_size, "hidden_size")
        hidden_size = int(hidden_size)
    if initial_carry is None:
        if hidden_size is None:
            raise ValueError("run_scan needs hidden_size or initial_carry")
        initial_carry = cell.initial_carry((batch,), hidden_size)
    elif hidden_size is not None:
        expected = jax.eval_shape(lambda: cell.initial_carry((batch,), hidden_size))
        check_carry(initial_carry, expected, "initial_carry")
    if not hasattr(initial_carry, "h") or not hasattr(initial_carry, "_replace"):
        raise ValueError(
            f"cell {cell.name!r}: the carry must be a NamedTuple with an 'h' field; got "
            f"{type(initial_carry).__name__}"
        )
    if recurrent_mask is not None:
        recurrent_mask = jnp.asarray(recurrent_mask)
        expected_shape = tuple(jnp.shape(initial_carry.h))
        if recurrent_mask.shape != expected_shape:
            raise ValueError(
                f"recurrent_mask must have the shape of the carry's h, (batch, hidden) = "
                f"{expected_shape}; got {tuple(recurrent_mask.shape)}"
            )

    _check_fits(cell, params, initial_carry, xs)
    if valid is not None:
        # Masked steps never reach the outputs; zero inputs there keep a non-finite padding
        # value (NaN for missing data, say) out of every derivative, where 0 * NaN is NaN.
        xs = jnp.where(valid[..., None], xs, jnp.zeros_like(xs))

    if implementation in CUDNN_IMPLEMENTATIONS:
        options.update(initial_carry=initial_carry, resets=resets, valid=valid)
        return cudnn_scan(cell, params, xs, **options)
    args = (cell, params, xs, initial_carry, valid, resets, recurrent_mask, reverse, unroll)
    if implementation == "associative":
        return _associative(*args, remat, return_carries)
    if implementation == "fused" and remat:
        raise ValueError(
            "implementation='fused' cannot run remat=True: remat recomputes every step, which "
            "the plain scan does; use implementation='auto' or 'scan'"
        )
    if time > 0 and not remat and implementation != "scan":
        return fused_scan(*args, return_carries)
    return _plain_scan(*args, remat, return_carries)


def _plain_scan(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    initial_carry: Any,
    valid: jax.Array | None,
    resets: jax.Array | None,
    recurrent_mask: jax.Array | None,
    reverse: bool,
    unroll: int | bool,
    remat: bool,
    return_carries: bool,
) -> ScanOutput:
    """:func:`run_scan` as a ``lax.scan`` of the cell's step (batched, validated arguments)."""
    if remat:
        # The projection moves into the checkpointed step: the backward pass then keeps only
        # x_t and the carry per step, not the (T, B, ...) projection and its cotangent.
        step = jax.checkpoint(
            lambda p, c, x_t, k: cell.step(p, c, _project_step(cell, p, x_t), k), prevent_cse=False
        )
        scan_xs = jnp.swapaxes(xs, 0, 1)
    else:
        step = cell.step
        scan_xs = time_major(cell.project(params, xs))
    keep = None if recurrent_mask is None else jax.lax.stop_gradient(recurrent_mask)

    def body(carry: Any, inputs: Any) -> tuple[Any, Any]:
        x_t, valid_t, reset_t = inputs
        into = entering(carry, initial_carry, reset_t)
        new_carry, h = held(valid_t, *step(params, into, x_t, keep), carry)
        return new_carry, (h, new_carry if return_carries else None)

    final_carry, (outputs, carries) = jax.lax.scan(
        body, initial_carry, (scan_xs, time_major(valid), time_major(resets)),
        reverse=reverse, unroll=unroll,
    )  # fmt: skip
    return ScanOutput(time_major(outputs), final_carry, time_major(carries))


def _associative(
    cell: Cell, params: Any, xs: jax.Array, initial_carry: Any, valid: Any, resets: Any,
    recurrent_mask: Any, reverse: bool, unroll: int | bool, remat: bool, return_carries: bool,
) -> ScanOutput:  # fmt: skip
    """:func:`run_scan` through :func:`~gru_lstm_jax.recurrence.associative.associative_scan`."""
    one_step = jax.ShapeDtypeStruct((xs.shape[0], xs.shape[2]), xs.dtype)
    xp_t = jax.eval_shape(functools.partial(_project_step, cell), params, one_step)
    refuse("associative", {
        f"cell {cell.name!r} (its update is not h' = a * h + b with a, b from the input only, "
        "as in min_gru and min_lstm)": not linear_in_h(cell, params, initial_carry, xp_t),
        "remat": bool(remat),
        "unroll": isinstance(unroll, bool) or unroll != 1,
    })  # fmt: skip
    run = associative_scan if xs.shape[1] else functools.partial(_plain_scan, unroll=1, remat=False)
    return run(
        cell, params, xs, initial_carry, valid, resets, recurrent_mask, reverse=reverse,
        return_carries=return_carries,
    )  # fmt: skip


def _run_unbatched(cell: Cell, params: Any, xs: jax.Array, **options: Any) -> ScanOutput:
    """:func:`run_scan` for one ``(T, F)`` sequence: adds and removes a batch axis of 1."""
    names = ("lengths", "mask", "resets", "recurrent_mask", "initial_carry")
    xs, batched = add_batch_axis(xs, **{name: options[name] for name in names})
    return jax.tree.map(lambda a: a[0], run_scan(cell, params, xs, **{**options, **batched}))
