"""The fused recurrence: any cell over time, with its derivative derived from ``update``.

The time loop keeps only the recurrent product ``h @ U`` and the cell's ``update``; the input
projection runs once over all ``T * B`` rows before it. The derivative is a ``jax.custom_jvp``
built from ``jax.linearize`` of ``update``:

- the forward loop linearises every step's ``update`` and stores what its linear map needs,
  as cuDNN's reserve space: the results of its nonlinear functions (the gate activations; a
  ``jax.checkpoint`` policy keeps those and recomputes the cheap arithmetic around them), in
  the step's row of the projection as far as they fit; values that depend on the parameters
  only are computed once, outside the loop;
- the tangent loop applies those linear maps, carrying only ``dh @ U`` from step to step;
  where ``update`` reads ``xp_t`` and ``hp_t`` only as their sum (derived, see
  :func:`~gru_lstm_jax.recurrence.derive.hp_terms`), one tangent per step stands for both;
- a bias that the projection adds is added in the loop as each row is read, and a bias that
  ``update`` adds to ``hp_t`` has its tangent added to the one of ``hp_t`` (both derived, see
  :mod:`~gru_lstm_jax.recurrence.derive`), so that their gradients are sums after the loop;
- each step's row of the projection, and each stored value, is read with its own slice per
  gate block (the blocks derived from how ``update`` splits ``xp_t``), which lets XLA (CPU)
  vectorise the gate math;
- the tangents of the input projection and of ``U`` enter as large products over all ``T * B``
  rows, outside the loop. Reverse mode transposes them into one large product each for the
  weight gradients (``dU = H_prev^T @ d(hp)``, and the projection's own transpose), as cuDNN
  computes them, instead of one small product per step.

Being a ``custom_jvp``, it supports ``grad``, ``jvp``, ``vmap`` and higher derivatives.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.cells.base import matmul, recurrent_dropout
from gru_lstm_jax.recurrence.derive import (
    added_by_project,
    depends_on,
    exact_rounding_removed,
    hp_terms,
    keep_activations,
    params_read,
    passed_through,
    reads_precede,
    row_blocks_of,
)
from gru_lstm_jax.recurrence.masks import ScanOutput, entering, held, time_major

__all__ = ["fused_scan"]


def fused_scan(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    initial_carry: Any,
    valid: jax.Array | None,
    resets: jax.Array | None,
    recurrent_mask: jax.Array | None,
    reverse: bool,
    unroll: int | bool,
    return_carries: bool,
) -> ScanOutput:
    """``run_scan`` through the fused recurrence: batched arguments that it validated, ``T >= 1``.

    ``valid`` ``(B, T)`` is the combined mask of valid steps (or ``None``). Returns a
    :class:`~gru_lstm_jax.recurrence.ScanOutput`, batch-major.
    """
    # Time-major inside, so that every step reads and writes contiguous rows; the input is
    # transposed before the projection because it is narrower than the projection. Steps are
    # independent in the projection, so all T * B rows go in as one sequence: one plain
    # matrix product, and one for its weight gradient.
    batch, time, features = xs.shape
    rows = time_major(xs).reshape(time * batch, features)
    leaves, treedef = jax.tree.flatten(params)
    biases = added_by_project(cell.project, params, rows)
    folded = [leaf for leaf, bias in zip(leaves, biases, strict=True) if bias]
    biases = jax.tree.unflatten(treedef, biases)
    xp_bias = sum(folded[1:], folded[0]) if folded else None
    unbiased = jax.tree.map(lambda a, bias: jnp.zeros_like(a) if bias else a, params, biases)
    xp = cell.project(unbiased, rows)
    xp = jax.tree.map(lambda a: a.reshape(time, batch, *a.shape[1:]), xp)
    U = None if cell.recurrent_kernel is None else cell.recurrent_kernel(params)
    keep = None if recurrent_mask is None else jax.lax.stop_gradient(recurrent_mask)
    recurrence = _fused_recurrence(cell.update, reverse, unroll, return_carries)
    outputs, final, carries = recurrence(
        params, U, xp, xp_bias, initial_carry, time_major(valid), time_major(resets), keep
    )
    return ScanOutput(time_major(outputs), final, time_major(carries))


@functools.cache
def _fused_recurrence(
    update: Callable[..., tuple], reverse: bool, unroll: int | bool, return_carries: bool
) -> Any:
    """The fused recurrence of ``update`` as a ``custom_jvp`` function.

    The function maps ``(params, U (H, K) or None, xp (T, B, ...), xp_bias (K,) or None (added
    to every row of ``xp``), carry0 (B, ...), valid (T, B) or None, resets (T, B) or None,
    keep (B, H) or None)`` to ``(outputs (T, B, H), final carry, carries (T, B, ...) or
    None)``.
    """

    def two_outputs(params: Any, carry: Any, xp_t: Any, hp_t: Any) -> tuple[Any, jax.Array]:
        new, h, *_ = update(params, carry, xp_t, hp_t)
        return new, h

    def product(h: jax.Array, U: Any) -> Any:
        return None if U is None else matmul(h, U)

    def finish(valid_t: Any, new: Any, h: jax.Array, carry: Any) -> tuple[Any, jax.Array, Any]:
        """The step's carry (held on masked steps) and the scan's outputs."""
        new, h = held(valid_t, new, h, carry)
        return new, (h, new if return_carries else None)

    def scan(body: Callable, init: Any, inputs: Any) -> Any:
        return jax.lax.scan(body, init, inputs, reverse=reverse, unroll=unroll)

    def steps(xp: Any) -> jax.Array:
        return jnp.arange(jax.tree.leaves(xp)[0].shape[0])

    def row_blocks(params: Any, carry0: Any, xp: Any, U: Any) -> list[int]:
        xp_0 = jax.tree.map(lambda a: a[0], xp)
        return row_blocks_of(update, params, carry0, xp_0, product(carry0.h, U))

    @jax.custom_jvp
    def recurrence(
        params: Any,
        U: Any,
        xp: Any,
        xp_bias: Any,
        carry0: Any,
        valid: Any,
        resets: Any,
        keep: Any,
    ) -> tuple[jax.Array, Any, Any]:
        blocks = row_blocks(params, carry0, xp, U)

        def body(carry: Any, inputs: Any) -> tuple[Any, Any]:
            t, valid_t, reset_t = inputs
            into, h_in = recurrent_dropout(entering(carry, carry0, reset_t), keep, U is not None)
            new, h = two_outputs(params, into, read_row(xp, t, blocks, xp_bias), product(h_in, U))
            return finish(valid_t, new, h, carry)

        final, (outputs, carries) = scan(body, carry0, (steps(xp), valid, resets))
        return outputs, final, carries

    def linearized(params: Any, into: Any, xp_t: Any, hp_t: Any) -> tuple[Any, Any]:
        step = jax.checkpoint(two_outputs, policy=keep_activations)
        return exact_rounding_removed(functools.partial(jax.linearize, step))(
            params, into, xp_t, hp_t
        )

    def recurrence_jvp(primals: tuple, tangents: tuple) -> tuple[Any, Any]:
        params, U, xp, xp_bias, carry0, valid, resets, keep = primals
        d_params, dU, dxp, d_xp_bias, dcarry0, *_ = tangents
        xp_0 = read_row(xp, 0, [1] * len(jax.tree.leaves(xp)), xp_bias)
        into_0, h_in_0 = recurrent_dropout(carry0, keep, U is not None)
        hp_0 = product(h_in_0, U)
        blocks = row_blocks(params, carry0, xp, U)

        def residuals(p: Any, into: Any, xp_t: Any, hp_t: Any) -> list:
            return jax.tree.leaves(linearized(p, into, xp_t, hp_t)[1])

        def step_outputs(p: Any, into: Any, xp_t: Any, hp_t: Any) -> list:
            outputs, linear = linearized(p, into, xp_t, hp_t)
            return jax.tree.leaves((linear, outputs))

        step = (params, into_0, xp_0, hp_0)
        ends = [len(jax.tree.leaves(step[:k])) for k in range(5)]  # leaves up to each argument
        xp_leaves = range(ends[2], ends[3])
        varies = depends_on(residuals, step, range(ends[1], ends[4]))  # all but the parameters
        # Residuals that depend on the parameters only are the same at every step: computed
        # once here instead of stored per step.
        fixed = jax.jit(residuals)(*step)
        structure = []
        u_tangent = U is not None and not is_zero(dU)

        # The forward loop stores what the step's linear map needs (its residuals), as cuDNN's
        # reserve space, and the carry's h entering every step for dU (unless it is one of
        # them). The residuals of a step go, as far as they fit, into the step's row of the
        # projection, which no later step reads: one buffer serves both, and only the rest
        # needs a buffer of its own.
        # Those that read the row come first, so that the values written over the row are
        # computed from every read of it (see reads_precede).
        reads_row = depends_on(residuals, step, xp_leaves)
        order = sorted((i for i, vary in enumerate(varies) if vary), key=lambda i: not reads_row[i])
        specs = [fixed[i] for i in order]
        h_leaf = ends[1] + [leaf is into_0.h for leaf in jax.tree.leaves(into_0)].index(True)
        sources = passed_through(residuals, *step)
        sources = [sources[i] for i in order]
        store_h = u_tangent and h_leaf not in sources
        if store_h:
            specs.append(into_0.h)
        h_at = len(specs) - 1 if store_h else sources.index(h_leaf) if u_tangent else None
        width = sum(math.prod(spec.shape[1:]) for spec in specs)
        batch = carry0.h.shape[0]
        in_place = isinstance(xp, jax.Array) and all(
            spec.ndim >= 1 and spec.shape[0] == batch and spec.dtype == xp.dtype for spec in specs
        )
        # Whole residuals only: the columns of the buffer up to the last one that fits.
        bounds = list(itertools.accumulate(math.prod(spec.shape[1:]) for spec in specs))
        inside = max([0, *(b for b in bounds if in_place and b <= xp.shape[-1])])
        written = [i for i, bound in zip(order, bounds, strict=False) if bound <= inside]
        if inside and not reads_precede(step_outputs, step, xp_leaves, written):
            in_place, inside = False, 0

        def body(state: Any, inputs: Any) -> tuple[Any, Any]:
            carry, buffer = state
            t, valid_t, reset_t = inputs
            into, h_in = recurrent_dropout(entering(carry, carry0, reset_t), keep, U is not None)
            xp_t = read_row(buffer, t, blocks, xp_bias)
            (new, h), linear = linearized(params, into, xp_t, product(h_in, U))
            leaves, treedef = jax.tree.flatten(linear)
            structure.append(treedef)
            stored = [leaves[i] for i in order] + ([into.h] if store_h else [])
            if in_place and stored:
                packed = jnp.concatenate([leaf.reshape(batch, -1) for leaf in stored], axis=-1)
                row = packed[None, :, :inside]
                buffer = jax.lax.dynamic_update_slice(buffer, row, (t, 0, 0))
                stored = packed[:, inside:] if width > inside else None
            new, outputs = finish(valid_t, new, h, carry)
            return (new, buffer), (outputs, stored)

        (final, buffer), ((outputs, carries), stored) = scan(
            body, (carry0, xp), (steps(xp), valid, resets)
        )

        def residuals_at(t: jax.Array, stored_t: Any) -> list:
            """The step's residuals, the fixed ones included, from the buffer and the rest.

            Each residual is read with its own slice: XLA (CPU) vectorises the arithmetic on
            it then, which it does not on the parts of one sliced row.
            """
            if in_place:
                stored_t = [column(k, t)[0] for k in range(len(specs))]
            values = list(fixed)
            for i, value in zip(order, stored_t, strict=False):
                values[i] = value
            return values

        def column(k: int, t: jax.Array | None = None) -> jax.Array:
            """Stored value ``k`` of step ``t`` as ``(1, *shape)``, or of every step."""
            if not in_place:
                return stored[k]
            offset = sum(math.prod(spec.shape[1:]) for spec in specs[:k])
            size = math.prod(specs[k].shape[1:])
            source, start = (buffer, offset) if offset < inside else (stored, offset - inside)
            if t is None:
                part = jax.lax.slice_in_dim(source, start, start + size, axis=2)
            else:
                part = jax.lax.dynamic_slice(source, (t, 0, start), (1, batch, size))
            return part.reshape(part.shape[0], *specs[k].shape)

        # The per-step tangents of the projection, of U and of the biases of hp (see the module
        # docstring) are inputs of the loop, not read from a closed-over array, so that reverse
        # mode stacks their cotangents rather than accumulating them in the loop's carry.
        unflatten = functools.partial(jax.tree.unflatten, jax.tree.structure(params))
        additive, to_hp = hp_terms(update, *step)
        to_hp = unflatten(to_hp)
        d_bias = [
            d for d, fold in zip(jax.tree.leaves(d_params, is_leaf=is_zero),
                                 jax.tree.leaves(to_hp), strict=True)
            if fold and not is_zero(d)
        ]  # fmt: skip
        per_step = []
        if not all_zero(dxp) or not all_zero(d_xp_bias):
            d_rows = instantiate(dxp, xp)
            per_step.append(d_rows if all_zero(d_xp_bias) else d_rows + d_xp_bias)
        hp_tangent = u_tangent or bool(d_bias)
        if hp_tangent:
            time = steps(xp).shape[0]
            d_hp = sum(d_bias) if d_bias else None
            if u_tangent:
                h_in = column(h_at)
                if keep is not None:  # the stored h is the carry's: dU reads the dropped h
                    h_in = h_in * keep
                d_hp = matmul(h_in.reshape(time * batch, -1), dU).reshape(time, batch, -1) + (
                    0 if d_hp is None else d_hp
                )
            per_step.append(jnp.broadcast_to(d_hp, (time, *hp_0.shape)))
        if additive and len(per_step) == 2:
            per_step = [per_step[0] + per_step[1]]
        # The parameters that the linear map sees: those read, unless folded into d(hp).
        seen = unflatten([
            read and not fold
            for read, fold in zip(params_read(update, *step), jax.tree.leaves(to_hp), strict=True)
        ])  # fmt: skip
        d_params = jax.tree.map(
            lambda d, p, keep: d if keep and not is_zero(d) else jnp.zeros_like(p),
            d_params, params, seen, is_leaf=is_zero,
        )  # fmt: skip
        dcarry0 = instantiate(dcarry0, carry0)
        zero_xp = jax.tree.map(lambda a: jnp.zeros(a.shape[1:], a.dtype), xp)
        # U^T laid out once before the loop: reverse mode transposes ``d(h) @ U`` into
        # ``d(hp) @ U^T``, which reads U against its layout at every step otherwise.
        U_t = None if U is None else jnp.swapaxes(U, 0, 1)

        # Rematerialised, so that reverse mode recomputes the cheap arithmetic that the linear
        # map does on the stored residuals instead of storing its results for every step.
        @functools.partial(jax.checkpoint, prevent_cse=False)
        def tangent_body(dcarry: Any, inputs: Any) -> tuple[Any, Any]:
            t, per_step_t, stored_t, valid_t, reset_t = inputs
            d_into, dh_in = recurrent_dropout(
                entering(dcarry, dcarry0, reset_t), keep, U_t is not None
            )
            d_xp, d_hp = zero_xp, None
            if U_t is not None:  # matmul(dh_in, U), with U laid out as U^T
                d_hp = jax.lax.dot_general(
                    dh_in.astype(U_t.dtype),
                    U_t,
                    (((1,), (1,)), ((), ())),
                    preferred_element_type=hp_0.dtype,
                )
            if hp_tangent and not additive:
                d_hp = d_hp + per_step_t.pop()
            if per_step_t:
                d_xp = per_step_t[0]
            if additive:  # the derivative in xp_t is the derivative in hp_t: one tangent
                d_xp, d_hp = d_xp + d_hp, jnp.zeros_like(d_hp)
            linear = jax.tree.unflatten(structure[0], residuals_at(t, stored_t))
            dnew, dh = linear(d_params, d_into, d_xp, d_hp)
            return finish(valid_t, dnew, dh, dcarry)

        d_final, (d_outputs, d_carries) = scan(
            tangent_body, dcarry0,
            (steps(xp), per_step, None if in_place else stored, valid, resets),
        )  # fmt: skip
        return (outputs, final, carries), (d_outputs, d_final, d_carries)

    recurrence.defjvp(recurrence_jvp, symbolic_zeros=True)
    return recurrence


def read_row(xp: Any, t: jax.Array, blocks: list[int], bias: jax.Array | None) -> Any:
    """Row ``t`` of every leaf ``(T, B, K)`` of ``xp``, each read as its column blocks.

    A leaf that ``update`` splits into ``n`` gates is read as ``n`` slices of width ``K / n``,
    joined; XLA folds the join and the split into one slice per gate. Slicing one ``(B, K)``
    row instead keeps XLA (CPU) from vectorising the gate math around it. ``bias`` ``(K,)``,
    if not ``None``, is added to each block before the join (``xp`` is one array then).
    """

    def read(a: jax.Array, n: int) -> jax.Array:
        width, middle = a.shape[-1] // n, a.shape[1:-1]
        parts = [
            jax.lax.dynamic_slice(a, (t, *(0 for _ in middle), k * width), (1, *middle, width))[0]
            + (0 if bias is None else bias[k * width : (k + 1) * width])
            for k in range(n)
        ]
        return parts[0] if n == 1 else jnp.concatenate(parts, axis=-1)

    leaves, treedef = jax.tree.flatten(xp)
    return jax.tree.unflatten(treedef, [read(a, n) for a, n in zip(leaves, blocks, strict=True)])


def is_zero(tangent: Any) -> bool:
    """Whether ``tangent`` is a ``custom_jvp`` symbolic zero (``symbolic_zeros=True``)."""
    return type(tangent) is SymbolicZero


def instantiate(tangents: Any, primals: Any) -> Any:
    """``tangents`` with every symbolic zero replaced by zeros like its primal."""
    return jax.tree.map(
        lambda d, p: jnp.zeros_like(p) if is_zero(d) else d, tangents, primals, is_leaf=is_zero
    )


def all_zero(tangents: Any) -> bool:
    """Whether every leaf of ``tangents`` is a symbolic zero."""
    return all(map(is_zero, jax.tree.leaves(tangents, is_leaf=is_zero)))
