"""A cell that is linear in ``h``, run in parallel over time with ``jax.lax.associative_scan``.

A cell whose carry is ``h`` alone, without a recurrent kernel, and whose ``update`` is
``h' = a ⊙ h + b`` with ``a, b`` depending on the step's input only (minGRU, minLSTM; Feng et
al. 2024) composes over steps: ``(a₂, b₂) ∘ (a₁, b₁) = (a₂ a₁, a₂ b₁ + b₂)`` is associative, so
all ``T`` states come out of a scan of depth ``O(log T)`` (Blelloch 1990), as
``h_t = A_t ⊙ h_0 + B_t``.

Nothing is declared: ``b`` is ``update`` at ``h = 0`` and ``a`` its derivative in ``h`` along
ones, both for all steps at once; that ``update`` is this form is checked at two random points
(:func:`linear_in_h`). Masked steps hold the carry (``a = 1, b = 0``), a reset starts from the
initial carry (``a = 0, b = a h_0 + b``) and recurrent dropout scales ``a``.

Feng et al. run their parallel form in log space because the scan they use (Heinsen 2023)
divides by the running product of ``a``, which underflows over long sequences; composing pairs
as above never divides, so the plain form needs no logarithms.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.recurrence.derive import random_draws, spec
from gru_lstm_jax.recurrence.masks import ScanOutput

__all__ = ["associative_scan", "linear_in_h"]


def _coefficients(update: Any, params: Any, carry: Any, xp: Any) -> tuple[jax.Array, jax.Array]:
    """``(a, b)`` of ``update`` at every step of ``xp``, each shaped like ``carry.h``."""

    def h_after(h: jax.Array) -> jax.Array:
        return update(params, carry._replace(h=h), xp, None)[1]

    zeros = jnp.zeros_like(carry.h)
    b, a = jax.jvp(h_after, (zeros,), (jnp.ones_like(zeros),))
    return a, b


@functools.cache
def _linear_at(update: Any, leaves: tuple, treedef: Any) -> bool:
    params, carry, xp_t = jax.tree.unflatten(treedef, leaves)
    draw = random_draws()
    for _ in range(2):
        p, c, x = draw((params, carry, xp_t))
        new, h = update(p, c, x, None)[:2]
        a, b = _coefficients(update, p, c, x)
        if not (jnp.array_equal(new.h, h) and jnp.allclose(h, a * c.h + b, rtol=1e-5, atol=1e-6)):
            return False
    return True


def linear_in_h(cell: Cell, params: Any, carry: Any, xp_t: Any) -> bool:
    """Whether ``cell`` steps as ``h' = a ⊙ h + b`` with ``a, b`` from the input only.

    That is: its carry is ``h`` alone, it has no recurrent kernel, and at two random points
    ``update``'s new carry is its output ``h'``, which equals ``a ⊙ h + b`` (see the module
    docstring) to float32 rounding. An ``update`` nonlinear in ``h``, or one that mixes the
    units of ``h``, fails the check.
    """
    if cell.recurrent_kernel is not None or getattr(carry, "_fields", None) != ("h",):
        return False
    leaves, treedef = jax.tree.flatten(spec((params, carry, xp_t)))
    with jax.ensure_compile_time_eval():
        return _linear_at(cell.update, tuple(leaves), treedef)


def associative_scan(
    cell: Cell,
    params: Any,
    xs: jax.Array,
    initial_carry: Any,
    valid: jax.Array | None,
    resets: jax.Array | None,
    recurrent_mask: jax.Array | None,
    reverse: bool,
    return_carries: bool,
) -> ScanOutput:
    """``run_scan`` in parallel over time: batched arguments that it validated, ``T >= 1``.

    ``cell`` is one for which :func:`linear_in_h` holds, so ``recurrent_mask`` multiplies the
    ``h`` that ``update`` reads. Returns a :class:`~gru_lstm_jax.recurrence.ScanOutput`,
    batch-major.
    """
    h0 = initial_carry.h[:, None]
    steps = initial_carry._replace(h=jnp.broadcast_to(h0, (*xs.shape[:2], h0.shape[-1])))
    a, b = _coefficients(cell.update, params, steps, cell.project(params, xs))
    if recurrent_mask is not None:
        a = a * jax.lax.stop_gradient(recurrent_mask)[:, None]
    if resets is not None:
        b = jnp.where(resets[..., None], a * h0 + b, b)
        a = jnp.where(resets[..., None], jnp.zeros_like(a), a)
    if valid is not None:
        a = jnp.where(valid[..., None], a, jnp.ones_like(a))
        b = jnp.where(valid[..., None], b, jnp.zeros_like(b))

    def compose(first: tuple, then: tuple) -> tuple[jax.Array, jax.Array]:
        return then[0] * first[0], then[0] * first[1] + then[1]

    A, B = jax.lax.associative_scan(compose, (a, b), reverse=reverse, axis=1)
    hs = A * initial_carry.h[:, None] + B
    outputs = hs if valid is None else jnp.where(valid[..., None], hs, jnp.zeros_like(hs))
    final = initial_carry._replace(h=hs[:, 0] if reverse else hs[:, -1])
    carries = initial_carry._replace(h=hs) if return_carries else None
    return ScanOutput(outputs, final, carries)
