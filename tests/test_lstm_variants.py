"""Greff et al.'s LSTM variants: NumPy equations, parameter counts, and the fused recurrence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from numpy_reference import np_lstm_variant_step, np_sigmoid, random_params

from gru_lstm_jax import StackedRNN
from gru_lstm_jax.cells import LSTM_VARIANTS, FGRState, get_cell, lstm_variant_cell
from gru_lstm_jax.recurrence import run_scan

B, T, F, H = 3, 6, 4, 5
NAMES = [f"lstm_{v.lower()}" for v in LSTM_VARIANTS]


def _count(variant, inputs, H):
    """The module docstring's table: B = I H + H² + H per gate block."""
    block = inputs * H + H * H + H
    return {
        "V": 4 * block + 3 * H,
        "NIG": 3 * block + 2 * H,
        "NFG": 3 * block + 2 * H,
        "NOG": 3 * block + 2 * H,
        "NIAF": 4 * block + 3 * H,
        "NOAF": 4 * block + 3 * H,
        "NP": 4 * block,
        "CIFG": 3 * block + 2 * H,
        "FGR": 4 * block + 3 * H + 9 * H * H,
    }[variant]


def _setup(variant, rng, scale=0.5):
    cell = lstm_variant_cell(variant)
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 3, F, H, scale).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    carry = jax.tree.map(
        lambda a: jnp.asarray(rng.uniform(-1, 1, size=a.shape), jnp.float32),
        cell.initial_carry((B,), H),
    )
    return cell, params, xs, carry


@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_each_variant_equals_numpy_and_counts_its_parameters(variant, rng):
    cell, params, xs, carry = _setup(variant, rng)
    assert cell == get_cell(f"lstm_{variant.lower()}") and cell.name == f"lstm_{variant.lower()}"
    p64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
    h, c = np.asarray(carry.h, np.float64), np.asarray(carry.c, np.float64)
    gates = np.asarray(carry.gates, np.float64) if variant == "FGR" else None
    expected = []
    for t in range(T):
        h, c, gates = np_lstm_variant_step(variant, p64, h, c, gates, np.asarray(xs[:, t]))
        expected.append(h)
    for implementation in ("scan", "fused"):
        outputs, final = run_scan(
            cell, params, xs, initial_carry=carry, implementation=implementation
        )[:2]
        np.testing.assert_allclose(outputs, np.stack(expected, 1), atol=2e-5, rtol=2e-5)
        np.testing.assert_allclose(final.c, c, atol=2e-5, rtol=2e-5)
        if variant == "FGR":
            assert isinstance(final, FGRState)
            np.testing.assert_allclose(final.gates, gates, atol=2e-5)
    # The gates it has are reported under their names; a missing gate is not.
    named = set(cell.gates(params, carry, cell.project(params, xs)[:, 0]))
    absent = {"NIG": "input_gate", "NFG": "forget_gate", "NOG": "output_gate"}.get(variant)
    assert named == {"input_gate", "forget_gate", "output_gate"} - {absent}
    for inputs, Hs in ((1, 64), (F, H)):
        params = cell.init(jax.random.key(0), inputs, Hs)
        assert sum(v.size for v in params.values()) == _count(variant, inputs, Hs)
        assert all(v.dtype == jnp.float32 for v in params.values())


def test_v_is_the_peephole_lstm_and_np_the_lstm(rng):
    for variant, other in (("V", "peephole_lstm"), ("NP", "lstm")):
        cell, params, xs, carry = _setup(variant, rng)
        ours = run_scan(cell, params, xs, initial_carry=carry)
        theirs = run_scan(get_cell(other), params, xs, initial_carry=carry)
        np.testing.assert_array_equal(ours.outputs, theirs.outputs)
        fresh = cell.init(jax.random.key(1), F, H)
        jax.tree.map(
            np.testing.assert_array_equal, fresh, get_cell(other).init(jax.random.key(1), F, H)
        )


def test_initial_biases_and_chrono(rng):
    # Forget bias 1 (CIFG: input bias -1, so that f = 1 - i = σ(1)); peepholes and R zero.
    for variant in LSTM_VARIANTS:
        params = lstm_variant_cell(variant).init(jax.random.key(0), F, H)
        blocks = {"NIG": "fgo", "NFG": "igo", "NOG": "ifg", "CIFG": "igo"}.get(variant, "ifgo")
        bias = dict(zip(blocks, np.split(np.asarray(params["bias"]), len(blocks)), strict=True))
        for name, value in bias.items():
            expected = {"f": 1.0, "i": -1.0 if variant == "CIFG" else 0.0}.get(name, 0.0)
            np.testing.assert_array_equal(value, expected)
        for name in ("peephole", "gate_recurrent_kernel"):
            assert not np.any(params.get(name, 0.0))
    # Chrono: b_f = log(u) with u in [1, T_max - 1], b_i = -b_f; CIFG's forget gate keeps σ(log u).
    T_max = 50
    for variant in ("V", "CIFG", "NFG"):
        cell = get_cell(f"lstm_{variant.lower()}", chrono_max_length=T_max)
        params = cell.init(jax.random.key(2), F, H)
        i_bias = np.asarray(params["bias"][:H])
        u = np.exp(-i_bias)
        assert u.min() >= 1.0 and u.max() <= T_max - 1.0 and np.ptp(u) > 0
        if variant == "V":
            np.testing.assert_allclose(params["bias"][H : 2 * H], -i_bias)
        if variant == "CIFG":
            np.testing.assert_allclose(1.0 - np_sigmoid(i_bias), u / (1.0 + u), rtol=1e-5)
    with pytest.raises(ValueError, match="chrono_max_length must be an int >= 3"):
        get_cell("lstm_cifg", chrono_max_length=2)
    with pytest.raises(ValueError, match=r"variant must be one of \['V', 'NIG'"):
        lstm_variant_cell("vanilla")


@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_fused_equals_scan_with_masks_resets_and_dropout(variant, rng):
    cell, params, xs, carry = _setup(variant, rng)
    valid = {"lengths": jnp.array([T, 0, 2]), "mask": jnp.asarray(rng.random((B, T)) < 0.8)}
    resets = jnp.asarray(rng.random((B, T)) < 0.3)
    keep = jnp.asarray(rng.random((B, H)) < 0.7, jnp.float32) / 0.7

    def loss(implementation, reverse):
        def f(params, xs, carry):
            outputs, final, _ = run_scan(
                cell, params, xs, initial_carry=carry, resets=resets, recurrent_mask=keep,
                reverse=reverse, implementation=implementation, **valid,
            )  # fmt: skip
            return jnp.sum(jnp.sin(outputs)) + sum(jnp.sum(leaf**2) for leaf in final)

        return jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2)))

    for reverse in (False, True):
        fused = loss("fused", reverse)(params, xs, carry)
        scan = loss("scan", reverse)(params, xs, carry)
        for a, b in zip(jax.tree.leaves(fused), jax.tree.leaves(scan), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_variants_run_in_every_layer(rng):
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    lengths = jnp.array([T, 3, 1])
    for name in ("lstm_fgr", "lstm_cifg"):
        for bidirectional in (False, True):
            stack = StackedRNN(
                name, F, (H, 2), bidirectional=bidirectional, return_sequences=True,
                recurrent_dropout=0.2, rngs=nnx.Rngs(0),
            )  # fmt: skip
            out = stack(xs, lengths=lengths)
            assert out.shape == (B, T, 4 if bidirectional else 2)
            assert np.all(np.isfinite(out)) and not np.any(out[2, 1:])
