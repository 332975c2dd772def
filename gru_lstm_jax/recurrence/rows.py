"""How the fused recurrence's loop reads one step's row of the input projection."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["read_row"]


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
