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


def np_peephole_lstm_step(p, h, c, x):
    """Peephole LSTM (Gers & Schmidhuber 2000): i, f see c; o sees the new c."""
    H = h.shape[-1]
    z = x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
    p_i, p_f, p_o = p["peephole"]
    i = np_sigmoid(z[:, :H] + p_i * c)
    f = np_sigmoid(z[:, H : 2 * H] + p_f * c)
    c_new = f * c + i * np.tanh(z[:, 2 * H : 3 * H])
    o = np_sigmoid(z[:, 3 * H :] + p_o * c_new)
    return o * np.tanh(c_new), c_new


def np_layer_norm(z, gain, shift=0.0, eps=1e-5):
    mean = z.mean(-1, keepdims=True)
    var = ((z - mean) ** 2).mean(-1, keepdims=True)
    return gain * (z - mean) / np.sqrt(var + eps) + shift


def np_layer_norm_lstm_step(p, h, c, x):
    """Layer-normalised LSTM (Ba, Kiros & Hinton 2016)."""
    H = h.shape[-1]
    z = (
        np_layer_norm(x @ p["kernel"], p["ln_x"])
        + np_layer_norm(h @ p["recurrent_kernel"], p["ln_h"])
        + p["bias"]
    )
    i, f, o = np_sigmoid(z[:, :H]), np_sigmoid(z[:, H : 2 * H]), np_sigmoid(z[:, 3 * H :])
    c_new = f * c + i * np.tanh(z[:, 2 * H : 3 * H])
    return o * np.tanh(np_layer_norm(c_new, p["ln_c"][0], p["ln_c"][1])), c_new


def np_min_gru_step(p, h, x):
    """minGRU (Feng et al. 2024): z = σ(x W_z + b_z), h' = (1 - z) h + z (x W_h + b_h)."""
    H = h.shape[-1]
    a = x @ p["kernel"] + p["bias"]
    z = np_sigmoid(a[:, :H])
    return (1.0 - z) * h + z * a[:, H:]


def np_min_lstm_step(p, h, x):
    """minLSTM (Feng et al. 2024): h' = f/(f+i) h + i/(f+i) (x W_h + b_h), f, i sigmoids."""
    H = h.shape[-1]
    a = x @ p["kernel"] + p["bias"]
    f, i = np_sigmoid(a[:, :H]), np_sigmoid(a[:, H : 2 * H])
    return f / (f + i) * h + i / (f + i) * a[:, 2 * H :]


def np_lstm_variant_step(variant, p, h, c, gates, x):
    """One step of Greff et al.'s (2017) LSTM variant; ``gates`` is FGR's last [i, f, o] or None.

    Returns ``(h', c', [i, f, o])`` with a gate the variant lacks given as ones.
    """
    H = h.shape[-1]
    names = {"NIG": "fgo", "NFG": "igo", "NOG": "ifg", "CIFG": "igo"}.get(variant, "ifgo")
    peepholes = {"NIG": "fo", "NFG": "io", "NOG": "if", "CIFG": "io", "NP": ""}.get(variant, "ifo")
    pre = {}
    for k, name in enumerate(names):
        columns = slice(k * H, (k + 1) * H)
        pre[name] = x @ p["kernel"][:, columns] + h @ p["recurrent_kernel"][:, columns]
        pre[name] = pre[name] + p["bias"][columns]
    if variant == "FGR":
        R = p["gate_recurrent_kernel"]
        for k, name in enumerate("ifo"):
            pre[name] = pre[name] + gates @ R[:, k * H : (k + 1) * H]
    peep = {"i": 0.0, "f": 0.0, "o": 0.0}
    peep.update({name: p["peephole"][k] for k, name in enumerate(peepholes)})
    ones = np.ones_like(c)
    i = np_sigmoid(pre["i"] + peep["i"] * c) if "i" in names else ones
    if variant == "CIFG":
        f = 1.0 - i
    else:
        f = np_sigmoid(pre["f"] + peep["f"] * c) if "f" in names else ones
    g = pre["g"] if variant == "NIAF" else np.tanh(pre["g"])
    c_new = f * c + i * g
    o = np_sigmoid(pre["o"] + peep["o"] * c_new) if "o" in names else ones
    h_new = o * (c_new if variant == "NOAF" else np.tanh(c_new))
    return h_new, c_new, np.concatenate([i, f, o], axis=-1)
