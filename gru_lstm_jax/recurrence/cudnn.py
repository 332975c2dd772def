"""The cuDNN recurrence for the LSTM, through ``jax.experimental.rnn``.

``jax.experimental.rnn.lstm`` runs a whole (stacked, optionally bidirectional) LSTM as one
cuDNN call on cuDNN's flat weight vector (which
:func:`~gru_lstm_jax.cells.cudnn_layout.lstm_params_to_cudnn` converts ours to); this module
runs it with our calling convention (batch-major inputs, ``lengths``, ``LSTMState``
carries). ``run_scan`` and every layer reach it with ``implementation="cudnn"`` (or
``"cudnn_reference"``) for the LSTM cell.

Implementations:

- ``"cudnn"``: ``jax.experimental.rnn.lstm``. It needs a CUDA (or ROCm) GPU as JAX's default
  backend and jaxlib's GPU RNN kernels; elsewhere it raises a ``RuntimeError`` that says so
  (there is no silent fallback, so a run never measures or trains a different kernel than it
  asked for). Only reverse-mode differentiation is defined (a ``custom_vjp``).
- ``"cudnn_reference"``: ``jax.experimental.rnn.lstm_ref``, JAX's pure-JAX reference of the
  cuDNN kernel, on the same converted weights. It runs anywhere, so the conversion and the
  padding semantics are tested on CPU.

Padding semantics. cuDNN (``CUDNN_RNN_PADDED_IO_ENABLED``, batch-major unpacked, padding fill
0) writes zero outputs on padded steps, returns the state after each sequence's last valid step,
and runs the reverse direction of a bidirectional layer from each sequence's last valid step.
That is exactly :func:`~gru_lstm_jax.recurrence.run_scan` with ``lengths`` (outputs zero on
masked steps, carry held). The one difference is a sequence of length 0: ``lstm_ref`` returns
the carry after the last *padded* step (it indexes its carries at ``length - 1 = -1``) and cuDNN
leaves it to the library version, so here such a row is run with length 1 and then given zero
outputs and its initial carry as the final carry, as ``run_scan`` does. With that, outputs,
final carries and gradients equal ``run_scan``'s for every right-padded batch. A mask that is
not right padding cannot be expressed to cuDNN at all.

Precision. On Ampere and newer GPUs cuDNN uses TF32 matmuls unless
``jax.default_matmul_precision`` is ``"highest"`` (or ``"float32"``); for float32 parity with the
scan run both under ``jax.default_matmul_precision("highest")``. Only float32 is supported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import rnn

from gru_lstm_jax.cells import LSTMState
from gru_lstm_jax.cells.cudnn_layout import (
    check_lstm_params,
    cudnn_layer_sizes,
    cudnn_nest,
    cudnn_pseudo_layers,
    lstm_params_to_cudnn,
)
from gru_lstm_jax.recurrence.masks import ScanOutput, sequence_mask

__all__ = [
    "CUDNN_IMPLEMENTATIONS",
    "cudnn_available",
    "cudnn_lstm",
    "cudnn_lstm_stack",
    "lengths_from_right_padded_mask",
]

CUDNN_IMPLEMENTATIONS = ("cudnn", "cudnn_reference")


def cudnn_available() -> bool:
    """Whether ``jax.experimental.rnn.lstm`` can run: a GPU default backend with cuDNN RNNs."""
    kernels = getattr(rnn, "gpu_rnn", None)
    return jax.default_backend() == "gpu" and hasattr(
        kernels, "compute_rnn_workspace_reserve_space_sizes"
    )


def _check_implementation(implementation: str) -> None:
    if implementation not in CUDNN_IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {list(CUDNN_IMPLEMENTATIONS)}; got {implementation!r}"
        )
    if implementation == "cudnn" and not cudnn_available():
        raise RuntimeError(
            "implementation='cudnn' needs jax.experimental.rnn's cuDNN kernels on a GPU, but "
            f"JAX's default backend is {jax.default_backend()!r}"
            + ("" if jax.default_backend() != "gpu" else " without jaxlib's GPU RNN kernels")
            + ". Install a CUDA build of JAX (pip install 'jax[cuda12]') and run on a GPU, or "
            "pass implementation='cudnn_reference' for jax.experimental.rnn.lstm_ref, its pure-JAX "
            "reference, or use run_scan."
        )


def lengths_from_right_padded_mask(
    lengths: jax.Array | None, mask: jax.Array, batch: int, time: int
) -> jax.Array:
    """The lengths that a concrete right-padding ``mask`` (and ``lengths``) describe.

    cuDNN takes only sequence lengths; a mask is accepted when its values are known before
    tracing and every row is ``True`` on a prefix and ``False`` after it.

    Args:
        lengths: ``None`` or integer lengths ``(batch,)``, combined with ``mask`` by AND.
        mask: boolean ``(batch, time)``.
        batch: ``B``.
        time: ``T``.

    Returns:
        int32 lengths ``(batch,)``.

    Raises:
        ValueError: for bad shapes or dtypes, a traced mask or lengths, or a mask that is not
            right padding.
    """
    valid = sequence_mask(lengths, mask, batch, time)
    if isinstance(valid, jax.core.Tracer):
        raise ValueError(
            "the cuDNN LSTM takes a mask only when its values are known outside jit (it must be "
            "right padding); inside jit pass lengths (batch,) instead of mask"
        )
    valid = np.asarray(valid)
    counts = valid.sum(axis=1)
    if not np.array_equal(valid, np.arange(time)[None, :] < counts[:, None]):
        rows = np.flatnonzero((valid != (np.arange(time)[None, :] < counts[:, None])).any(1))
        raise ValueError(
            "the cuDNN LSTM supports only right padding: every row of mask must be True on a "
            f"prefix and False after it; rows {rows.tolist()} are not"
        )
    return jnp.asarray(counts, jnp.int32)


def _check_xs(xs: Any, input_size: int) -> jax.Array:
    xs = jnp.asarray(xs)
    if xs.ndim != 3 or xs.shape[-1] != input_size:
        raise ValueError(f"xs must have shape (batch, time, {input_size}); got {tuple(xs.shape)}")
    if xs.dtype != jnp.float32:
        raise ValueError(f"xs must be float32 (cuDNN LSTMs are float32 only); got {xs.dtype}")
    return xs


def _check_state(state: Any, name: str, batch: int, hidden: int) -> LSTMState:
    shapes = [tuple(jnp.shape(leaf)) for leaf in jax.tree.leaves(state)]
    if not isinstance(state, LSTMState) or shapes != [(batch, hidden)] * 2:
        raise ValueError(
            f"{name} must be LSTMState(h=({batch}, {hidden}), c=({batch}, {hidden})); "
            f"got {type(state).__name__} with leaf shapes {shapes}"
        )
    return state


def _run_flat(
    weights: jax.Array,
    xs: jax.Array,
    h_0: jax.Array,
    c_0: jax.Array,
    lengths: jax.Array,
    *,
    input_size: int,
    hidden_size: int,
    num_layers: int,
    bidirectional: bool,
    implementation: str,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``jax.experimental.rnn.lstm`` or ``lstm_ref`` with ``run_scan``'s zero-length rows.

    Returns:
        ``(y (B, T, D*H), h_n (L*D, B, H), c_n (L*D, B, H))``.
    """
    empty = lengths == 0
    # Length-0 rows run one step that is then discarded (see the module docstring).
    seq_lengths = jnp.maximum(lengths, 1).astype(jnp.int32)
    if implementation == "cudnn":
        y, h_n, c_n = rnn.lstm(
            xs, h_0, c_0, weights, seq_lengths, input_size=input_size,
            hidden_size=hidden_size, num_layers=num_layers, dropout=0.0,
            bidirectional=bidirectional,
        )  # fmt: skip
    else:
        W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(
            weights, input_size, hidden_size, num_layers, bidirectional
        )
        y, h_n, c_n = rnn.lstm_ref(
            xs, h_0, c_0, W_ih, W_hh, b_ih, b_hh, seq_lengths, input_size, hidden_size,
            num_layers, 0.0, bidirectional,
        )  # fmt: skip
    y = jnp.where(empty[:, None, None], jnp.zeros_like(y), y)
    h_n = jnp.where(empty[None, :, None], h_0, h_n)
    c_n = jnp.where(empty[None, :, None], c_0, c_n)
    return y, h_n, c_n


def _lengths_or_full(lengths: Any, batch: int, time: int) -> jax.Array:
    if lengths is None:
        return jnp.full((batch,), time, jnp.int32)
    sequence_mask(lengths, None, batch, time)  # validates lengths exactly as run_scan does
    return jnp.asarray(lengths).astype(jnp.int32)


def cudnn_lstm_stack(
    layers: Sequence[Any],
    xs: jax.Array,
    *,
    bidirectional: bool = False,
    initial_carry: Sequence[Any] | None = None,
    lengths: jax.Array | None = None,
    implementation: str = "cudnn",
) -> ScanOutput:
    """A stacked, optionally bidirectional LSTM in one ``jax.experimental.rnn`` call.

    Equals running :func:`~gru_lstm_jax.recurrence.run_scan` layer by layer (for bidirectional
    layers a forward and a ``reverse=True`` scan, concatenated forward first), each layer
    reading the previous one's outputs, without dropout between layers.

    Args:
        layers: one entry per layer, our LSTM parameters or, when ``bidirectional``, a
            ``(forward, backward)`` pair (see :func:`lstm_params_to_cudnn`).
        xs: float32 inputs ``(B, T, I)``.
        bidirectional: whether ``layers`` holds ``(forward, backward)`` pairs.
        initial_carry: the same nesting as ``layers`` with ``LSTMState(h, c)`` leaves
            ``(B, H)``; default zeros.
        lengths: integer lengths ``(B,)`` in ``[0, T]`` of right-padded sequences.
        implementation: ``"cudnn"`` or ``"cudnn_reference"`` (see the module docstring).

    Returns:
        A :class:`~gru_lstm_jax.recurrence.ScanOutput`: outputs ``(B, T, D*H)`` of the last
        layer (``D = 2`` when bidirectional), zero on padded steps; the final carry with the
        nesting of ``layers`` (``LSTMState`` leaves ``(B, H)``); ``carries`` is ``None``.

    Raises:
        ValueError: for bad parameters, inputs, lengths or carries (the message names the
            argument and the expected shape), or an unknown implementation.
        RuntimeError: for ``implementation="cudnn"`` without a GPU with cuDNN RNN kernels.
    """
    _check_implementation(implementation)
    pseudo = cudnn_pseudo_layers(layers, bidirectional, "layers")
    input_size, hidden = cudnn_layer_sizes(pseudo, bidirectional, "layers")
    directions = 2 if bidirectional else 1
    num_layers = len(pseudo) // directions
    xs = _check_xs(xs, input_size)
    batch, time = xs.shape[:2]
    lengths = _lengths_or_full(lengths, batch, time)
    if initial_carry is None:
        h_0 = c_0 = jnp.zeros((len(pseudo), batch, hidden), jnp.float32)
    else:
        states = cudnn_pseudo_layers(initial_carry, bidirectional, "initial_carry")
        if len(states) != len(pseudo):
            raise ValueError(
                f"initial_carry must have one entry per layer ({num_layers}); got "
                f"{len(states) // directions}"
            )
        states = [_check_state(s, "initial_carry entries", batch, hidden) for s in states]
        h_0 = jnp.stack([s.h for s in states])
        c_0 = jnp.stack([s.c for s in states])
    y, h_n, c_n = _run_flat(
        lstm_params_to_cudnn(layers, bidirectional=bidirectional), xs, h_0, c_0, lengths,
        input_size=input_size, hidden_size=hidden, num_layers=num_layers,
        bidirectional=bidirectional, implementation=implementation,
    )  # fmt: skip
    final = [LSTMState(h_n[i], c_n[i]) for i in range(len(pseudo))]
    return ScanOutput(y, cudnn_nest(final, bidirectional), None)


def _reverse_within_lengths(xs: jax.Array, lengths: jax.Array) -> jax.Array:
    """Reverses each row's first ``lengths[b]`` steps of ``xs`` ``(B, T, ...)``; an involution."""
    t = jnp.arange(xs.shape[1])[None, :]
    index = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    return jnp.take_along_axis(xs, index.reshape(index.shape + (1,) * (xs.ndim - 2)), axis=1)


def cudnn_lstm(
    params: Mapping[str, jax.Array],
    xs: jax.Array,
    *,
    hidden_size: int | None = None,
    initial_carry: LSTMState | None = None,
    lengths: jax.Array | None = None,
    reverse: bool = False,
    implementation: str = "cudnn",
) -> ScanOutput:
    """One LSTM layer through ``jax.experimental.rnn``: a drop-in for ``run_scan``.

    Returns what ``run_scan(get_cell("lstm"), params, xs, ...)`` returns for the same
    arguments (see the module docstring for the padding semantics and precision).

    Args:
        params: our LSTM parameters ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H),
            "bias": (4H,)}``.
        xs: float32 inputs ``(B, T, I)``.
        hidden_size: ``H``; optional, checked against ``params`` when given.
        initial_carry: ``LSTMState(h, c)``, each ``(B, H)``; default zeros.
        lengths: integer lengths ``(B,)`` in ``[0, T]`` of right-padded sequences.
        reverse: run each sequence from its last valid step to its first (outputs in the
            original time order), as ``run_scan(..., reverse=True)``.
        implementation: ``"cudnn"`` or ``"cudnn_reference"``.

    Returns:
        A :class:`~gru_lstm_jax.recurrence.ScanOutput`: outputs ``(B, T, H)``, zero on padded
        steps; the final ``LSTMState(h, c)``, each ``(B, H)``; ``carries`` is ``None``.

    Raises:
        ValueError: for bad parameters, inputs, lengths or carries (the message names the
            argument and the expected shape), or an unknown implementation.
        RuntimeError: for ``implementation="cudnn"`` without a GPU with cuDNN RNN kernels.
    """
    _check_implementation(implementation)
    input_size, hidden = check_lstm_params(params, "params")
    if hidden_size is not None and hidden_size != hidden:
        raise ValueError(
            f"hidden_size must equal params['recurrent_kernel'].shape[0] = {hidden}; "
            f"got {hidden_size!r}"
        )
    xs = _check_xs(xs, input_size)
    batch, time = xs.shape[:2]
    lengths = _lengths_or_full(lengths, batch, time)
    if initial_carry is not None:
        _check_state(initial_carry, "initial_carry", batch, hidden)
    if reverse:
        xs = _reverse_within_lengths(xs, lengths)
    outputs, (final,), _ = cudnn_lstm_stack(
        [params],
        xs,
        initial_carry=None if initial_carry is None else [initial_carry],
        lengths=lengths,
        implementation=implementation,
    )
    if reverse:
        outputs = _reverse_within_lengths(outputs, lengths)
    return ScanOutput(outputs, final, None)
