"""Running any cell over time with ``jax.lax.scan``: masks, lengths, reverse, unroll, remat.

Inputs are batch-major ``(B, T, F)`` (or one unbatched sequence ``(T, F)``); the scan runs
time-major inside. Variable-length batches are right-padded and described by ``lengths``
``(B,)`` and/or a boolean ``mask`` ``(B, T)``: on a masked step the carry is held and the output
is zero, so padding never changes a valid output or the final carry.

``reverse=True`` runs from the last time step to the first while holding the carry on masked
steps. For right padding this is exactly "reverse each sequence within its own length": the
padding steps come first in reverse order and leave the initial carry untouched, so the first
real update is the last real token. Outputs are returned in the original time order.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gru_lstm_jax.cells import Cell

__all__ = ["ScanOutput", "add_batch_axis", "last_output", "run_scan", "sequence_mask"]


class ScanOutput(NamedTuple):
    """The result of :func:`run_scan`.

    Attributes:
        outputs: ``(B, T, H)`` (or ``(T, H)``): ``h_t`` at every valid step, zero on masked steps,
            in the original time order.
        final_carry: the carry after the last processed valid step; leaves ``(B, ...)``.
        carries: the carry after every step (held on masked steps) with leaves ``(B, T, ...)``,
            when ``return_carries=True``; otherwise ``None``.
    """

    outputs: jax.Array
    final_carry: Any
    carries: Any


def _is_concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def sequence_mask(
    lengths: jax.Array | None, mask: jax.Array | None, batch: int, time: int
) -> jax.Array | None:
    """Validates ``lengths`` and ``mask`` and combines them into one boolean mask.

    Args:
        lengths: ``None`` or integer lengths ``(batch,)`` in ``[0, time]`` (right padding).
        mask: ``None`` or a boolean mask ``(batch, time)``; ``True`` marks a valid step.
        batch: the batch size ``B``.
        time: the number of time steps ``T``.

    Returns:
        ``None`` when both are ``None``, otherwise a boolean ``(batch, time)`` mask that is the
        logical AND of ``mask`` and ``t < lengths``.

    Raises:
        ValueError: if a shape or dtype is wrong, or (for concrete values) a length lies
            outside ``[0, time]``.
    """
    combined = None
    if lengths is not None:
        lengths = jnp.asarray(lengths)
        if lengths.shape != (batch,):
            raise ValueError(
                f"lengths must have shape (batch,) = ({batch},); got {tuple(lengths.shape)}"
            )
        if not jnp.issubdtype(lengths.dtype, jnp.integer):
            raise ValueError(f"lengths must be integers; got dtype {lengths.dtype}")
        if _is_concrete(lengths):
            values = np.asarray(lengths)
            if values.size and (values.min() < 0 or values.max() > time):
                raise ValueError(
                    f"lengths must lie in [0, T] = [0, {time}]; got values from {values.min()} "
                    f"to {values.max()}"
                )
        combined = jnp.arange(time)[None, :] < lengths[:, None]
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != (batch, time):
            raise ValueError(
                f"mask must have shape (batch, time) = ({batch}, {time}); got {tuple(mask.shape)}"
            )
        if mask.dtype != jnp.bool_:
            raise ValueError(f"mask must be boolean; got dtype {mask.dtype}")
        combined = mask if combined is None else combined & mask
    return combined


def _where_steps(valid: jax.Array, new: Any, old: Any) -> Any:
    """Per batch row, picks ``new`` where ``valid`` ``(B,)`` is True and ``old`` elsewhere."""

    def pick(n: jax.Array, o: jax.Array) -> jax.Array:
        return jnp.where(valid.reshape(valid.shape + (1,) * (n.ndim - 1)), n, o)

    return jax.tree.map(pick, new, old)


def _describe(tree: Any) -> str:
    """``LSTMState(h=(3, 5), c=(3, 5))``-style text of a pytree's structure and leaf shapes."""
    leaves, treedef = jax.tree.flatten(tree)
    shapes = [f"({', '.join(map(str, jnp.shape(leaf)))})" for leaf in leaves]
    if hasattr(tree, "_fields") and len(tree._fields) == len(shapes):
        fields = ", ".join(f"{n}={s}" for n, s in zip(tree._fields, shapes, strict=True))
        return f"{type(tree).__name__}({fields})"
    return f"{treedef} with leaf shapes {', '.join(shapes)}"


def _check_carry(carry: Any, expected: Any, name: str) -> None:
    same_structure = jax.tree.structure(carry) == jax.tree.structure(expected)
    if not same_structure or any(
        tuple(jnp.shape(a)) != tuple(b.shape)
        for a, b in zip(jax.tree.leaves(carry), jax.tree.leaves(expected), strict=True)
    ):
        raise ValueError(f"{name} must be {_describe(expected)}; got {_describe(carry)}")


def run_scan(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    *,
    hidden_size: int | None = None,
    initial_carry: Any = None,
    lengths: jax.Array | None = None,
    mask: jax.Array | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
    remat: bool = False,
    return_carries: bool = False,
) -> ScanOutput:
    """Runs ``cell`` over the time axis of ``xs`` with ``jax.lax.scan``.

    The input projection ``cell.project`` runs once over all steps; the scan does only the
    recurrent part ``cell.step``.

    Args:
        cell: any :class:`~gru_lstm_jax.cells.Cell`.
        params: the cell's parameters.
        xs: inputs ``(B, T, F)``, or ``(T, F)`` for one sequence (then ``lengths`` is a scalar,
            ``mask`` is ``(T,)`` and the carry and outputs have no batch axis).
        hidden_size: ``H``, used to build the zero initial carry; required unless
            ``initial_carry`` is given, and then used to check its shapes.
        initial_carry: the carry to start from, leaves ``(B, ...)``; default zeros.
        lengths: integer lengths ``(B,)`` in ``[0, T]`` of right-padded sequences.
        mask: boolean ``(B, T)``, True on valid steps; combined with ``lengths`` by AND.
        reverse: process time backwards; each sequence starts at its last valid step and the
            outputs come back in the original order.
        unroll: the ``lax.scan`` unroll factor (an int, or True to unroll fully).
        remat: rematerialise each step in the backward pass (``jax.checkpoint``), trading
            compute for memory on long sequences.
        return_carries: also return the carry after every step.

    Returns:
        A :class:`ScanOutput` ``(outputs (B, T, H), final_carry, carries or None)``.

    Raises:
        ValueError: for ``xs`` of the wrong rank, bad ``lengths`` / ``mask`` (see
            :func:`sequence_mask`), a missing ``hidden_size``, or an ``initial_carry`` whose
            structure or shapes differ from the cell's carry.
    """
    xs = jnp.asarray(xs)
    if xs.ndim not in (2, 3):
        raise ValueError(
            "xs must have shape (batch, time, features) or (time, features); "
            f"got shape {tuple(xs.shape)}"
        )
    unbatched = xs.ndim == 2
    if unbatched:
        return _run_unbatched(
            cell, params, xs, hidden_size=hidden_size, initial_carry=initial_carry,
            lengths=lengths, mask=mask, reverse=reverse, unroll=unroll, remat=remat,
            return_carries=return_carries,
        )  # fmt: skip
    batch, time = xs.shape[:2]
    valid = sequence_mask(lengths, mask, batch, time)

    if hidden_size is not None and (not isinstance(hidden_size, int) or hidden_size <= 0):
        raise ValueError(f"hidden_size must be a positive int; got {hidden_size!r}")
    if initial_carry is None:
        if hidden_size is None:
            raise ValueError("run_scan needs hidden_size or initial_carry")
        initial_carry = cell.initial_carry((batch,), hidden_size)
    elif hidden_size is not None:
        expected = jax.eval_shape(lambda: cell.initial_carry((batch,), hidden_size))
        _check_carry(initial_carry, expected, "initial_carry")

    step = jax.checkpoint(cell.step, prevent_cse=False) if remat else cell.step
    xp = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), cell.project(params, xs))

    if valid is None:

        def body(carry: Any, xp_t: Any) -> tuple[Any, Any]:
            new_carry, h = step(params, carry, xp_t)
            return new_carry, (h, new_carry if return_carries else None)

        scan_inputs = xp
    else:

        def body(carry: Any, inputs: tuple[Any, jax.Array]) -> tuple[Any, Any]:
            xp_t, valid_t = inputs
            new_carry, h = step(params, carry, xp_t)
            new_carry = _where_steps(valid_t, new_carry, carry)
            h = jnp.where(valid_t[:, None], h, jnp.zeros_like(h))
            return new_carry, (h, new_carry if return_carries else None)

        scan_inputs = (xp, jnp.swapaxes(valid, 0, 1))

    final_carry, (outputs, carries) = jax.lax.scan(
        body, initial_carry, scan_inputs, reverse=reverse, unroll=unroll
    )
    outputs = jnp.swapaxes(outputs, 0, 1)
    if return_carries:
        carries = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), carries)
    return ScanOutput(outputs, final_carry, carries)


def add_batch_axis(
    xs: jax.Array, lengths: Any, mask: Any, initial_carry: Any
) -> tuple[jax.Array, Any, Any, Any]:
    """One ``(T, F)`` sequence as a batch of one, with its scalar length, ``(T,)`` mask and carry.

    Args:
        xs: ``(T, F)``.
        lengths: ``None`` or a scalar length.
        mask: ``None`` or a boolean ``(T,)`` mask.
        initial_carry: ``None`` or a carry without batch axis.

    Returns:
        ``(xs (1, T, F), lengths (1,), mask (1, T), initial_carry)``, ``None`` kept as ``None``.

    Raises:
        ValueError: if ``lengths`` is not a scalar or ``mask`` not ``(T,)``.
    """
    time = xs.shape[0]
    if lengths is not None:
        lengths = jnp.asarray(lengths)
        if lengths.shape != ():
            raise ValueError(
                f"lengths must be a scalar for an unbatched (T, F) input; got shape {lengths.shape}"
            )
        lengths = lengths[None]
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != (time,):
            raise ValueError(
                f"mask must have shape (time,) = ({time},) for an unbatched (T, F) input; "
                f"got {tuple(mask.shape)}"
            )
        mask = mask[None]
    if initial_carry is not None:
        initial_carry = jax.tree.map(lambda a: jnp.asarray(a)[None], initial_carry)
    return xs[None], lengths, mask, initial_carry


def _run_unbatched(cell: Cell, params: Any, xs: jax.Array, **kwargs: Any) -> ScanOutput:
    """:func:`run_scan` for one ``(T, F)`` sequence: adds and removes a batch axis of 1."""
    xs, kwargs["lengths"], kwargs["mask"], kwargs["initial_carry"] = add_batch_axis(
        xs, kwargs["lengths"], kwargs["mask"], kwargs["initial_carry"]
    )
    return jax.tree.map(lambda a: a[0], run_scan(cell, params, xs, **kwargs))


def last_output(
    outputs: jax.Array, mask: jax.Array | None = None, *, reverse: bool = False
) -> jax.Array:
    """The output of the last processed valid step of each sequence.

    Forward, that is the output at the last valid time step; with ``reverse=True`` it is the
    output at the first valid time step (the last one the backward pass reaches). A sequence
    with no valid step gives zeros.

    Args:
        outputs: ``(B, T, H)`` from :func:`run_scan`.
        mask: boolean ``(B, T)`` valid-step mask (see :func:`sequence_mask`), or ``None``.
        reverse: whether the outputs came from a reverse scan.

    Returns:
        ``(B, H)``.
    """
    if mask is None:
        return outputs[:, 0] if reverse else outputs[:, -1]
    time = outputs.shape[1]
    # argmax finds the first True; on the flipped mask, the last one.
    first = jnp.argmax(mask, axis=1)
    last = time - 1 - jnp.argmax(mask[:, ::-1], axis=1)
    index = first if reverse else last
    return jnp.take_along_axis(outputs, index[:, None, None], axis=1)[:, 0]
