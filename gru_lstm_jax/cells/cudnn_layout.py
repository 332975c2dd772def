"""Our LSTM parameters in cuDNN's flat weight layout (``jax.experimental.rnn``) and back.

cuDNN's opaque weight vector has PyTorch's layout: per pseudo-layer (forward 0, [reverse 0,]
forward 1, ...) ``W_ih`` ``(4H, in)`` and ``W_hh`` ``(4H, H)``, all of them first, then
``b_ih`` ``(4H,)`` and ``b_hh`` ``(4H,)`` of every pseudo-layer; gates in the order
``i, f, g, o``, the same as ours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import rnn

from gru_lstm_jax.cells.lstm import LSTMState
from gru_lstm_jax.checks import check_positive_int

__all__ = [
    "check_lstm_params",
    "cudnn_layer_sizes",
    "cudnn_nest",
    "cudnn_pseudo_layers",
    "lstm_params_from_cudnn",
    "lstm_params_to_cudnn",
]

_LSTM_KEYS = ("bias", "kernel", "recurrent_kernel")


def cudnn_pseudo_layers(layers: Sequence[Any], bidirectional: bool, name: str) -> list[Any]:
    """Per-layer entries (``layers``, or carries, named ``name``) in cuDNN's order.

    ``[l0, l1]`` or ``[(f0, b0), (f1, b1)]`` as cuDNN's pseudo-layers ``[f0, b0, f1, b1]``.
    """
    if isinstance(layers, Mapping) or not isinstance(layers, Sequence) or not layers:
        raise ValueError(
            f"{name} must be a non-empty sequence with one entry per layer "
            f"({'a (forward, backward) pair' if bidirectional else 'a single value'} each); "
            f"got {type(layers).__name__}"
        )
    if not bidirectional:
        return list(layers)
    pseudo = []
    for index, pair in enumerate(layers):
        if not isinstance(pair, Sequence) or isinstance(pair, LSTMState) or len(pair) != 2:
            raise ValueError(
                f"{name}[{index}] must be a (forward, backward) pair for a bidirectional LSTM; "
                f"got {type(pair).__name__}"
            )
        pseudo.extend(pair)
    return pseudo


def cudnn_nest(pseudo: list[Any], bidirectional: bool) -> list[Any]:
    """The inverse of :func:`cudnn_pseudo_layers`: ``[f0, b0, f1, b1]`` as pairs."""
    if not bidirectional:
        return pseudo
    return [(pseudo[i], pseudo[i + 1]) for i in range(0, len(pseudo), 2)]


def check_lstm_params(
    params: Any, name: str, in_features: int | None = None, hidden: int | None = None
) -> tuple[int, int]:
    """Checks one set of our LSTM parameters; returns its ``(in_features, H)``.

    ``in_features`` and ``hidden`` are inferred from the kernels when not given.
    """
    if not isinstance(params, Mapping) or set(params) != set(_LSTM_KEYS):
        keys = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(
            f"{name} must be LSTM parameters with the keys {list(_LSTM_KEYS)}; got {keys}"
        )
    shapes = {key: tuple(jnp.shape(params[key])) for key in _LSTM_KEYS}
    if hidden is None:
        if len(shapes["recurrent_kernel"]) != 2:
            raise ValueError(
                f"{name}['recurrent_kernel'] must have shape (H, 4H); "
                f"got {shapes['recurrent_kernel']}"
            )
        hidden = shapes["recurrent_kernel"][0]
    if in_features is None:
        if len(shapes["kernel"]) != 2:
            raise ValueError(
                f"{name}['kernel'] must have shape (I, 4H) = (I, {4 * hidden}); "
                f"got {shapes['kernel']}"
            )
        in_features = shapes["kernel"][0]
    expected = {
        "kernel": (in_features, 4 * hidden),
        "recurrent_kernel": (hidden, 4 * hidden),
        "bias": (4 * hidden,),
    }
    for key, shape in expected.items():
        if shapes[key] != shape:
            raise ValueError(f"{name}[{key!r}] must have shape {shape}; got {shapes[key]}")
    return in_features, hidden


def cudnn_layer_sizes(pseudo: list[Any], bidirectional: bool, name: str) -> tuple[int, int]:
    """Checks the pseudo-layers' shapes; returns ``(input_size, hidden_size)``."""
    directions = 2 if bidirectional else 1
    suffix = "[0]" if bidirectional else ""
    input_size, hidden = check_lstm_params(pseudo[0], f"{name}[0]{suffix}")
    for index, params in enumerate(pseudo):
        layer, direction = divmod(index, directions)
        where = f"{name}[{layer}]" + (f"[{direction}]" if bidirectional else "")
        in_features = input_size if layer == 0 else directions * hidden
        check_lstm_params(params, where, in_features, hidden)
    return input_size, hidden


def lstm_params_to_cudnn(layers: Sequence[Any], *, bidirectional: bool = False) -> jax.Array:
    """Packs our LSTM parameters into cuDNN's flat weight vector.

    Each pseudo-layer's ``W_ih = kernel.T``, ``W_hh = recurrent_kernel.T``, ``b_ih = bias``
    and ``b_hh = 0`` (cuDNN has two biases where we have their sum).

    Args:
        layers: one entry per layer: our parameters
            ``{"kernel": (in, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}``, or for a
            bidirectional LSTM a ``(forward, backward)`` pair of them. Layer 0 has ``in = I``,
            the others ``in = H`` (``2H`` when bidirectional); ``H`` is the same in every layer.
        bidirectional: whether ``layers`` holds ``(forward, backward)`` pairs.

    Returns:
        The weights ``(N,)``, ``N = jax.experimental.rnn.get_num_params_in_lstm(I, H, L,
        bidirectional)``, in the layout of ``jax.experimental.rnn.lstm``.

    Raises:
        ValueError: if ``layers`` is not a non-empty sequence of such parameters, or a shape
            is wrong (the message names the entry and its expected shape).
    """
    pseudo = cudnn_pseudo_layers(layers, bidirectional, "layers")
    cudnn_layer_sizes(pseudo, bidirectional, "layers")
    matrices, biases = [], []
    for params in pseudo:
        matrices += [jnp.ravel(jnp.transpose(params["kernel"]))]
        matrices += [jnp.ravel(jnp.transpose(params["recurrent_kernel"]))]
        biases += [jnp.asarray(params["bias"]), jnp.zeros_like(params["bias"])]
    return jnp.concatenate(matrices + biases)


def lstm_params_from_cudnn(
    weights: jax.Array,
    *,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> list[Any]:
    """Unpacks cuDNN's flat LSTM weights into our parameters, summing the two biases.

    Args:
        weights: ``(N,)`` in the layout of ``jax.experimental.rnn.lstm``.
        input_size: ``I``, the input features of layer 0.
        hidden_size: ``H``.
        num_layers: ``L``.
        bidirectional: whether the weights are those of a bidirectional LSTM.

    Returns:
        A list with one entry per layer: ``{"kernel": (in, 4H), "recurrent_kernel": (H, 4H),
        "bias": (4H,)}`` with ``bias = b_ih + b_hh``, or for a bidirectional LSTM a
        ``(forward, backward)`` tuple of them.

    Raises:
        ValueError: if a size is not a positive int or ``weights`` is not ``(N,)``.
    """
    check_positive_int(input_size, "input_size")
    check_positive_int(hidden_size, "hidden_size")
    check_positive_int(num_layers, "num_layers")
    input_size, hidden_size, num_layers = int(input_size), int(hidden_size), int(num_layers)
    count = rnn.get_num_params_in_lstm(input_size, hidden_size, num_layers, bidirectional)
    weights = jnp.asarray(weights)
    if weights.shape != (count,):
        raise ValueError(
            f"weights must have shape (N,) = ({count},) for input_size={input_size}, "
            f"hidden_size={hidden_size}, num_layers={num_layers}, "
            f"bidirectional={bidirectional}; got {tuple(weights.shape)}"
        )
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(
        weights, input_size, hidden_size, num_layers, bidirectional
    )
    pseudo = [
        {"kernel": W_ih[i].T, "recurrent_kernel": W_hh[i].T, "bias": b_ih[i] + b_hh[i]}
        for i in range(len(W_ih))
    ]
    return cudnn_nest(pseudo, bidirectional)
