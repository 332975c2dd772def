"""minGRU and minLSTM: NumPy equations, and the associative scan against the sequential ones."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from numpy_reference import np_min_gru_step, np_min_lstm_step, random_params

from gru_lstm_jax import RNN
from gru_lstm_jax.cells import Cell, MinState, get_cell
from gru_lstm_jax.recurrence import run_scan
from gru_lstm_jax.recurrence.associative import linear_in_h

B, T, F, H = 3, 7, 4, 5
REFERENCES = {"min_gru": np_min_gru_step, "min_lstm": np_min_lstm_step}


def _setup(name, rng):
    cell = get_cell(name)
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 3, F, H, scale=1.0).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    h0 = jnp.asarray(rng.normal(size=(B, H)), jnp.float32)
    return cell, params, xs, MinState(h0)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_equations_and_parameter_counts_match_numpy(name, rng):
    cell, params, xs, carry = _setup(name, rng)
    h = np.asarray(carry.h)
    expected = []
    for t in range(T):
        h = REFERENCES[name]({k: np.asarray(v) for k, v in params.items()}, h, np.asarray(xs[:, t]))
        expected.append(h)
    for implementation in ("scan", "fused", "associative"):
        outputs = run_scan(
            cell, params, xs, initial_carry=carry, implementation=implementation
        ).outputs
        np.testing.assert_allclose(outputs, np.stack(expected, axis=1), rtol=1e-5, atol=1e-5)
    blocks = 2 if name == "min_gru" else 3
    count = sum(a.size for a in jax.tree.leaves(cell.init(jax.random.key(0), F, H)))
    assert count == blocks * (F * H + H)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", list(REFERENCES))
def test_associative_equals_sequential_values_and_gradients(name, reverse, rng):
    # Masks with holes, lengths down to 0, resets, an initial carry and a dropout mask on h.
    cell, params, xs, carry = _setup(name, rng)
    lengths = jnp.array([T, 3, 0])
    mask = jnp.asarray(rng.random((B, T)) < 0.8)
    resets = jnp.asarray(rng.random((B, T)) < 0.25)
    keep = jnp.asarray(rng.random((B, H)) < 0.8) / 0.8

    def loss(params, xs, carry, implementation):
        outputs, final, carries = run_scan(
            cell, params, xs, initial_carry=carry, lengths=lengths, mask=mask, resets=resets,
            recurrent_mask=keep, reverse=reverse, return_carries=True,
            implementation=implementation,
        )  # fmt: skip
        total = jnp.sum(jnp.sin(outputs)) + jnp.sum(final.h**2) + 0.1 * jnp.sum(carries.h)
        return total, (outputs, final, carries)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True), static_argnums=3)
    got, want = grad(params, xs, carry, "associative"), grad(params, xs, carry, "scan")
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_associative_stays_accurate_over_long_sequences(rng):
    # Products of a underflow to zero within a few hundred steps here; no division, no harm.
    cell = get_cell("min_lstm")
    params = cell.init(jax.random.key(0), F, H)
    params = {**params, "bias": params["bias"].at[:H].set(-3.0)}  # forget fast
    xs = jnp.asarray(rng.normal(size=(2, 3000, F)), jnp.float32)

    def run(params, implementation):
        outputs = run_scan(cell, params, xs, hidden_size=H, implementation=implementation)
        return jnp.sum(outputs.outputs**2), outputs.outputs

    grad = jax.jit(jax.grad(run, has_aux=True), static_argnums=1)
    (d_assoc, out_assoc), (d_scan, out_scan) = grad(params, "associative"), grad(params, "scan")
    np.testing.assert_allclose(out_assoc, out_scan, rtol=1e-5, atol=1e-5)
    for key in params:
        np.testing.assert_allclose(
            d_assoc[key], d_scan[key], rtol=1e-4, atol=1e-4 * np.abs(d_scan[key]).max()
        )


def test_associative_unbatched_empty_and_in_a_layer(rng):
    cell, params, xs, _ = _setup("min_gru", rng)
    one = run_scan(cell, params, xs[0], hidden_size=H, implementation="associative").outputs
    np.testing.assert_allclose(one, run_scan(cell, params, xs[0], hidden_size=H).outputs, atol=1e-6)
    empty = run_scan(cell, params, xs[:, :0], hidden_size=H, implementation="associative")
    assert empty.outputs.shape == (B, 0, H)
    layer = RNN("min_lstm", F, H, return_sequences=True, implementation="associative",
                rngs=nnx.Rngs(0))  # fmt: skip
    sequential = nnx.clone(layer)
    sequential.implementation = "scan"
    np.testing.assert_allclose(layer(xs), sequential(xs), rtol=1e-5, atol=1e-5)


def test_the_linear_form_is_derived_and_refused_where_it_does_not_hold(rng):
    # minGRU/minLSTM step as h' = a h + b; the LSTM, the GRU, the tanh RNN do not, nor does a
    # cell that is linear in h but mixes its units.
    def mixing_update(params, carry, xp_t, hp_t):
        h = 0.5 * jnp.roll(carry.h, 1, axis=-1) + xp_t
        return MinState(h), h

    plain = get_cell("min_gru")
    mixing = Cell("mixing", plain.init, plain.initial_carry, lambda p, xs: xs, mixing_update)
    for cell, expected in [(get_cell("min_gru"), True), (get_cell("min_lstm"), True),
                           (get_cell("lstm"), False), (get_cell("gru"), False),
                           (get_cell("rnn"), False), (mixing, False)]:  # fmt: skip
        params = cell.init(jax.random.key(0), H, H)
        carry = cell.initial_carry((B,), H)
        xp_t = cell.project(params, jnp.ones((B, 1, H)))[:, 0]
        assert linear_in_h(cell, params, carry, xp_t) is expected, cell.name
    cell, params, xs, _ = _setup("min_gru", rng)
    with pytest.raises(ValueError, match=r"'associative' cannot run cell 'lstm' .* not h' = a"):
        lstm = get_cell("lstm")
        run_scan(lstm, lstm.init(jax.random.key(0), F, H), xs, hidden_size=H,
                 implementation="associative")  # fmt: skip
    with pytest.raises(ValueError, match="'associative' cannot run remat"):
        run_scan(cell, params, xs, hidden_size=H, remat=True, implementation="associative")
