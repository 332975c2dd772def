"""The fused recurrence (SplitStep cells) against the reference scan: values and derivatives."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from numpy_reference import random_params

from gru_lstm_jax.cells import Cell, get_cell
from gru_lstm_jax.recurrence import run_scan

CELLS = ["lstm", "gru", "gru_reset_before", "rnn"]
B, T, F, H = 4, 7, 3, 5
ATOL = 1e-5


def _setup(name, rng, dtype=jnp.float32):
    cell = get_cell(name)
    params = {k: jnp.asarray(v, dtype) for k, v in random_params(cell, 7, F, H).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), dtype)
    carry = jax.tree.map(
        lambda a: jnp.asarray(rng.normal(size=a.shape), dtype), cell.initial_carry((B,), H)
    )
    return cell, params, xs, carry


def _masks(rng):
    """Valid-step descriptions: none, lengths with 0 and T, a mask with holes and an empty row."""
    holes = rng.random((B, T)) < 0.6
    holes[2] = False
    return [
        {},
        {"lengths": jnp.array([T, 3, 0, 1])},
        {"mask": jnp.asarray(holes)},
        {"lengths": jnp.array([5, 0, T, 2]), "mask": jnp.asarray(holes)},
    ]


def _loss_and_outputs(cell, implementation, reverse, valid, rng_weights, **options):
    """A scalar loss of every output, final-carry leaf and carry, and the raw results."""
    w_out, w_final = rng_weights

    def run(params, xs, carry):
        return run_scan(
            cell, params, xs, hidden_size=H, initial_carry=carry, reverse=reverse,
            return_carries=True, implementation=implementation, **valid, **options,
        )  # fmt: skip

    def loss(params, xs, carry):
        outputs, final, carries = run(params, xs, carry)
        total = jnp.sum(w_out * jnp.sin(outputs))
        for leaf, w in zip(jax.tree.leaves(final), w_final, strict=True):
            total += jnp.sum(w * leaf**2)
        return total + 0.1 * sum(jnp.sum(leaf) for leaf in jax.tree.leaves(carries))

    return loss, run


def _weights(cell, rng, dtype=jnp.float32):
    w_out = jnp.asarray(rng.normal(size=(B, T, H)), dtype)
    leaves = jax.tree.leaves(cell.initial_carry((B,), H))
    return w_out, [jnp.asarray(rng.normal(size=leaf.shape), dtype) for leaf in leaves]


def _run_and_grad(run, loss):
    """One jitted function: ``run``'s results and ``loss``'s value and gradients."""
    return jax.jit(lambda *a: (run(*a), jax.value_and_grad(loss, argnums=(0, 1, 2))(*a)))


def _assert_close(a, b, atol=ATOL):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=atol)


@pytest.mark.parametrize("name", CELLS)
def test_cells_offer_a_split_that_matches_their_step(name):
    cell = get_cell(name)
    assert cell.split is not None and cell.split.step is cell.step


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_equals_reference_values_and_gradients(name, reverse, rng):
    cell, params, xs, carry = _setup(name, rng)
    weights = _weights(cell, rng)
    for valid in _masks(rng):
        ref_loss, ref_run = _loss_and_outputs(cell, "reference", reverse, valid, weights)
        fused_loss, fused_run = _loss_and_outputs(cell, "fused", reverse, valid, weights)
        _assert_close(
            _run_and_grad(fused_run, fused_loss)(params, xs, carry),
            _run_and_grad(ref_run, ref_loss)(params, xs, carry),
        )


@pytest.mark.parametrize("name", CELLS)
def test_fused_forward_mode_and_batching_equal_reference(name, rng):
    cell, params, xs, carry = _setup(name, rng)
    weights = _weights(cell, rng)
    valid = {"lengths": jnp.array([T, 3, 0, 1])}
    ref_loss, _ = _loss_and_outputs(cell, "reference", True, valid, weights)
    fused_loss, _ = _loss_and_outputs(cell, "fused", True, valid, weights)
    tangents = (
        jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape), a.dtype), params),
        jnp.asarray(rng.normal(size=xs.shape), xs.dtype),
        jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape), a.dtype), carry),
    )
    many_xs = jnp.stack([xs, 2 * xs, -xs])

    def derivatives(loss, params, xs, carry):
        """Forward mode, a Hessian-vector product (forward over reverse) and a batched gradient."""
        jvp = jax.jvp(loss, (params, xs, carry), tangents)
        hvp = jax.jvp(jax.grad(loss), (params, xs, carry), tangents)[1]
        per_batch = jax.vmap(jax.grad(loss), in_axes=(None, 0, None))(params, many_xs, carry)
        return jvp, hvp, per_batch

    jvp, hvp, per_batch = jax.jit(functools.partial(derivatives, fused_loss))(params, xs, carry)
    ref_jvp, ref_hvp, ref_per_batch = jax.jit(functools.partial(derivatives, ref_loss))(
        params, xs, carry
    )
    _assert_close(jvp, ref_jvp)
    _assert_close(hvp, ref_hvp, atol=1e-4)
    _assert_close(per_batch, ref_per_batch)


@pytest.mark.parametrize("name", CELLS)
def test_fused_derivatives_match_finite_differences_in_float64(name, rng):
    with jax.enable_x64(True):
        cell, params, xs, carry = _setup(name, rng, jnp.float64)
        weights = _weights(cell, rng, jnp.float64)
        valid = {"mask": jnp.asarray(rng.random((B, T)) < 0.7)}
        forward, _ = _loss_and_outputs(cell, "fused", False, valid, weights)
        backward, _ = _loss_and_outputs(cell, "fused", True, valid, weights)

        def loss(*args):  # both directions in one function: half the compilations
            return forward(*args) + 0.5 * backward(*args)

        check_grads(jax.jit(loss), (params, xs, carry), order=2, modes=["fwd", "rev"])


@pytest.mark.parametrize("name", CELLS)
def test_split_forward_is_the_step_and_tangent_is_its_derivative(name, rng):
    cell, params, xs, carry = _setup(name, rng)
    split = cell.split
    w = split.weights(params)
    xp_t = cell.project(params, xs)[:, 0]
    hp_t = carry.h @ w.recurrent_kernel
    if w.recurrent_bias is not None:
        hp_t = hp_t + w.recurrent_bias
    new, saved, extra = split.forward(w.inner, carry, xp_t, hp_t)
    step_carry, step_h = cell.step(params, carry, xp_t)
    _assert_close(new, step_carry, atol=1e-6)
    np.testing.assert_allclose(new.h, step_h, atol=1e-6)

    def randn_like(tree):
        return jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape), a.dtype), tree)

    d_inner, d_prev, d_xp, d_hp = randn_like((w.inner, carry, xp_t, hp_t))
    _, expected = jax.jvp(
        lambda inner, c, x, hp: split.forward(inner, c, x, hp)[0],
        (w.inner, carry, xp_t, hp_t),
        (d_inner, d_prev, d_xp, d_hp),
    )
    if split.additive:
        d_xp, d_hp = d_xp + d_hp, None
    got = split.tangent(w.inner, d_inner, saved, extra, carry, new, d_prev, d_xp, d_hp)
    _assert_close(got, expected)


@pytest.mark.parametrize("unroll", [3, True])
def test_fused_unroll_changes_nothing(unroll, rng):
    cell, params, xs, carry = _setup("lstm", rng)
    weights = _weights(cell, rng)
    valid = {"lengths": jnp.array([T, 3, 0, 1])}
    ref_loss, _ = _loss_and_outputs(cell, "reference", False, valid, weights)
    fused_loss, _ = _loss_and_outputs(cell, "fused", False, valid, weights, unroll=unroll)
    _assert_close(
        jax.jit(jax.value_and_grad(fused_loss))(params, xs, carry),
        jax.jit(jax.value_and_grad(ref_loss))(params, xs, carry),
    )


def test_fused_unbatched_equals_reference(rng):
    cell, params, xs, carry = _setup("gru", rng)
    one = {"lengths": jnp.asarray(4), "initial_carry": jax.tree.map(lambda a: a[0], carry)}
    fused = run_scan(cell, params, xs[0], hidden_size=H, implementation="fused", **one)
    reference = run_scan(cell, params, xs[0], hidden_size=H, implementation="reference", **one)
    _assert_close(fused[:2], reference[:2])


def test_auto_uses_the_fused_recurrence_only_where_it_applies(rng):
    cell, params, xs, _ = _setup("lstm", rng)
    auto = run_scan(cell, params, xs, hidden_size=H)
    reference = run_scan(cell, params, xs, hidden_size=H, implementation="reference")
    _assert_close(auto[:2], reference[:2])
    # remat asks for recomputation, which only the reference scan does.
    with pytest.raises(ValueError, match="remat"):
        run_scan(cell, params, xs, hidden_size=H, remat=True, implementation="fused")
    _assert_close(run_scan(cell, params, xs, hidden_size=H, remat=True)[:2], reference[:2])
    with pytest.raises(ValueError, match="implementation must be one of"):
        run_scan(cell, params, xs, hidden_size=H, implementation="cudnn")


def test_user_cell_without_split_runs_the_reference_scan(rng):
    lstm = get_cell("lstm")
    params = {k: jnp.asarray(v) for k, v in random_params(lstm, 7, F, H).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    user = Cell("my_lstm", lstm.init, lstm.initial_carry, lstm.project, lstm.step)
    assert user.split is None
    outputs, final, _ = run_scan(user, params, xs, hidden_size=H, lengths=jnp.array([T, 2, 0, 5]))
    expected = run_scan(
        lstm, params, xs, hidden_size=H, lengths=jnp.array([T, 2, 0, 5]), implementation="fused"
    )
    _assert_close((outputs, final), expected[:2])
    with pytest.raises(ValueError, match="offers no SplitStep"):
        run_scan(user, params, xs, hidden_size=H, implementation="fused")


def test_replaced_step_is_not_fused(rng):
    cell, params, xs, _ = _setup("gru", rng)

    def halved_step(params, carry, xp_t):
        return cell.step(params, carry._replace(h=0.5 * carry.h), xp_t)

    halved = dataclasses.replace(cell, step=halved_step)
    with pytest.raises(ValueError, match="replaced"):
        run_scan(halved, params, xs, hidden_size=H, implementation="fused")
    outputs = run_scan(halved, params, xs, hidden_size=H).outputs
    loop_carry = cell.initial_carry((B,), H)
    xp = cell.project(params, xs)
    for t in range(T):
        loop_carry, h = halved_step(params, loop_carry, xp[:, t])
    np.testing.assert_allclose(outputs[:, -1], h, atol=1e-6)


def test_other_activations_have_no_split():
    assert get_cell("lstm", gate_activation=jax.nn.hard_sigmoid).split is None
    assert get_cell("gru", activation=jax.nn.relu).split is None
    assert get_cell("rnn", activation=jax.nn.relu).split is None
    assert get_cell("lstm", chrono_max_length=10).split is not None


@pytest.mark.parametrize(("name", "blocks"), [("lstm", 1), ("lstm", 2), ("gru", 1), ("rnn", 5)])
def test_any_dividing_block_count_gives_the_same_numbers(name, blocks, rng):
    # The built-in cells read their gates as blocks (LSTM 4, GRU 3); reading fewer, or blocks
    # that cut across gates, is slower but must compute the same values and derivatives.
    cell, params, xs, carry = _setup(name, rng)
    assert cell.split.blocks == {"lstm": 4, "gru": 3, "rnn": 1}[name]
    other = dataclasses.replace(cell, split=dataclasses.replace(cell.split, blocks=blocks))
    weights = _weights(cell, rng)
    for reverse, valid in [(False, {}), (True, {"lengths": jnp.array([T, 3, 0, 1])})]:
        ref_loss, ref_run = _loss_and_outputs(cell, "reference", reverse, valid, weights)
        loss, run = _loss_and_outputs(other, "fused", reverse, valid, weights)
        _assert_close(
            _run_and_grad(run, loss)(params, xs, carry),
            _run_and_grad(ref_run, ref_loss)(params, xs, carry),
        )


@pytest.mark.parametrize("blocks", [0, 2, 2.0, True])
def test_block_count_that_does_not_divide_the_projection_is_refused(blocks, rng):
    cell, params, xs, _ = _setup("gru", rng)  # K = 3H = 15
    bad = dataclasses.replace(cell, split=dataclasses.replace(cell.split, blocks=blocks))
    with pytest.raises(ValueError, match=r"blocks=.*positive int dividing the projection width"):
        run_scan(bad, params, xs, hidden_size=H, implementation="fused")
