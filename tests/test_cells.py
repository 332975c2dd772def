"""The pure cells: equations against NumPy, initialisers, registry, gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from numpy_reference import (
    np_gru_step,
    np_layer_norm_lstm_step,
    np_lstm_step,
    np_peephole_lstm_step,
    np_rnn_step,
    np_sigmoid,
    random_params,
)

from gru_lstm_jax.cells import (
    Cell,
    GRUState,
    LSTMState,
    RNNState,
    available_cells,
    cell_option_names,
    get_cell,
    gru_cell,
    lstm_cell,
    register_cell,
)

F, H, B = 5, 7, 4


def _state(cell_name, rng):
    h = rng.normal(size=(B, H)).astype(np.float32)
    if cell_name == "lstm":
        c = rng.normal(size=(B, H)).astype(np.float32)
        return LSTMState(jnp.asarray(h), jnp.asarray(c)), (h, c)
    carry = RNNState if cell_name == "rnn" else GRUState
    return carry(jnp.asarray(h)), (h,)


def _numpy_step(cell_name, p, state, x, **activations):
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    state = [s.astype(np.float64) for s in state]
    x = x.astype(np.float64)
    if cell_name == "lstm":
        return np_lstm_step(p64, *state, x, **activations)
    if cell_name == "rnn":
        return (np_rnn_step(p64, *state, x, **activations),)
    return (np_gru_step(p64, *state, x, reset_after=cell_name == "gru", **activations),)


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "rnn"])
def test_project_then_step_equals_numpy_equations(name, rng):
    cell = get_cell(name)
    params = random_params(cell, 0, F, H)
    carry, np_state = _state(name, rng)
    x = rng.normal(size=(B, 1, F)).astype(np.float32)

    xp = cell.project(params, jnp.asarray(x))
    new_carry, h = cell.step(params, carry, xp[:, 0])

    expected = _numpy_step(name, params, np_state, x[:, 0])
    np.testing.assert_allclose(h, expected[0], atol=1e-6)
    np.testing.assert_allclose(new_carry.h, expected[0], atol=1e-6)
    if name == "lstm":
        np.testing.assert_allclose(new_carry.c, expected[1], atol=1e-6)
    assert type(new_carry) is type(carry)


def _np_hard_sigmoid(x):
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before"])
def test_configurable_activations(name, rng):
    cell = get_cell(name, gate_activation=jax.nn.hard_sigmoid, activation=jax.nn.soft_sign)
    assert cell != get_cell(name)
    params = random_params(cell, 1, F, H, scale=2.0)
    carry, np_state = _state(name, rng)
    x = rng.normal(size=(B, 1, F)).astype(np.float32)
    _, h = cell.step(params, carry, cell.project(params, jnp.asarray(x))[:, 0])
    expected = _numpy_step(
        name, params, np_state, x[:, 0], sigma=_np_hard_sigmoid, act=lambda v: v / (1 + np.abs(v))
    )
    np.testing.assert_allclose(h, expected[0], atol=1e-6)


def test_rnn_activation_is_configurable(rng):
    cell = get_cell("rnn", activation=jax.nn.relu)
    params = random_params(cell, 2, F, H)
    carry, np_state = _state("rnn", rng)
    x = rng.normal(size=(B, 1, F)).astype(np.float32)
    _, h = cell.step(params, carry, cell.project(params, jnp.asarray(x))[:, 0])
    expected = _numpy_step("rnn", params, np_state, x[:, 0], act=lambda v: np.maximum(v, 0))
    np.testing.assert_allclose(h, expected[0], atol=1e-6)


@pytest.mark.parametrize(
    ("name", "gates", "biases"),
    [("lstm", 4, ["bias"]), ("gru", 3, ["bias", "recurrent_bias"]),
     ("gru_reset_before", 3, ["bias"]), ("rnn", 1, ["bias"])],
)  # fmt: skip
def test_init_layout_and_keras_initialisers(name, gates, biases):
    cell = get_cell(name)
    input_size, hidden = 3, 16
    params = cell.init(jax.random.key(0), input_size, hidden)
    assert set(params) == {"kernel", "recurrent_kernel", *biases}
    assert params["kernel"].shape == (input_size, gates * hidden)
    assert params["recurrent_kernel"].shape == (hidden, gates * hidden)
    for bias in biases:
        assert params[bias].shape == (gates * hidden,)
    # Glorot-uniform: |w| <= sqrt(6 / (fan_in + fan_out)), and not degenerate.
    limit = np.sqrt(6.0 / (input_size + gates * hidden))
    kernel = np.asarray(params["kernel"])
    assert np.abs(kernel).max() <= limit and kernel.std() > limit / 4
    # Orthogonal recurrent kernel: its H rows are orthonormal.
    U = np.asarray(params["recurrent_kernel"], np.float64)
    np.testing.assert_allclose(U @ U.T, np.eye(hidden), atol=1e-5)
    # Forget-gate bias 1 (Jozefowicz et al. 2015), every other bias 0.
    for bias in biases:
        expected = np.zeros(gates * hidden)
        if name == "lstm":
            expected[hidden : 2 * hidden] = 1.0
        np.testing.assert_array_equal(params[bias], expected)


@pytest.mark.parametrize(
    ("name", "count"), [("lstm", 16_896), ("gru", 12_864), ("gru_reset_before", 12_672)]
)
def test_parameter_counts_equal_keras(name, count):
    params = get_cell(name).init(jax.random.key(0), 1, 64)
    assert sum(p.size for p in params.values()) == count


def test_init_is_deterministic_in_the_key():
    cell = get_cell("lstm")
    a, b = cell.init(jax.random.key(3), 2, 4), cell.init(jax.random.key(3), 2, 4)
    c = cell.init(jax.random.key(4), 2, 4)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["kernel"], c["kernel"])


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "rnn"])
def test_initial_carry_is_named_zeros(name):
    carry = get_cell(name).initial_carry((2, 3), 5)
    assert hasattr(carry, "_fields") and "h" in carry._fields
    for leaf in carry:
        assert leaf.shape == (2, 3, 5)
        assert not np.any(leaf)
    assert get_cell(name).initial_carry((), 5).h.shape == (5,)


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "rnn"])
def test_step_gradients(name, rng):
    cell = get_cell(name)
    params = {k: jnp.asarray(v, jnp.float32) for k, v in random_params(cell, 3, 3, 4).items()}
    carry = cell.initial_carry((2,), 4)
    carry = jax.tree.map(lambda a: a + jnp.asarray(rng.normal(size=a.shape), jnp.float32), carry)
    xp = cell.project(params, jnp.asarray(rng.normal(size=(2, 1, 3)), jnp.float32))[:, 0]

    def f(params, carry, xp):
        new_carry, h = cell.step(params, carry, xp)
        return sum(jnp.sum(leaf * leaf) for leaf in new_carry) + jnp.sum(jnp.sin(h))

    check_grads(f, (params, carry, xp), order=2, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


def test_registry_names_and_equal_cells():
    assert {"lstm", "gru", "gru_reset_before", "rnn"} <= set(available_cells())
    assert get_cell("lstm") is get_cell("lstm") is lstm_cell()
    assert get_cell("gru_reset_before") == gru_cell(reset_after=False)
    assert get_cell("gru_reset_before").name == "gru_reset_before"
    cell = get_cell("gru")
    assert get_cell(cell) is cell


def test_registry_errors():
    with pytest.raises(ValueError, match=r"cell must be .* registered names .*'lsmt'"):
        get_cell("lsmt")
    with pytest.raises(ValueError, match="invalid options"):
        get_cell("lstm", reset_after=False)
    with pytest.raises(ValueError, match="already registered"):
        register_cell("lstm", lstm_cell)
    with pytest.raises(ValueError, match="only be used with a registered cell name"):
        get_cell(get_cell("lstm"), activation=jnp.tanh)
    # A string is not taken for True, nor for an activation's name.
    with pytest.raises(TypeError, match=r"'gru': reset_after must be a bool \(True or False\)"):
        get_cell("gru", reset_after="false")
    with pytest.raises(TypeError, match=r"'lstm': activation must be a function .* got 'tanh'"):
        get_cell("lstm", activation="tanh")


def test_register_a_new_cell():
    def init(key, input_size, hidden_size):
        return {"kernel": jax.random.normal(key, (input_size, hidden_size))}

    def initial_carry(batch_shape, hidden_size):
        return RNNState(jnp.zeros((*batch_shape, hidden_size)))

    def project(params, xs):
        return xs @ params["kernel"]

    def update(params, carry, xp_t, hp_t):
        h = 0.5 * carry.h + xp_t
        return RNNState(h), h

    register_cell("test_leaky", lambda: Cell("test_leaky", init, initial_carry, project, update))
    cell = get_cell("test_leaky")
    assert cell == Cell("test_leaky", init, initial_carry, project, update)
    params = cell.init(jax.random.key(0), 2, 3)
    _, h = cell.step(params, cell.initial_carry((1,), 3), jnp.ones((1, 3)))
    np.testing.assert_array_equal(h, np.ones((1, 3)))


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before"])
def test_chrono_initialisation(name):
    T, hidden = 100, 256
    cell = get_cell(name, chrono_max_length=T)
    assert cell is get_cell(name, chrono_max_length=T) and cell != get_cell(name)
    bias = np.asarray(cell.init(jax.random.key(0), 3, hidden)["bias"]).reshape(-1, hidden)
    if name == "lstm":  # i, f, g, o: b_f = log(u), b_i = -b_f, u ~ U[1, T - 1]
        memory, others = bias[1], bias[2:]
        np.testing.assert_array_equal(bias[0], -memory)
    else:  # r, z, n: b_z = log(u)
        memory, others = bias[1], bias[[0, 2]]
    u = np.exp(memory)
    assert u.min() >= 1.0 and u.max() <= T - 1.0
    assert abs(u.mean() - T / 2) < 10  # the mean of U[1, T - 1]
    assert not np.any(others)
    # The time scales 1 / (1 - sigmoid(b)) = 1 + u cover [2, T].
    timescale = 1.0 / (1.0 - np_sigmoid(memory))
    np.testing.assert_allclose(timescale, 1.0 + u, rtol=1e-4)


def test_chrono_errors_and_option_names():
    for bad in (2, 0, 10.5, True):
        with pytest.raises(ValueError, match="chrono_max_length must be an int >= 3"):
            get_cell("lstm", chrono_max_length=bad)
    assert "chrono_max_length" in cell_option_names("gru")
    assert "chrono_max_length" not in cell_option_names("rnn")
    with pytest.raises(ValueError, match="registered names"):
        cell_option_names("nope")


@pytest.mark.parametrize(
    ("name", "reference", "extra"),
    [
        ("peephole_lstm", np_peephole_lstm_step, 3),
        ("layer_norm_lstm", np_layer_norm_lstm_step, 10),
    ],
)
def test_proof_cells_equal_numpy_and_count_their_parameters(name, reference, extra):
    cell = get_cell(name)
    In, Hs, Bs = 3, 4, 2
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 3, In, Hs).items()}
    rng = np.random.default_rng(4)
    h, c, x = (rng.normal(size=s).astype(np.float32) for s in [(Bs, Hs), (Bs, Hs), (Bs, In)])
    new_carry, out = cell.step(params, LSTMState(jnp.asarray(h), jnp.asarray(c)),
                               cell.project(params, jnp.asarray(x)[:, None])[:, 0])  # fmt: skip
    p64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
    expected_h, expected_c = reference(p64, h.astype(np.float64), c.astype(np.float64), x)
    np.testing.assert_allclose(out, expected_h, atol=1e-5)
    np.testing.assert_allclose(new_carry.c, expected_c, atol=1e-5)
    gates = cell.gates(params, new_carry, cell.project(params, jnp.asarray(x)[:, None])[:, 0])
    assert set(gates) == {"input_gate", "forget_gate", "output_gate"}
    count = sum(v.size for v in cell.init(jax.random.key(0), 1, 64).values())
    assert count == 16_896 + extra * 64
