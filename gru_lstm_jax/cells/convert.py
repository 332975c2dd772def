"""Converters between this package's cell parameters and PyTorch's and Keras's weights.

Layouts (``I`` inputs, ``H`` hidden units):

============  ==================================  =========================================
              PyTorch ``nn.LSTM`` / ``nn.GRU``    Keras ``LSTM`` / ``GRU``
============  ==================================  =========================================
LSTM gates    i, f, g, o (same as ours)           i, f, c, o (same as ours)
GRU gates     r, z, n (same as ours)              z, r, h (reordered here)
kernels       ``weight_ih_l{k}``: ``(G*H, I)``,     ``kernel``: ``(I, G*H)``,
              ``weight_hh_l{k}``: ``(G*H, H)``      ``recurrent_kernel``: ``(H, G*H)``
biases        ``bias_ih_l{k}``, ``bias_hh_l{k}``    LSTM and GRU(reset_after=False): ``(G*H,)``;
                                                  GRU(reset_after=True): ``(2, 3H)`` = input,
                                                  recurrent
============  ==================================  =========================================

PyTorch's LSTM has two biases that always appear as a sum, so they are added into our single
bias; converting back puts our bias in ``bias_ih`` and zeros in ``bias_hh``. PyTorch's GRU is the
``reset_after`` variant; its two biases are our ``bias`` and ``recurrent_bias``. Reverse-direction
weights of a bidirectional PyTorch module carry the suffix ``_reverse``.

cuDNN's LSTM weights (``jax.experimental.rnn.lstm``, one layer and direction) are one flat vector
in PyTorch's layout: ``W_ih`` ``(4H, I)``, ``W_hh`` ``(4H, H)``, ``b_ih`` and ``b_hh`` ``(4H,)``,
each flattened row-major, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = [
    "gru_params_from_keras",
    "gru_params_from_torch",
    "gru_params_to_keras",
    "gru_params_to_torch",
    "lstm_params_from_cudnn",
    "lstm_params_from_keras",
    "lstm_params_from_torch",
    "lstm_params_to_cudnn",
    "lstm_params_to_keras",
    "lstm_params_to_torch",
]

# Keras's GRU blocks are (z, r, n); ours are (r, z, n). Swapping the first two blocks maps
# either layout to the other.
_KERAS_GRU_ORDER = (1, 0, 2)


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch.Tensor, converted without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _torch_keys(layer: int, reverse: bool) -> dict[str, str]:
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    return {name: f"{name}{suffix}" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _write_torch(params: Mapping[str, Any], layer: int, reverse: bool) -> dict[str, np.ndarray]:
    """PyTorch's four entries of one layer and direction; ``bias_hh`` is ``recurrent_bias`` or 0."""
    keys, bias = _torch_keys(layer, reverse), _to_numpy(params["bias"])
    return {
        keys["weight_ih"]: _to_numpy(params["kernel"]).T.copy(),
        keys["weight_hh"]: _to_numpy(params["recurrent_kernel"]).T.copy(),
        keys["bias_ih"]: bias.copy(),
        keys["bias_hh"]: _to_numpy(params.get("recurrent_bias", np.zeros_like(bias))).copy(),
    }


def _read_torch(
    state_dict: Mapping[str, Any], layer: int, reverse: bool, gates: int
) -> dict[str, np.ndarray]:
    keys = _torch_keys(layer, reverse)
    missing = [key for key in keys.values() if key not in state_dict]
    if missing:
        raise ValueError(
            f"state_dict has no {missing} (layer={layer}, reverse={reverse}); "
            f"its keys are {sorted(state_dict)}"
        )
    arrays = {name: _to_numpy(state_dict[key]) for name, key in keys.items()}
    w_hh = arrays["weight_hh"]
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1]:
        raise ValueError(
            f"state_dict[{keys['weight_hh']!r}] must have shape ({gates}*H, H); got {w_hh.shape}"
        )
    H = w_hh.shape[1]
    if arrays["weight_ih"].ndim != 2 or arrays["weight_ih"].shape[0] != gates * H:
        raise ValueError(
            f"state_dict[{keys['weight_ih']!r}] must have shape ({gates * H}, input_size); "
            f"got {arrays['weight_ih'].shape}"
        )
    for name in ("bias_ih", "bias_hh"):
        if arrays[name].shape != (gates * H,):
            raise ValueError(
                f"state_dict[{keys[name]!r}] must have shape ({gates * H},); "
                f"got {arrays[name].shape}"
            )
    return arrays


def lstm_params_from_torch(
    state_dict: Mapping[str, Any], *, layer: int = 0, reverse: bool = False
) -> dict[str, jnp.ndarray]:
    """Converts one layer and direction of a PyTorch ``nn.LSTM`` state dict to LSTM params.

    Args:
        state_dict: ``module.state_dict()`` (tensors or arrays), with ``weight_ih_l{layer}``
            ``(4H, I)``, ``weight_hh_l{layer}`` ``(4H, H)``, ``bias_ih_l{layer}`` and
            ``bias_hh_l{layer}`` ``(4H,)`` (suffix ``_reverse`` for the backward direction).
        layer: the layer index ``k``.
        reverse: take the backward direction of a bidirectional module.

    Returns:
        ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}`` with
        ``bias = bias_ih + bias_hh``.
    """
    a = _read_torch(state_dict, layer, reverse, gates=4)
    return {
        "kernel": jnp.asarray(a["weight_ih"].T),
        "recurrent_kernel": jnp.asarray(a["weight_hh"].T),
        "bias": jnp.asarray(a["bias_ih"] + a["bias_hh"]),
    }


def lstm_params_to_torch(
    params: Mapping[str, Any], *, layer: int = 0, reverse: bool = False
) -> dict[str, np.ndarray]:
    """Converts LSTM params to the four PyTorch ``nn.LSTM`` entries of one layer and direction.

    Args:
        params: ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}``.
        layer: the layer index used in the key names.
        reverse: name the keys for the backward direction (suffix ``_reverse``).

    Returns:
        ``{weight_ih_l{k}: (4H, I), weight_hh_l{k}: (4H, H), bias_ih_l{k}: (4H,),
        bias_hh_l{k}: (4H,)}`` as float32 NumPy arrays; ``bias_hh`` is zero.
    """
    _check_params(params, ("kernel", "recurrent_kernel", "bias"), gates=4)
    return _write_torch(params, layer, reverse)


def gru_params_from_torch(
    state_dict: Mapping[str, Any], *, layer: int = 0, reverse: bool = False
) -> dict[str, jnp.ndarray]:
    """Converts one layer and direction of a PyTorch ``nn.GRU`` state dict to GRU params.

    PyTorch's GRU is the ``reset_after=True`` variant with gates ``r, z, n``, as ours.

    Args:
        state_dict: ``module.state_dict()``, with ``weight_ih_l{layer}`` ``(3H, I)``,
            ``weight_hh_l{layer}`` ``(3H, H)``, ``bias_ih_l{layer}`` and ``bias_hh_l{layer}``
            ``(3H,)`` (suffix ``_reverse`` for the backward direction).
        layer: the layer index ``k``.
        reverse: take the backward direction of a bidirectional module.

    Returns:
        ``{"kernel": (I, 3H), "recurrent_kernel": (H, 3H), "bias": (3H,),
        "recurrent_bias": (3H,)}``.
    """
    a = _read_torch(state_dict, layer, reverse, gates=3)
    return {
        "kernel": jnp.asarray(a["weight_ih"].T),
        "recurrent_kernel": jnp.asarray(a["weight_hh"].T),
        "bias": jnp.asarray(a["bias_ih"]),
        "recurrent_bias": jnp.asarray(a["bias_hh"]),
    }


def gru_params_to_torch(
    params: Mapping[str, Any], *, layer: int = 0, reverse: bool = False
) -> dict[str, np.ndarray]:
    """Converts ``reset_after=True`` GRU params to PyTorch ``nn.GRU`` entries.

    Args:
        params: ``{"kernel": (I, 3H), "recurrent_kernel": (H, 3H), "bias": (3H,),
            "recurrent_bias": (3H,)}``.
        layer: the layer index used in the key names.
        reverse: name the keys for the backward direction (suffix ``_reverse``).

    Returns:
        ``{weight_ih_l{k}: (3H, I), weight_hh_l{k}: (3H, H), bias_ih_l{k}: (3H,),
        bias_hh_l{k}: (3H,)}`` as float32 NumPy arrays.

    Raises:
        ValueError: for ``reset_after=False`` params (no ``recurrent_bias``), which PyTorch's
            GRU cannot represent.
    """
    if "recurrent_bias" not in params:
        raise ValueError(
            "params has no 'recurrent_bias': PyTorch's nn.GRU implements only the "
            "reset_after=True variant"
        )
    _check_params(params, ("kernel", "recurrent_kernel", "bias", "recurrent_bias"), gates=3)
    return _write_torch(params, layer, reverse)


def lstm_params_from_keras(weights: Sequence[Any]) -> dict[str, jnp.ndarray]:
    """Converts Keras ``LSTM`` weights (``layer.get_weights()``) to LSTM params.

    Args:
        weights: ``[kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)]``.

    Returns:
        ``{"kernel", "recurrent_kernel", "bias"}``; Keras's layout is already ours.
    """
    if len(weights) != 3:
        raise ValueError(
            "weights must be [kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,)]; "
            f"got {len(weights)} arrays"
        )
    params = dict(zip(("kernel", "recurrent_kernel", "bias"), map(_to_numpy, weights), strict=True))
    _check_params(params, tuple(params), gates=4)
    return {name: jnp.asarray(value) for name, value in params.items()}


def lstm_params_to_keras(params: Mapping[str, Any]) -> list[np.ndarray]:
    """Converts LSTM params to Keras ``LSTM`` weights ``[kernel, recurrent_kernel, bias]``."""
    _check_params(params, ("kernel", "recurrent_kernel", "bias"), gates=4)
    return [_to_numpy(params[name]).copy() for name in ("kernel", "recurrent_kernel", "bias")]


def lstm_params_to_cudnn(params: Mapping[str, Any]) -> jnp.ndarray:
    """Packs LSTM params into cuDNN's flat weights of one layer and direction.

    Args:
        params: ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}``; arrays or
            traced values (it runs inside ``jit``).

    Returns:
        ``(4H (I + H + 2),)``: ``W_ih = kernel.T``, ``W_hh = recurrent_kernel.T``,
        ``b_ih = bias`` and ``b_hh = 0``.
    """
    _check_params(params, ("kernel", "recurrent_kernel", "bias"), gates=4)
    bias = jnp.asarray(params["bias"])
    kernels = [jnp.ravel(jnp.transpose(params[name])) for name in ("kernel", "recurrent_kernel")]
    return jnp.concatenate([*kernels, bias, jnp.zeros_like(bias)])


def lstm_params_from_cudnn(weights: Any, *, input_size: int, hidden_size: int) -> dict[str, Any]:
    """Unpacks cuDNN's flat LSTM weights of one layer and direction, summing the two biases.

    Args:
        weights: ``(4H (I + H + 2),)``.
        input_size: ``I``.
        hidden_size: ``H``.

    Returns:
        ``{"kernel": (I, 4H), "recurrent_kernel": (H, 4H), "bias": (4H,)}`` with
        ``bias = b_ih + b_hh``.
    """
    G, F, H = 4 * hidden_size, input_size, hidden_size
    weights = jnp.asarray(weights)
    if weights.shape != (G * (F + H + 2),):
        raise ValueError(
            f"weights must have shape (4H (I + H + 2),) = ({G * (F + H + 2)},) for "
            f"input_size={F}, hidden_size={H}; got {tuple(weights.shape)}"
        )
    W_ih, W_hh, b_ih, b_hh = jnp.split(weights, np.cumsum([G * F, G * H, G]))
    return {"kernel": W_ih.reshape(G, F).T, "recurrent_kernel": W_hh.reshape(G, H).T,
            "bias": b_ih + b_hh}  # fmt: skip


def _reorder_gru_blocks(array: np.ndarray) -> np.ndarray:
    blocks = np.split(array, 3, axis=-1)
    return np.concatenate([blocks[i] for i in _KERAS_GRU_ORDER], axis=-1)


def gru_params_from_keras(weights: Sequence[Any], *, reset_after: bool = True) -> dict[str, Any]:
    """Converts Keras ``GRU`` weights (``layer.get_weights()``) to GRU params.

    Args:
        weights: ``[kernel (I, 3H), recurrent_kernel (H, 3H), bias]`` with gates ``z, r, h``;
            ``bias`` is ``(2, 3H)`` (input, recurrent) when ``reset_after`` else ``(3H,)``.
        reset_after: the Keras layer's ``reset_after``.

    Returns:
        GRU params of the same variant with gates reordered to ``r, z, n``.
    """
    if len(weights) != 3:
        raise ValueError(
            f"weights must be [kernel, recurrent_kernel, bias]; got {len(weights)} arrays"
        )
    kernel, recurrent_kernel, bias = map(_to_numpy, weights)
    H = recurrent_kernel.shape[0]
    expected_bias = (2, 3 * H) if reset_after else (3 * H,)
    if bias.shape != expected_bias:
        raise ValueError(
            f"the Keras GRU bias must have shape {expected_bias} for reset_after={reset_after}; "
            f"got {bias.shape}"
        )
    params = {"kernel": kernel, "recurrent_kernel": recurrent_kernel}
    if reset_after:
        params["bias"], params["recurrent_bias"] = bias[0], bias[1]
    else:
        params["bias"] = bias
    _check_params(params, tuple(params), gates=3)
    return {name: jnp.asarray(_reorder_gru_blocks(value)) for name, value in params.items()}


def gru_params_to_keras(params: Mapping[str, Any]) -> list[np.ndarray]:
    """Converts GRU params (either variant) to Keras ``GRU`` weights.

    Args:
        params: GRU params; with ``recurrent_bias`` they are the ``reset_after=True`` variant.

    Returns:
        ``[kernel (I, 3H), recurrent_kernel (H, 3H), bias]`` with gates ``z, r, h`` and ``bias``
        ``(2, 3H)`` for ``reset_after=True`` or ``(3H,)`` otherwise.
    """
    names = ("kernel", "recurrent_kernel", "bias")
    if "recurrent_bias" in params:
        names += ("recurrent_bias",)
    _check_params(params, names, gates=3)
    out = {name: _reorder_gru_blocks(_to_numpy(params[name])) for name in names}
    bias = out["bias"]
    if "recurrent_bias" in out:
        bias = np.stack([out["bias"], out["recurrent_bias"]])
    return [out["kernel"], out["recurrent_kernel"], bias]


def _check_params(params: Mapping[str, Any], names: Sequence[str], gates: int) -> None:
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; it has {sorted(params)}")
    recurrent = np.shape(params["recurrent_kernel"])
    if len(recurrent) != 2 or recurrent[1] != gates * recurrent[0]:
        raise ValueError(
            f"params['recurrent_kernel'] must have shape (H, {gates}*H); got {recurrent}"
        )
    size = gates * recurrent[0]
    kernel = np.shape(params["kernel"])
    if len(kernel) != 2 or kernel[1] != size:
        raise ValueError(f"params['kernel'] must have shape (input_size, {size}); got {kernel}")
    for name in names:
        if "bias" in name and np.shape(params[name]) != (size,):
            raise ValueError(
                f"params[{name!r}] must have shape ({size},); got {np.shape(params[name])}"
            )
