"""Analysis: gradient norms over time, Jacobian norms and gate statistics against references.

The references are independent of the library's perturbation mechanism: the gradient with
respect to ``h_t`` is taken by splitting the sequence at ``t`` (a Python loop of ``cell.step``
restarted from ``h_t``), checked again by central finite differences in float64, and the gates
are recomputed in NumPy.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy_reference import np_sigmoid, random_params

from gru_lstm_jax.analysis import (
    fit_decay_rate,
    gate_statistics,
    gradient_norms_over_time,
    hidden_state_gradients,
    jacobian_norms,
)
from gru_lstm_jax.cells import Cell, get_cell
from gru_lstm_jax.configs import gradient_flow as gradient_flow_config
from gru_lstm_jax.studies import gradient_flow_study
from gru_lstm_jax.training import load_trained

B, T, F, H = 2, 5, 3, 4


class LeakyState(NamedTuple):
    h: jax.Array


def leaky_init(key, input_size, hidden_size):
    k_in, k_rec = jax.random.split(key)
    return {
        "kernel": jax.random.normal(k_in, (input_size, hidden_size)),
        "recurrent_kernel": jax.random.normal(k_rec, (hidden_size, hidden_size)),
    }


def leaky_initial_carry(batch_shape, hidden_size):
    return LeakyState(jnp.zeros((*batch_shape, hidden_size), jnp.float32))


def leaky_project(params, xs):
    return xs @ params["kernel"]


def leaky_update(params, carry, xp_t, hp_t):
    h = 0.5 * carry.h + 0.5 * jnp.tanh(xp_t + hp_t)
    return LeakyState(h), h


def leaky_kernel(params):
    return params["recurrent_kernel"]


# A cell written here, outside the library: the analysis must take it unchanged.
LEAKY = Cell(
    "leaky_tanh", leaky_init, leaky_initial_carry, leaky_project, leaky_update, leaky_kernel
)
FLOW_CELLS = ["lstm", "gru", "rnn", "leaky_tanh", "lstm_fgr"]


def _cell(name):
    return LEAKY if name == "leaky_tanh" else get_cell(name)


def _setup(name, rng, dtype=jnp.float32):
    cell = _cell(name)
    params = {k: jnp.asarray(v, dtype) for k, v in random_params(cell, 3, F, H).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), dtype)
    return cell, params, xs


def loss_fn(outputs, final_carry):
    """Depends on every output and on every leaf of the final carry (an LSTM's c too)."""
    leaves = jax.tree.leaves(final_carry)
    return jnp.sum(jnp.sin(outputs)) + sum(jnp.sum(leaf**2) for leaf in leaves)


hidden_state_gradients_jit = jax.jit(
    hidden_state_gradients, static_argnames=("cell", "loss_fn", "hidden_size")
)
gradient_norms_jit = jax.jit(
    gradient_norms_over_time, static_argnames=("cell", "loss_fn", "hidden_size")
)
jacobian_norms_jit = jax.jit(jacobian_norms, static_argnames=("cell", "hidden_size", "steps"))
gate_statistics_jit = jax.jit(
    gate_statistics, static_argnames=("cell_name_or_cell", "hidden_size", "saturation")
)


def _split_at_t_gradients(cell, params, xs, carry0):
    """``∂L/∂h_t`` for every t by restarting a Python loop of ``step`` from a free ``h_t``."""
    xp = cell.project(params, xs)
    time = xs.shape[1]
    carry, outputs, grads = carry0, [], []
    for t in range(time):
        carry, h = cell.step(params, carry, xp[:, t])

        def loss_from(h_t, t=t, carry_t=carry, earlier=tuple(outputs)):
            c = carry_t._replace(h=h_t)
            outs = [*earlier, h_t]
            for s in range(t + 1, time):
                c, out = cell.step(params, c, xp[:, s])
                outs.append(out)
            return loss_fn(jnp.stack(outs, axis=1), c)

        grads.append(jax.grad(loss_from)(carry.h))
        outputs.append(h)
    return jnp.stack(grads, axis=1)


split_at_t_gradients = jax.jit(_split_at_t_gradients, static_argnums=0)


def _split_at_t_jacobians(cell, params, xs, carry0, steps):
    """Per-example ``∂h_T/∂h_t`` ``(B, S, H, H)`` with ``jax.jacrev`` from a free ``h_t``."""
    xp = cell.project(params, xs)
    batch, time = xs.shape[:2]
    carry, carries = carry0, []
    for t in range(time):
        carry, _ = cell.step(params, carry, xp[:, t])
        carries.append(carry)
    per_step = []
    for t in steps:

        def final_h(h_t, t=t):
            c = carries[t]._replace(h=h_t)
            for s in range(t + 1, time):
                c, _ = cell.step(params, c, xp[:, s])
            return c.h

        full = jax.jacrev(final_h)(carries[t].h)  # (B, H, B, H)
        per_step.append(jnp.stack([full[b, :, b, :] for b in range(batch)]))
    return jnp.stack(per_step, axis=1)


split_at_t_jacobians = jax.jit(_split_at_t_jacobians, static_argnums=(0, 4))


@pytest.mark.parametrize("name", FLOW_CELLS)
def test_gradients_equal_split_at_t_reference(name, rng):
    cell, params, xs = _setup(name, rng)
    carry0 = jax.tree.map(lambda a: a + 0.3, cell.initial_carry((B,), H))
    grads = hidden_state_gradients_jit(
        cell, params, xs, loss_fn, hidden_size=H, initial_carry=carry0
    )
    assert grads.shape == (B, T, H)
    np.testing.assert_allclose(
        grads, split_at_t_gradients(cell, params, xs, carry0), rtol=1e-5, atol=1e-6
    )

    norms = gradient_norms_jit(cell, params, xs, loss_fn, hidden_size=H)
    reference = split_at_t_gradients(cell, params, xs, cell.initial_carry((B,), H))
    expected = np.linalg.norm(np.asarray(reference), axis=-1)
    np.testing.assert_allclose(norms.per_example, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms.mean, expected.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert np.all(expected > 1e-3)  # every step gets a gradient: the check is not vacuous


@pytest.mark.parametrize("name", ["lstm"])  # the split-at-t reference covers the other cells
def test_gradients_equal_finite_differences_in_float64(name, rng):
    b, t, delta = 1, 2, 1e-6
    with jax.enable_x64(True):
        cell, params, xs = _setup(name, rng, jnp.float64)
        carry0 = jax.tree.map(lambda a: a.astype(jnp.float64), cell.initial_carry((B,), H))
        grads = hidden_state_gradients(
            cell, params, xs, loss_fn, hidden_size=H, initial_carry=carry0
        )
        assert grads.dtype == jnp.float64

        @jax.jit
        def loss_with_nudge(nudge):
            """L with ``nudge`` (H,) added to h of sequence b right after step t."""
            xp = cell.project(params, xs)
            carry, outputs = carry0, []
            for s in range(T):
                carry, h = cell.step(params, carry, xp[:, s])
                if s == t:
                    h = h.at[b].add(nudge)
                    carry = carry._replace(h=h)
                outputs.append(h)
            return loss_fn(jnp.stack(outputs, axis=1), carry)

        unit = np.eye(H)
        numeric = [
            (loss_with_nudge(delta * unit[k]) - loss_with_nudge(-delta * unit[k])) / (2 * delta)
            for k in range(H)
        ]
        np.testing.assert_allclose(grads[b, t], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", FLOW_CELLS)
def test_jacobian_norms_equal_explicit_jacobians(name, rng):
    cell, params, xs = _setup(name, rng)
    steps = (0, 2, T - 2, T - 1)
    norms = jacobian_norms_jit(cell, params, xs, hidden_size=H, steps=steps)
    jacobians = np.asarray(
        split_at_t_jacobians(cell, params, xs, cell.initial_carry((B,), H), steps)
    )
    assert norms.spectral.shape == norms.frobenius.shape == (B, len(steps))
    np.testing.assert_allclose(
        norms.spectral, np.linalg.norm(jacobians, 2, axis=(-2, -1)), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        norms.frobenius, np.linalg.norm(jacobians, "fro", axis=(-2, -1)), rtol=1e-5, atol=1e-6
    )
    assert np.all(norms.spectral <= norms.frobenius * (1 + 1e-6))
    # h_T is h_{T-1}: the last Jacobian is the identity.
    np.testing.assert_allclose(norms.spectral[:, -1], 1.0, rtol=1e-6)
    np.testing.assert_allclose(norms.frobenius[:, -1], np.sqrt(H), rtol=1e-6)
    assert np.all(norms.frobenius[:, 0] > 1e-4)


def test_leaky_cell_one_step_jacobian_matches_its_formula(rng):
    cell, params, xs = _setup("leaky_tanh", rng)
    norms = jacobian_norms_jit(cell, params, xs, hidden_size=H, steps=(T - 2,))
    # h' = h/2 + tanh(a)/2, a = x W + h U: ∂h'_i/∂h_j = δ_ij/2 + (1 - tanh(a_i)²) U_ji / 2.
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    h = np.zeros((B, H))
    for s in range(T - 1):
        h = 0.5 * h + 0.5 * np.tanh(
            np.asarray(xs[:, s], np.float64) @ p["kernel"] + h @ p["recurrent_kernel"]
        )
    a = np.asarray(xs[:, T - 1], np.float64) @ p["kernel"] + h @ p["recurrent_kernel"]
    jac = 0.5 * np.eye(H) + 0.5 * (1 - np.tanh(a)[:, :, None] ** 2) * p["recurrent_kernel"].T
    np.testing.assert_allclose(norms.spectral[:, 0], np.linalg.norm(jac, 2, axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(norms.frobenius[:, 0], np.linalg.norm(jac, axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_masked_steps_have_zero_gradient_and_valid_ones_match_the_compacted_sequence(name, rng):
    cell, params, xs = _setup(name, rng)
    # Sequence 0 has length 3; sequence 1 has holes at steps 1 and 4; no sequence is valid at
    # step 4. Garbage fills the masked steps.
    lengths = jnp.array([3, 5])
    mask = jnp.array([[True] * 5, [True, False, True, True, False]])
    valid = np.array([[True, True, True, False, False], [True, False, True, True, False]])
    xs = jnp.where(jnp.asarray(valid)[..., None], xs, 100.0)
    norms = gradient_norms_jit(cell, params, xs, loss_fn, hidden_size=H, lengths=lengths, mask=mask)
    assert not np.any(np.asarray(norms.per_example)[~valid])
    # A masked step holds the carry and outputs zeros, so it is as if the step were not there.
    compacted = jnp.stack([xs[b, np.flatnonzero(valid[b])] for b in range(B)])
    expected = gradient_norms_jit(cell, params, compacted, loss_fn, hidden_size=H).per_example
    for b in range(B):
        np.testing.assert_allclose(
            norms.per_example[b, valid[b]], expected[b], rtol=1e-5, atol=1e-6
        )
    per_example = np.asarray(norms.per_example)
    expected_mean = [per_example[valid[:, s], s].mean() for s in range(T - 1)]
    np.testing.assert_allclose(norms.mean[: T - 1], expected_mean, rtol=1e-6)
    assert np.isnan(norms.mean[T - 1])  # no sequence reaches the last step


def _numpy_gates(name, params, xs, valid, sigma=np_sigmoid):
    """Gate values ``(B, T, H)`` by name, from a NumPy loop of the published equations."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    W, U = p["kernel"], p["recurrent_kernel"]
    xs = np.asarray(xs, np.float64)
    h, c = np.zeros((B, H)), np.zeros((B, H))

    def block(a, k):
        return a[..., k * H : (k + 1) * H]

    gates = {}
    for t in range(xs.shape[1]):
        x = xs[:, t]
        if name == "lstm":
            pre = x @ W + h @ U + p["bias"]
            i, f, g, o = (block(pre, k) for k in range(4))
            i, f, o = sigma(i), sigma(f), sigma(o)
            step_gates = {"input_gate": i, "forget_gate": f, "output_gate": o}
            c_new = f * c + i * np.tanh(g)
            h_new = o * np.tanh(c_new)
        else:
            recurrent_bias = p.get("recurrent_bias", np.zeros(3 * H))
            pre_x = x @ W + p["bias"]
            pre_h = h @ U + recurrent_bias
            r = sigma(block(pre_x, 0) + block(pre_h, 0))
            z = sigma(block(pre_x, 1) + block(pre_h, 1))
            if name == "gru":
                n = np.tanh(block(pre_x, 2) + r * block(pre_h, 2))
            else:
                n = np.tanh(block(pre_x, 2) + (r * h) @ block(U, 2))
            step_gates = {"reset_gate": r, "update_gate": z}
            h_new, c_new = (1 - z) * n + z * h, c
        for key, value in step_gates.items():
            gates.setdefault(key, []).append(value)
        keep = valid[:, t, None]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
    return {key: np.stack(values, axis=1) for key, values in gates.items()}


def _numpy_statistics(gates, valid, saturation):
    stats = {}
    for key, value in gates.items():
        weight = valid[:, :, None] * np.ones(H)
        count = weight.sum(axis=(0, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[key] = (value * weight).sum(axis=(0, 2)) / count
            saturated = (value < saturation) | (value > 1 - saturation)
            stats[f"{key}_saturated"] = (saturated * weight).sum(axis=(0, 2)) / count
    return stats


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before"])
def test_gate_statistics_equal_numpy(name, rng):
    cell = get_cell(name)
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 5, F, H).items()}
    xs = jnp.asarray(3.0 * rng.normal(size=(B, T, F)), jnp.float32)
    # Sequence 0 has length 4, sequence 1 a hole at step 1 (its carry is held) and at step 4,
    # where no sequence is valid: NaN.
    lengths = jnp.array([4, 5])
    mask = jnp.array([[True] * 5, [True, False, True, True, False]])
    valid = np.array([[True, True, True, True, False], [True, False, True, True, False]])
    saturation = 0.3
    stats = gate_statistics_jit(
        name, params, xs, hidden_size=H, lengths=lengths, mask=mask, saturation=0.3
    )
    reference = _numpy_statistics(_numpy_gates(name, params, xs, valid), valid, saturation)
    assert set(stats) == set(reference)
    for key in reference:
        assert stats[key].shape == (T,)
        np.testing.assert_allclose(stats[key], reference[key], rtol=1e-5, atol=1e-6, err_msg=key)
        assert np.all(np.isfinite(stats[key][: T - 1])) and np.isnan(stats[key][T - 1])
    fractions = np.concatenate([reference[k] for k in reference if k.endswith("_saturated")])
    assert 0 < np.nanmean(fractions) < 1  # some gates saturate and some do not: not vacuous


def test_gate_statistics_use_the_cells_gate_activation_and_accept_chrono(rng):
    def np_hard_sigmoid(x):
        return np.clip((x + 3.0) / 6.0, 0.0, 1.0)

    cell = get_cell("gru", gate_activation=jax.nn.hard_sigmoid)
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 5, F, H).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    valid = np.ones((B, T), bool)
    stats = gate_statistics_jit(cell, params, xs, hidden_size=H)
    reference = _numpy_statistics(
        _numpy_gates("gru", params, xs, valid, np_hard_sigmoid), valid, 0.05
    )
    for key in reference:
        np.testing.assert_allclose(stats[key], reference[key], rtol=1e-5, atol=1e-6, err_msg=key)

    lstm_params = {k: jnp.asarray(v) for k, v in random_params(get_cell("lstm"), 5, F, H).items()}
    chrono = gate_statistics_jit(
        get_cell("lstm", chrono_max_length=10), lstm_params, xs, hidden_size=H
    )
    default = gate_statistics_jit("lstm", lstm_params, xs, hidden_size=H)
    for key in default:
        np.testing.assert_array_equal(chrono[key], default[key])


class NoHiddenState(NamedTuple):
    state: jax.Array


def _no_h_carry(batch_shape, hidden_size):
    return NoHiddenState(jnp.zeros((*batch_shape, hidden_size)))


def _tuple_carry(batch_shape, hidden_size):
    return (jnp.zeros((*batch_shape, hidden_size)),)


def test_bad_input_raises_clear_errors(rng):
    cell, params, xs = _setup("rnn", rng)
    for steps in [(T,), (-1,), (), (0.5,), 3, (True,)]:
        with pytest.raises(ValueError, match="steps"):
            jacobian_norms(cell, params, xs, hidden_size=H, steps=steps)
    for carry_fn in [_no_h_carry, _tuple_carry]:
        no_h = Cell("no_h", leaky_init, carry_fn, leaky_project, leaky_update, leaky_kernel)
        with pytest.raises(ValueError, match="'h' field"):
            gradient_norms_over_time(no_h, params, xs, loss_fn, hidden_size=H)
        with pytest.raises(ValueError, match="'h' field"):
            jacobian_norms(no_h, params, xs, hidden_size=H, steps=(0,))
    with pytest.raises(ValueError, match="xs"):
        gradient_norms_over_time(cell, params, xs[0], loss_fn, hidden_size=H)
    with pytest.raises(ValueError, match="hidden_size"):
        gradient_norms_over_time(cell, params, xs, loss_fn, hidden_size=0)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        gradient_norms_over_time(cell, params, xs, lambda out, carry: out, hidden_size=H)
    with pytest.raises(ValueError, match="lengths"):
        gradient_norms_over_time(cell, params, xs, loss_fn, hidden_size=H, lengths=jnp.array([1]))
    with pytest.raises(ValueError, match="initial_carry"):
        gradient_norms_over_time(
            cell, params, xs, loss_fn, hidden_size=H, initial_carry=cell.initial_carry((3,), H)
        )

    with pytest.raises(ValueError, match="cell 'rnn' exposes no gates"):
        gate_statistics("rnn", params, xs, hidden_size=H)
    with pytest.raises(ValueError, match="cell must be"):
        gate_statistics("no_such_cell", params, xs, hidden_size=H)
    lstm = get_cell("lstm")
    lstm_params = {k: jnp.asarray(v) for k, v in random_params(lstm, 5, F, H).items()}
    with pytest.raises(ValueError, match="saturation"):
        gate_statistics(lstm, lstm_params, xs, hidden_size=H, saturation=0.6)
    with pytest.raises(ValueError, match="xs"):
        gate_statistics(lstm, lstm_params, xs[0], hidden_size=H)

    def no_gates_update(params, carry, xp_t, hp_t):
        return lstm.update(params, carry, xp_t, hp_t)[:2]

    no_gates = Cell(
        "lstm", lstm.init, lstm.initial_carry, lstm.project, no_gates_update, lstm.recurrent_kernel
    )
    with pytest.raises(ValueError, match="cell 'lstm' exposes no gates"):
        gate_statistics(no_gates, lstm_params, xs, hidden_size=H)


def test_fit_decay_rate_recovers_an_exponential():
    norms = 3.0 * 0.9 ** np.arange(100)[::-1]  # grows by 1/0.9 per step towards the loss
    fit = fit_decay_rate(norms)
    np.testing.assert_allclose(fit["factor_per_step"], 0.9, rtol=1e-9)
    np.testing.assert_allclose(fit["first_to_last"], 0.9**99, rtol=1e-9)
    with_underflow = norms.copy()
    with_underflow[:3] = 0.0
    fit = fit_decay_rate(with_underflow)
    assert fit["underflow_steps"] == 3 and fit["first_to_last"] == 0.0
    np.testing.assert_allclose(fit["factor_per_step"], 0.9, rtol=1e-9)
    with pytest.raises(ValueError, match="non-negative values"):
        fit_decay_rate(np.array([1.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match="the last one positive"):
        fit_decay_rate(np.array([1.0, 2.0, 0.0]))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("num_seeds", 0, "config.num_seeds must be a positive int"),
        ("batch_size", -1, "config.batch_size must be a positive int"),
        ("xor.data.length", 0, "length"),
    ],
)
def test_gradient_flow_study_refuses_bad_settings_before_any_write(field, value, match, tmp_path):
    config = gradient_flow_config.get_config("smoke")
    *parents, leaf = field.split(".")
    node = config
    for parent in parents:
        node = node[parent]
    node[leaf] = value
    with pytest.raises(ValueError, match=match):
        gradient_flow_study(config, tmp_path / "study")
    assert not (tmp_path / "study").exists()


def test_gradient_flow_study_smoke(tmp_path):
    config = gradient_flow_config.get_config("smoke")
    config.cells = ("rnn", "lstm")
    results = gradient_flow_study(config, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "config.json", "curves.json", "curves.csv", "gradient_flow.png", "results.json",
        "train_rnn", "train_lstm",
    }  # fmt: skip
    assert json.loads((tmp_path / "config.json").read_text()) == json.loads(config.to_json())
    # A different config in the same folder is refused before anything is written.
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    changed = config.copy_and_resolve_references()
    changed.num_seeds = 3
    with pytest.raises(ValueError, match="different config"):
        gradient_flow_study(changed, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    curves = json.loads((tmp_path / "curves.json").read_text())
    length = config.xor.data.length
    assert np.asarray(curves["lstm"]["init"]).shape == (config.num_seeds, length)
    assert len(curves["rnn"]["trained"]) == length
    assert len((tmp_path / "curves.csv").read_text().splitlines()) == 1 + 2 * (2 + 1) * length
    fit = results["cells"]["lstm"]["init"]
    assert fit == pytest.approx(fit_decay_rate(np.mean(curves["lstm"]["init"], axis=0)))
    # The study's curve is the cell-level analysis of the trained layer with the training loss.
    run, params = load_trained(tmp_path / "train_lstm")
    model = run.steps.model_with(params)
    layer = model.encoder.layers[0]
    inputs = run.splits["val"]["inputs"][: config.batch_size]
    targets = run.splits["val"]["targets"][: config.batch_size]

    def loss_fn(outputs, final_carry):
        return jnp.mean(run.objective.loss(model.head(outputs[:, -1]), {"targets": targets}))

    direct = gradient_norms_over_time(
        layer.cell, layer.cell_params(), inputs, loss_fn, hidden_size=layer.hidden_size
    )
    np.testing.assert_allclose(curves["lstm"]["trained"], direct.mean, rtol=1e-5)


def test_gate_statistics_of_a_user_cell_with_gates(rng):
    """A cell whose update names its gates gets gate statistics with no library change."""

    def init(key, input_size, hidden_size):
        return {"kernel": jax.random.normal(key, (input_size, hidden_size))}

    def initial_carry(batch_shape, hidden_size):
        return LeakyState(jnp.zeros((*batch_shape, hidden_size)))

    def project(params, xs):
        return xs @ params["kernel"]

    def gates(params, carry, xp_t):
        return {"leak_gate": jax.nn.sigmoid(xp_t + carry.h)}

    def update(params, carry, xp_t, hp_t):
        named = gates(params, carry, xp_t)
        h = named["leak_gate"] * carry.h + (1 - named["leak_gate"]) * jnp.tanh(xp_t)
        return LeakyState(h), h, named

    cell = Cell("gated_leaky", init, initial_carry, project, update)
    params = cell.init(jax.random.key(0), F, H)
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    stats = gate_statistics(cell, params, xs, hidden_size=H)
    h, values = np.zeros((B, H)), []
    xp = np.asarray(xs @ params["kernel"])
    for t in range(T):
        a = np_sigmoid(xp[:, t] + h)
        values.append(a.mean())
        h = a * h + (1 - a) * np.tanh(xp[:, t])
    np.testing.assert_allclose(stats["leak_gate"], values, rtol=1e-5)


def test_gradient_flow_accepts_a_numpy_integer_hidden_size():
    cell = get_cell("gru")
    params = cell.init(jax.random.key(0), 2, 3)
    xs = jnp.ones((1, 4, 2))
    grads = hidden_state_gradients(
        cell, params, xs, lambda outputs, carry: outputs[:, -1].sum(), hidden_size=np.int64(3)
    )
    assert grads.shape == (1, 4, 3)
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got 0"):
        hidden_state_gradients(cell, params, xs, lambda o, c: o.sum(), hidden_size=0)
