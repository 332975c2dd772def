"""Mixed precision: any cell with bfloat16 matrix products and float32 everything else.

:func:`with_compute_dtype` makes, from any cell, the cell that casts the matrices it multiplies
to the compute dtype (``jnp.bfloat16``) each time it uses them: ``project`` its input kernel,
``update`` the matrices of a staged product (Cho et al.'s GRU's ``U_n``), and the recurrent
kernel as ``recurrent_kernel`` returns it. Which parameters those are is derived from the
functions (:func:`~gru_lstm_jax.recurrence.derive.multiplied`), not declared. Each product,
:func:`~gru_lstm_jax.cells.matmul`, then takes bfloat16 operands (the inputs and ``h`` are cast
there) and gives float32, accumulated in float32. The parameters, biases, gains and peepholes,
the carry, the gate nonlinearities and the outputs stay float32.

Casting where the matrices are used, not once for a whole run, matters to the derivative: the
cotangent of a bfloat16 matrix is bfloat16, and a loop that read one cast matrix would sum its
gradient over the steps in bfloat16. Cast in each step, each step's part goes back to float32
and the plain scan sums in float32. The fused recurrence reads the recurrent kernel once,
outside its loop, and computes its gradient as one product after it (see
:mod:`~gru_lstm_jax.recurrence.fused`), accumulated in float32 and rounded once.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gru_lstm_jax.cells import Cell
from gru_lstm_jax.recurrence.derive import multiplied

__all__ = ["with_compute_dtype"]


def with_compute_dtype(cell: Cell, dtype: Any) -> Cell:
    """The cell whose matrix products take ``dtype`` operands (see the module docstring).

    Args:
        cell: any cell.
        dtype: the compute dtype, e.g. ``jnp.bfloat16`` or ``"bfloat16"``.

    Returns:
        ``cell`` itself for float32 (it computes in its parameters' dtype); otherwise the cell,
        named ``"<name> in <dtype>"``, that casts its matrices to ``dtype`` where it uses them.
        Equal arguments give the same cell.
    """
    dtype = jnp.dtype(dtype)
    return cell if dtype == jnp.float32 else _with_compute_dtype(cell, dtype)


@functools.cache
def _with_compute_dtype(cell: Cell, dtype: jnp.dtype) -> Cell:
    def casting(fn: Callable[..., Any]) -> Callable[..., Any]:
        def cast_then_call(params: Any, *args: Any) -> Any:
            leaves, treedef = jax.tree.flatten(params)
            matrices = multiplied(fn, params, *args)
            cast = [a.astype(dtype) if m else a for a, m in zip(leaves, matrices, strict=True)]
            return fn(jax.tree.unflatten(treedef, cast), *args)

        return cast_then_call

    kernel = cell.recurrent_kernel
    return dataclasses.replace(
        cell,
        name=f"{cell.name} in {dtype.name}",
        project=casting(cell.project),
        update=casting(cell.update),
        recurrent_kernel=None if kernel is None else lambda params: kernel(params).astype(dtype),
    )
