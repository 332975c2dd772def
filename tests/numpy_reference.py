"""Independent NumPy implementations of the cell equations, for the tests."""

from __future__ import annotations

import numpy as np


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm_step(p, h, c, x, sigma=np_sigmoid, act=np.tanh):
    """LSTM with gates i, f, g, o (Hochreiter & Schmidhuber 1997; Gers et al. 2000)."""
    H = h.shape[-1]
    W, U, b = p["kernel"], p["recurrent_kernel"], p["bias"]
    gate = {}
    for k, name in enumerate("ifgo"):
        block = slice(k * H, (k + 1) * H)
        gate[name] = x @ W[:, block] + h @ U[:, block] + b[block]
    i, f, g, o = sigma(gate["i"]), sigma(gate["f"]), act(gate["g"]), sigma(gate["o"])
    c_new = f * c + i * g
    return o * act(c_new), c_new


def np_gru_step(p, h, x, reset_after=True, sigma=np_sigmoid, act=np.tanh):
    """GRU with gates r, z, n; cuDNN's reset-after or Cho et al.'s reset-before candidate."""
    H = h.shape[-1]
    W, U = p["kernel"], p["recurrent_kernel"]

    def block(a, k):
        return a[..., k * H : (k + 1) * H]

    if reset_after:
        bi, bh = p["bias"], p["recurrent_bias"]
        r = sigma(x @ block(W, 0) + block(bi, 0) + h @ block(U, 0) + block(bh, 0))
        z = sigma(x @ block(W, 1) + block(bi, 1) + h @ block(U, 1) + block(bh, 1))
        n = act(x @ block(W, 2) + block(bi, 2) + r * (h @ block(U, 2) + block(bh, 2)))
    else:
        b = p["bias"]
        r = sigma(x @ block(W, 0) + h @ block(U, 0) + block(b, 0))
        z = sigma(x @ block(W, 1) + h @ block(U, 1) + block(b, 1))
        n = act(x @ block(W, 2) + (r * h) @ block(U, 2) + block(b, 2))
    return (1.0 - z) * n + z * h


def np_rnn_step(p, h, x, act=np.tanh):
    """Elman RNN: h' = tanh(x W + h U + b)."""
    return act(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"])


def random_params(cell, seed, input_size, hidden_size, scale=0.5):
    """Cell params of the right shapes with every entry uniform in [-scale, scale] (biases too)."""
    import jax

    shapes = jax.eval_shape(lambda key: cell.init(key, input_size, hidden_size), jax.random.key(0))
    rng = np.random.default_rng(seed)
    return {
        name: rng.uniform(-scale, scale, size=s.shape).astype(np.float32)
        for name, s in shapes.items()
    }
