"""The cuDNN recurrence for the LSTM, through ``jax.experimental.rnn``.

``run_scan(..., implementation="cudnn")``, and every layer with that value, runs the LSTM cell as
one ``jax.experimental.rnn.lstm`` call on cuDNN's flat weight vector, which
:func:`~gru_lstm_jax.cells.convert.lstm_params_to_cudnn` converts ours to. It needs a CUDA (or
ROCm) GPU as JAX's default backend and jaxlib's GPU RNN kernels; elsewhere it raises a
``RuntimeError`` that says so (there is no silent fallback, so a run never measures or trains a
different kernel than it asked for). Only reverse-mode differentiation is defined for it (a
``custom_vjp``). ``implementation="cudnn_reference"`` runs ``jax.experimental.rnn.lstm_ref``,
JAX's pure-JAX reference of the kernel, on the same converted weights on any backend, so that
the conversion and the padding semantics are tested on a CPU.

Padding semantics. cuDNN (``CUDNN_RNN_PADDED_IO_ENABLED``, batch-major unpacked, padding fill
0) writes zero outputs on padded steps and returns the state after each sequence's last valid
step: ``run_scan`` with ``lengths``. The one difference is a sequence of length 0: ``lstm_ref``
returns the carry after the last *padded* step (it indexes its carries at ``length - 1 = -1``)
and cuDNN leaves it to the library version, so such a row runs with length 1 and then gets zero
outputs and its initial carry as the final carry, as in ``run_scan``. ``reverse=True`` reverses
each sequence within its length before and after the call. A mask that is not right padding
cannot be expressed to cuDNN at all.

Precision. On Ampere and newer GPUs cuDNN uses TF32 matmuls unless
``jax.default_matmul_precision`` is ``"highest"`` (or ``"float32"``); for float32 parity with the
scan run both under ``jax.default_matmul_precision("highest")``. Only float32 is supported.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import rnn

from gru_lstm_jax.cells import Cell, LSTMState, lstm_cell
from gru_lstm_jax.cells.convert import lstm_params_to_cudnn
from gru_lstm_jax.recurrence.masks import ScanOutput, refuse

__all__ = ["CUDNN_IMPLEMENTATIONS", "cudnn_available", "cudnn_scan"]

CUDNN_IMPLEMENTATIONS = ("cudnn", "cudnn_reference")


def cudnn_available() -> bool:
    """Whether ``jax.experimental.rnn.lstm`` can run: a GPU default backend with cuDNN RNNs."""
    kernels = getattr(rnn, "gpu_rnn", None)
    return jax.default_backend() == "gpu" and hasattr(
        kernels, "compute_rnn_workspace_reserve_space_sizes"
    )


def _right_padded_lengths(valid: jax.Array) -> jax.Array:
    """The lengths that a concrete right-padding mask of valid steps ``(B, T)`` describes."""
    if isinstance(valid, jax.core.Tracer):
        raise ValueError(
            "the cuDNN LSTM takes a mask only when its values are known outside jit (it must be "
            "right padding); inside jit pass lengths (batch,) instead of mask"
        )
    valid = np.asarray(valid)
    prefix = np.arange(valid.shape[1])[None, :] < valid.sum(axis=1)[:, None]
    if not np.array_equal(valid, prefix):
        raise ValueError(
            "the cuDNN LSTM supports only right padding: every row of mask must be True on a "
            f"prefix and False after it; rows {np.flatnonzero((valid != prefix).any(1)).tolist()} "
            "are not"
        )
    return jnp.asarray(valid.sum(axis=1), jnp.int32)


def _reverse_within_lengths(xs: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverses each row's first ``lengths[b]`` steps of ``xs`` ``(B, T, ...)``; an involution."""
    t = jnp.arange(xs.shape[1])[None, :]
    index = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return jnp.take_along_axis(xs, index.reshape(index.shape + (1,) * (xs.ndim - 2)), axis=1)


def cudnn_scan(cell: Cell, params: Any, xs: jax.Array, **options: Any) -> ScanOutput:
    """``run_scan`` through ``jax.experimental.rnn`` (batched arguments that it validated).

    Args:
        cell: the LSTM cell with its default activations.
        params: ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}``.
        xs: float32 inputs ``(B, T, I)``.
        **options: ``run_scan``'s keyword arguments, ``initial_carry`` an ``LSTMState`` of
            ``(B, H)`` arrays, ``implementation`` ``"cudnn"`` or ``"cudnn_reference"``, and
            ``valid``, the mask of valid steps ``(B, T)`` that ``lengths`` and ``mask`` make.

    Returns:
        A :class:`~gru_lstm_jax.recurrence.ScanOutput`: outputs ``(B, T, H)``, zero on padded
        steps; the final ``LSTMState``; ``carries`` is ``None``.

    Raises:
        ValueError: for another cell or activations, an option cuDNN cannot run (``resets``,
            ``recurrent_mask``, ``remat``, ``unroll``, ``return_carries``), a mask that is not
            right padding or is traced, or ``xs`` that is not float32.
        RuntimeError: for ``"cudnn"`` without a GPU with cuDNN RNN kernels.
    """
    implementation, unroll = options["implementation"], options["unroll"]
    standard = lstm_cell()
    refuse(implementation, {
        f"cell {cell.name!r} (only the float32 LSTM with sigmoid gates and tanh)":
            (cell.project, cell.recurrent_kernel, cell.update)
            != (standard.project, standard.recurrent_kernel, standard.update),
        "resets": options["resets"] is not None,
        "recurrent_dropout (recurrent_mask)": options["recurrent_mask"] is not None,
        "remat": bool(options["remat"]),
        "unroll": isinstance(unroll, bool) or unroll != 1,
        "return_carries": bool(options["return_carries"]),
    }, "; use implementation='auto'")  # fmt: skip
    if implementation == "cudnn" and not cudnn_available():
        raise RuntimeError(
            "implementation='cudnn' needs jax.experimental.rnn's cuDNN kernels on a GPU, but "
            f"JAX's default backend is {jax.default_backend()!r}"
            + ("" if jax.default_backend() != "gpu" else " without jaxlib's GPU RNN kernels")
            + ". Install a CUDA build of JAX (pip install 'jax[cuda12]') and run on a GPU, or "
            "pass implementation='cudnn_reference' for jax.experimental.rnn.lstm_ref, its pure-JAX "
            "reference."
        )
    if xs.dtype != jnp.float32:
        raise ValueError(f"xs must be float32 (cuDNN LSTMs are float32 only); got {xs.dtype}")
    (batch, time, features), carry = xs.shape, options["initial_carry"]
    lengths = options["lengths"]
    if options["mask"] is not None:  # cuDNN takes lengths only
        lengths = _right_padded_lengths(options["valid"])
    lengths = jnp.full((batch,), time) if lengths is None else jnp.asarray(lengths)
    lengths = lengths.astype(jnp.int32)
    if options["reverse"]:
        xs = _reverse_within_lengths(xs, lengths)
    # Length-0 rows run one step that is then discarded (see the module docstring).
    sizes = (features, carry.h.shape[-1], 1, 0.0, False)
    state = (xs, carry.h[None], carry.c[None])
    weights = lstm_params_to_cudnn(params)
    if implementation == "cudnn":
        y, h_n, c_n = rnn.lstm(*state, weights, jnp.maximum(lengths, 1), *sizes)
    else:
        unpacked = rnn.unpack_lstm_weights(weights, *sizes[:3], False)
        y, h_n, c_n = rnn.lstm_ref(*state, *unpacked, jnp.maximum(lengths, 1), *sizes)
    empty = (lengths == 0)[:, None]
    y = jnp.where(empty[..., None], jnp.zeros_like(y), y)
    if options["reverse"]:
        y = _reverse_within_lengths(y, lengths)
    final = LSTMState(jnp.where(empty, carry.h, h_n[0]), jnp.where(empty, carry.c, c_n[0]))
    return ScanOutput(y, final, None)
