"""The benchmark's problems: their shapes, the fixed batch, and the FLOPs of a training step."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Workload:
    """The shape of one benchmark problem.

    Attributes:
        batch: sequences per step ``B``.
        time: time steps ``T``.
        features: input features ``I``.
        hidden: hidden units ``H``.
    """

    batch: int
    time: int
    features: int
    hidden: int

    def describe(self) -> str:
        """Returns e.g. ``"B 32, T 50, I 1, H 64"``."""
        return f"B {self.batch}, T {self.time}, I {self.features}, H {self.hidden}"


WORKLOADS = {
    "sine": Workload(batch=32, time=50, features=1, hidden=64),
    "imdb": Workload(batch=32, time=200, features=128, hidden=64),
    "wide": Workload(batch=64, time=100, features=256, hidden=256),
    # Sequence length alone grows: where a parallel scan over time (minGRU) pays off.
    "t100": Workload(batch=16, time=100, features=128, hidden=128),
    "t1000": Workload(batch=16, time=1_000, features=128, hidden=128),
    "t10000": Workload(batch=16, time=10_000, features=128, hidden=128),
}
# What the benchmark runs without --workloads.
DEFAULT_WORKLOADS = ("sine", "imdb", "wide")


def make_data(workload: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The fixed batch every implementation trains on.

    Args:
        workload: the shape ``(B, T, I, H)``.
        seed: the NumPy generator's seed.

    Returns:
        ``(inputs, targets)``: standard-normal float32 arrays ``(B, T, I)`` and ``(B, 1)``.
    """
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((workload.batch, workload.time, workload.features))
    targets = rng.standard_normal((workload.batch, 1))
    return inputs.astype(np.float32), targets.astype(np.float32)


def _abstract_params(cell: str, workload: Workload) -> tuple[Any, Any]:
    """The registered ``cell`` and its parameters' shapes for ``workload``, traced, not built."""
    from gru_lstm_jax import get_cell

    cell_fns = get_cell(cell)
    init = functools.partial(
        cell_fns.init, input_size=workload.features, hidden_size=workload.hidden
    )
    # An abstract key: jax.eval_shape traces without starting a JAX backend, which the
    # benchmark's main process must not hold while its workers run.
    return cell_fns, jax.eval_shape(init, jax.ShapeDtypeStruct((2,), jnp.uint32))


def gate_count(cell: str, workload: Workload) -> float:
    """The gate blocks ``G`` of a registered cell: the width of its input projection over ``H``.

    Derived from the cell's own ``project`` (traced with :func:`jax.eval_shape`, nothing
    computed): ``G·H`` is the last dimension of ``project(params, xs)``, summed over its leaves.
    The LSTM has ``G = 4`` (i, f, g, o), the GRU ``G = 3`` (r, z, n), the tanh RNN ``G = 1``.
    The projection's width, not the recurrent kernel's, counts the gates: a cell with a staged
    product (Cho et al.'s GRU, ``(r*h) @ U_n``) returns only the ungated columns ``(H, 2H)`` as
    its ``recurrent_kernel`` and multiplies the rest inside its ``update``.

    Args:
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.

    Returns:
        ``G`` (an integer for every built-in cell).
    """
    cell_fns, params = _abstract_params(cell, workload)
    inputs = jax.ShapeDtypeStruct((1, 1, workload.features), jnp.float32)
    projected = jax.eval_shape(cell_fns.project, params, inputs)
    width = sum(leaf.shape[-1] for leaf in jax.tree.leaves(projected))
    gates = width / workload.hidden
    return int(gates) if gates.is_integer() else gates


def has_recurrent_matrix(cell: str) -> bool:
    """Whether a registered cell multiplies ``h`` by a matrix (``recurrent_kernel`` is set).

    A cell without one (IndRNN's elementwise ``u * h``) does no recurrent matmul.
    """
    from gru_lstm_jax import get_cell

    return get_cell(cell).recurrent_kernel is not None


def forward_flops(cell: str, workload: Workload) -> int:
    """Matrix-multiply FLOPs of one forward pass of the recurrent layer over the sequence.

    Each step multiplies the input ``(B, I)`` by the input kernel ``(I, G·H)`` and the state
    ``(B, H)`` by the recurrent weights ``(H, G·H)``, 2 FLOPs per multiply-add:
    ``2·B·T·(I + H)·G·H`` with ``G`` from :func:`gate_count` (4 for the LSTM, 3 for the GRU).
    A cell without a recurrent matrix (:func:`has_recurrent_matrix`) does ``2·B·T·I·G·H``.
    Element-wise gate arithmetic (a few percent here) and the ``(H, 1)`` head are not counted.

    Args:
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.

    Returns:
        The FLOP count.
    """
    w = workload
    state = w.hidden if has_recurrent_matrix(cell) else 0
    return round(2 * w.batch * w.time * (w.features + state) * gate_count(cell, w) * w.hidden)


def train_step_flops(cell: str, workload: Workload) -> int:
    """Matrix-multiply FLOPs of one training step, by the usual ``3 × forward`` convention.

    The backward pass of ``y = x W`` costs two matmuls of the forward's size (``dx = dy Wᵀ``
    and ``dW = xᵀ dy``), so a step costs ``3 · 2·B·T·(I + H)·G·H``
    (see :func:`forward_flops`). Here the inputs are data, so their gradient ``dx`` for the
    input kernel is not needed and the work a step must do is ``2·B·T·G·H·(2·I + 3·H)``; the
    convention counts ``I / (3·(I + H))`` more than that (0 % to 29 % on the standard
    workloads), so a fraction of peak computed from it is an upper bound.

    Args:
        cell: a registered cell name.
        workload: the shape ``(B, T, I, H)``.

    Returns:
        The FLOP count.
    """
    return 3 * forward_flops(cell, workload)
