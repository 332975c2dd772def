"""Running any cell over time with ``jax.lax.scan``: masks, lengths, reverse, unroll, remat.

Inputs are batch-major ``(B, T, F)`` (or one unbatched sequence ``(T, F)``); the scan runs
time-major inside. Variable-length batches are right-padded and described by ``lengths``
``(B,)`` and/or a boolean ``mask`` ``(B, T)``: on a masked step the carry is held and the output
is zero, so padding never changes a valid output or the final carry.

``reverse=True`` runs from the last time step to the first while holding the carry on masked
steps. For right padding this is exactly "reverse each sequence within its own length": the
padding steps come first in reverse order and leave the initial carry untouched, so the first
real update is the last real token. Outputs are returned in the original time order.

Two implementations compute the same numbers:

- the reference scan runs ``cell.project`` once and ``cell.step`` in a ``lax.scan``, and JAX
  differentiates it step by step; any cell runs this way. With ``remat=True`` each step
  projects its own input inside one ``jax.checkpoint``, so that the backward pass keeps only
  the inputs and the carries (see :func:`run_scan`).
- the fused recurrence runs a cell that offers a :class:`~gru_lstm_jax.cells.SplitStep` (the
  LSTM, both GRUs and the tanh RNN do). Its time loop keeps only the recurrent product and the
  gate math and stores what the derivative needs (gate activations or the derivative's
  coefficients) in place of the input projection, as cuDNN's reserve space; its derivative is a
  ``jax.custom_jvp`` whose tangent takes the weight tangents as one large matrix product over
  all ``T * B`` rows, outside the loop. Reverse mode transposes that, so the weight gradients
  are one large product each (as cuDNN computes them) instead of one small product per step,
  and the backward loop is only ``dh @ U^T`` and the gate math. Being a ``custom_jvp``, it
  supports ``grad``, ``jvp``, ``vmap`` and higher derivatives.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from gru_lstm_jax.cells import Cell, SplitStep

__all__ = [
    "IMPLEMENTATIONS",
    "ScanOutput",
    "add_batch_axis",
    "last_output",
    "run_scan",
    "sequence_mask",
]

# The values of run_scan's ``implementation`` argument.
IMPLEMENTATIONS = ("auto", "fused", "reference")


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
    implementation: str = "auto",
) -> ScanOutput:
    """Runs ``cell`` over the time axis of ``xs`` with ``jax.lax.scan``.

    Without ``remat`` the input projection runs once over all steps and the scan does only the
    recurrent part. Both implementations (see the module docstring) give the same values and
    derivatives.

    With ``remat=True`` the reference scan runs, and each step is one ``jax.checkpoint`` that
    projects its own input (``cell.project`` on that one step, which is that step's slice of the
    projection since ``project`` treats time steps independently) and then takes the step. For
    the backward pass it keeps only the carry before every step (leaves ``(T, B, ...)``) and the
    inputs ``(T, B, F)``. Without remat it keeps every step's intermediates: the fused
    recurrence stores what its derivative needs (e.g. the LSTM's gate coefficients
    ``(T, B, 4H)``), the reference scan the projection ``(T, B, G*H)`` for ``G`` gates, its
    cotangent and the step's activations. The cost is compute: the backward pass runs every
    step's forward again, the input projection and its weight gradient become ``T`` small matrix
    products instead of one large one each, and the fused recurrence's large weight-gradient
    products are given up.

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
        remat: rematerialise each step, its input projection included, in the backward pass
            (``jax.checkpoint``), trading compute for memory on long sequences (see above);
            runs the reference scan.
        return_carries: also return the carry after every step.
        implementation: ``"auto"`` (the fused recurrence when the cell offers a
            :class:`~gru_lstm_jax.cells.SplitStep` that matches its ``step`` and ``remat`` is
            off, else the reference scan), ``"fused"`` (require the fused recurrence) or
            ``"reference"``.

    Returns:
        A :class:`ScanOutput` ``(outputs (B, T, H), final_carry, carries or None)``.

    Raises:
        ValueError: for ``xs`` of the wrong rank, bad ``lengths`` / ``mask`` (see
            :func:`sequence_mask`), a missing ``hidden_size``, an ``initial_carry`` whose
            structure or shapes differ from the cell's carry, an unknown ``implementation``, or
            ``implementation="fused"`` for a cell or option that the fused recurrence does not
            cover.
    """
    xs = jnp.asarray(xs)
    if xs.ndim not in (2, 3):
        raise ValueError(
            "xs must have shape (batch, time, features) or (time, features); "
            f"got shape {tuple(xs.shape)}"
        )
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {list(IMPLEMENTATIONS)}; got {implementation!r}"
        )
    unbatched = xs.ndim == 2
    if unbatched:
        return _run_unbatched(
            cell, params, xs, hidden_size=hidden_size, initial_carry=initial_carry,
            lengths=lengths, mask=mask, reverse=reverse, unroll=unroll, remat=remat,
            return_carries=return_carries, implementation=implementation,
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

    unavailable = _why_not_fused(cell, remat, time)
    if implementation == "fused" and unavailable:
        raise ValueError(f"implementation='fused' is not available: {unavailable}")
    if implementation != "reference" and not unavailable:
        return _fused_scan(cell, params, xs, initial_carry, valid, reverse, unroll, return_carries)

    if remat:
        # The projection moves into the checkpointed step: the backward pass then keeps only
        # x_t and the carry per step, not the (T, B, ...) projection and its cotangent.
        step = jax.checkpoint(_project_and_step(cell), prevent_cse=False)
        scan_xs = jnp.swapaxes(xs, 0, 1)
    else:
        step = cell.step
        scan_xs = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), cell.project(params, xs))

    if valid is None:

        def body(carry: Any, x_t: Any) -> tuple[Any, Any]:
            new_carry, h = step(params, carry, x_t)
            return new_carry, (h, new_carry if return_carries else None)

        scan_inputs = scan_xs
    else:

        def body(carry: Any, inputs: tuple[Any, jax.Array]) -> tuple[Any, Any]:
            x_t, valid_t = inputs
            new_carry, h = step(params, carry, x_t)
            new_carry = _where_steps(valid_t, new_carry, carry)
            h = jnp.where(valid_t[:, None], h, jnp.zeros_like(h))
            return new_carry, (h, new_carry if return_carries else None)

        scan_inputs = (scan_xs, jnp.swapaxes(valid, 0, 1))

    final_carry, (outputs, carries) = jax.lax.scan(
        body, initial_carry, scan_inputs, reverse=reverse, unroll=unroll
    )
    outputs = jnp.swapaxes(outputs, 0, 1)
    if return_carries:
        carries = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), carries)
    return ScanOutput(outputs, final_carry, carries)


def _project_and_step(cell: Cell) -> Any:
    """``cell.step`` on the raw input: ``(params, carry, x_t (B, F)) -> (carry, h_t (B, H))``.

    It projects the one step with ``cell.project(params, x_t[:, None])`` (a sequence of length
    one) and takes that step, so it computes what ``cell.step`` computes on the step's slice of
    ``cell.project(params, xs)``.
    """

    def project_and_step(params: Any, carry: Any, x_t: jax.Array) -> tuple[Any, jax.Array]:
        xp_t = jax.tree.map(lambda a: a[:, 0], cell.project(params, x_t[:, None]))
        return cell.step(params, carry, xp_t)

    return project_and_step


def _why_not_fused(cell: Cell, remat: bool, time: int) -> str | None:
    """Why the fused recurrence cannot run ``cell``, or ``None`` when it can."""
    if cell.split is None:
        return f"cell {cell.name!r} offers no SplitStep"
    if cell.split.step is not cell.step:
        return f"the step of cell {cell.name!r} was replaced and no longer matches its SplitStep"
    if remat:
        return "remat=True recomputes steps, which only the reference scan does"
    if time == 0:
        return "there are no time steps"
    return None


def _fused_scan(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    initial_carry: Any,
    valid: jax.Array | None,
    reverse: bool,
    unroll: int | bool,
    return_carries: bool,
) -> ScanOutput:
    """:func:`run_scan` through the fused recurrence of ``cell.split`` (batched ``xs``)."""
    weights = cell.split.weights(params)
    blocks, width = cell.split.blocks, weights.kernel.shape[-1]
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks <= 0 or width % blocks:
        raise ValueError(
            f"the SplitStep of cell {cell.name!r} has blocks={blocks!r}, which must be a "
            f"positive int dividing the projection width K={width}"
        )
    batch, time = xs.shape[:2]
    # Time-major inside, so that every step reads and writes its own contiguous (B, K) row (read
    # one gate block at a time, see _read_blocks); the input is transposed before the
    # projection because it is narrower than xp.
    xs_tm = jnp.swapaxes(xs, 0, 1).reshape(time * batch, xs.shape[2])
    xw = (xs_tm @ weights.kernel).reshape(time, batch, -1)
    valid_tm = None if valid is None else jnp.swapaxes(valid, 0, 1)
    recurrence = _fused_recurrence(cell.split, reverse, unroll, return_carries)
    stacked, final_carry = recurrence(
        weights.bias, weights.recurrent_kernel, weights.recurrent_bias, weights.inner, xw,
        initial_carry, valid_tm,
    )  # fmt: skip
    hs = stacked.h if return_carries else stacked
    if valid_tm is not None:
        hs = jnp.where(valid_tm[..., None], hs, jnp.zeros_like(hs))
    carries = jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), stacked) if return_carries else None
    return ScanOutput(jnp.swapaxes(hs, 0, 1), final_carry, carries)


def _index(tree: Any, t: jax.Array) -> Any:
    return jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, t, keepdims=False), tree)


def _update(tree: Any, value: Any, t: jax.Array) -> Any:
    return jax.tree.map(lambda a, v: jax.lax.dynamic_update_index_in_dim(a, v, t, 0), tree, value)


def _read_blocks(a: jax.Array, t: jax.Array, blocks: int, bias: Any = None) -> jax.Array:
    """Row ``t`` of ``a`` ``(T, B, K)``, plus ``bias`` ``(K,)`` if given: ``(B, K)``.

    The row is read as ``blocks`` column blocks of width ``K / blocks``, one ``dynamic_slice``
    each, and joined. A cell's step then slices the join back into its gates, which XLA folds
    into one ``dynamic_slice`` per gate. Slicing one ``(B, K)`` dynamic slice instead keeps XLA
    (CPU) from vectorising the fused gate math around it: on the wide GRU the forward loop's
    gate math took 26 ms of 100 steps that way and 4-6 ms this way.
    """
    width = a.shape[-1] // blocks
    parts = []
    for k in range(blocks):
        part = jax.lax.dynamic_slice(a, (t, 0, k * width), (1, a.shape[1], width))[0]
        parts.append(part if bias is None else part + bias[k * width : (k + 1) * width])
    return jnp.concatenate(parts, axis=-1)


def _is_zero(tangent: Any) -> bool:
    return type(tangent) is SymbolicZero


def _instantiate(tangents: Any, primals: Any) -> Any:
    """``tangents`` with every symbolic zero replaced by zeros like its primal."""
    return jax.tree.map(
        lambda d, p: jnp.zeros_like(p) if _is_zero(d) else d, tangents, primals, is_leaf=_is_zero
    )


@functools.cache
def _fused_recurrence(
    split: SplitStep, reverse: bool, unroll: int | bool, return_carries: bool
) -> Any:
    """The fused recurrence of ``split`` as a ``custom_jvp`` function.

    The function maps ``(b (K,), U (H, K_h), b_h (K_h,) or None, inner, xw (T, B, K),
    carry0 (B, ...), valid (T, B) or None)``, where ``xw = x @ W`` is the input projection
    without its bias, to ``(stacked, final_carry)``: ``stacked`` is the carry after every step
    with leaves ``(T, B, ...)`` when ``return_carries``, else only its ``h`` ``(T, B, H)``.
    """
    # Carries are stacked with the initial one in a (T + 1)-row buffer, so that the carry before
    # and after step t are rows of one array: ``prev_row + t`` and ``new_row + t``.
    new_row, prev_row = (0, 1) if reverse else (1, 0)

    def outputs_of(carries: Any) -> Any:
        return carries if return_carries else carries.h

    def after_steps(rows: Any) -> Any:
        return jax.tree.map(lambda a: a[new_row : new_row + a.shape[0] - 1], rows)

    def step(inner: Any, U: jax.Array, bh: Any, carry: Any, xp_t: jax.Array, valid_t: Any) -> Any:
        hp_t = carry.h @ U if bh is None else carry.h @ U + bh
        new, saved, extra = split.forward(inner, carry, xp_t, hp_t)
        if valid_t is not None:
            new = _where_steps(valid_t, new, carry)
        return new, saved, extra

    @jax.custom_jvp
    def recurrence(
        b: jax.Array, U: jax.Array, bh: Any, inner: Any, xw: jax.Array, carry0: Any, valid: Any
    ) -> tuple[Any, Any]:
        def body(carry: Any, inputs: Any) -> tuple[Any, Any]:
            t, valid_t = inputs
            new, _, _ = step(inner, U, bh, carry, _read_blocks(xw, t, split.blocks, b), valid_t)
            return new, outputs_of(new)

        final, stacked = jax.lax.scan(
            body, carry0, (jnp.arange(xw.shape[0]), valid), reverse=reverse, unroll=unroll
        )
        return stacked, final

    def recurrence_jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        b, U, bh, inner, xw, carry0, valid = primals
        db, dU, dbh, d_inner, dxw, dcarry0, _ = tangents
        time, batch, width = xw.shape[0], xw.shape[1], U.shape[1]
        hp_shape = jax.eval_shape(lambda c: c.h @ U, carry0)
        saves = jax.eval_shape(split.forward, inner, carry0, xw[0], hp_shape)[1] is not None
        rows0 = jax.tree.map(lambda c: jnp.zeros((time + 1, *c.shape), c.dtype), carry0)
        rows0 = _update(rows0, carry0, time if reverse else 0)

        def body(state: Any, inputs: Any) -> tuple[Any, Any]:
            carry, buffer, rows = state
            t, valid_t = inputs
            xp_t = _read_blocks(buffer, t, split.blocks, b)
            new, saved, extra = step(inner, U, bh, carry, xp_t, valid_t)
            if saved is not None:
                # The saved values overwrite xw_t, which no later step reads: one buffer serves
                # both, as cuDNN's reserve space.
                buffer = jax.lax.dynamic_update_index_in_dim(buffer, saved, t, 0)
            return (new, buffer, _update(rows, new, t + new_row)), extra

        (final, buffer, rows), extras = jax.lax.scan(
            body, (carry0, xw, rows0), (jnp.arange(time), valid), reverse=reverse, unroll=unroll
        )
        stacked = outputs_of(after_steps(rows))

        # The tangents of the weights and biases enter as large products over all T * B rows,
        # outside the loop; reverse mode turns them into dU = H_prev^T @ d(hp) and dW = X^T @
        # d(xp), one large product each after the loop, as cuDNN computes weight gradients.
        dxp = None if _is_zero(dxw) else dxw
        if not _is_zero(db):
            dxp = jnp.broadcast_to(db, xw.shape) if dxp is None else dxp + db
        dhp = None
        if not _is_zero(dU):
            h_prev = rows.h[prev_row : prev_row + time].reshape(time * batch, -1)
            dhp = (h_prev @ dU).reshape(time, batch, width)
        if bh is not None and not _is_zero(dbh):
            dhp = jnp.broadcast_to(dbh, (time, batch, width)) if dhp is None else dhp + dbh
        if split.additive and dhp is not None:
            dxp, dhp = (dhp if dxp is None else dxp + dhp), None
        leaves = jax.tree.leaves(d_inner, is_leaf=_is_zero)
        d_inner = None if all(map(_is_zero, leaves)) else _instantiate(d_inner, inner)

        # U^T, laid out once before the loop: reverse mode transposes ``dh @ U`` into ``dz @ U^T``,
        # a product that reads U against its layout at every step unless U^T is its own array.
        U_t = jnp.swapaxes(U, 0, 1)

        # Rematerialised, so that reverse mode recomputes what the tangent derives from the
        # saved values instead of storing it for every step.
        @functools.partial(jax.checkpoint, prevent_cse=False)
        def tangent_body(dcarry: Any, inputs: Any) -> tuple[Any, Any]:
            t, dxp_t, dhp_t, extra_t, valid_t = inputs
            saved_t = _read_blocks(buffer, t, split.blocks) if saves else None
            d_rec = jax.lax.dot_general(dcarry.h, U_t, (((dcarry.h.ndim - 1,), (1,)), ((), ())))
            d_rec = d_rec if dhp_t is None else d_rec + dhp_t
            if split.additive:
                d_in = d_rec if dxp_t is None else dxp_t + d_rec
                d_rec = None
            else:
                d_in = jnp.zeros_like(xw[0]) if dxp_t is None else dxp_t
            prev, new = _index(rows, t + prev_row), _index(rows, t + new_row)
            dnew = split.tangent(inner, d_inner, saved_t, extra_t, prev, new, dcarry, d_in, d_rec)
            if valid_t is not None:
                dnew = _where_steps(valid_t, dnew, dcarry)
            return dnew, outputs_of(dnew)

        dfinal, dstacked = jax.lax.scan(
            tangent_body, _instantiate(dcarry0, carry0),
            (jnp.arange(time), dxp, dhp, extras, valid),
            reverse=reverse, unroll=unroll,
        )  # fmt: skip
        return (stacked, final), (dstacked, dfinal)

    recurrence.defjvp(recurrence_jvp, symbolic_zeros=True)
    return recurrence


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
