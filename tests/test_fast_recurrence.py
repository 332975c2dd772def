"""The fused recurrence of every cell against the plain scan: values and derivatives."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from numpy_reference import random_params

from gru_lstm_jax.cells import Cell, RNNState, get_cell, input_projection, recurrent_kernel
from gru_lstm_jax.cells.lstm import lstm_init, lstm_initial_carry, lstm_update
from gru_lstm_jax.cells.simple_rnn import simple_rnn_initial_carry
from gru_lstm_jax.recurrence import run_scan
from gru_lstm_jax.recurrence.derive import (
    added_by_project,
    depends_on,
    hp_terms,
    reads_precede,
)

# The fused recurrence is what users' programs run: test it compiled as theirs are.
pytestmark = pytest.mark.compiled_as_users

CELLS = ["lstm", "gru", "gru_reset_before", "rnn", "peephole_lstm", "layer_norm_lstm"]
B, T, F, H = 4, 7, 3, 5
ATOL = 1e-5


def test_this_module_compiles_with_xla_optimisations_on():
    assert jax.config.read("jax_disable_most_optimizations") is False


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
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_equals_reference_values_and_gradients(name, reverse, rng):
    cell, params, xs, carry = _setup(name, rng)
    weights = _weights(cell, rng)
    for valid in _masks(rng):
        ref_loss, ref_run = _loss_and_outputs(cell, "scan", reverse, valid, weights)
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
    ref_loss, _ = _loss_and_outputs(cell, "scan", True, valid, weights)
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

        # A small step: the layer-normalised LSTM curves enough that 1e-4 misses 1e-5.
        check_grads(jax.jit(loss), (params, xs, carry), order=2, modes=["fwd", "rev"], eps=1e-6)


@pytest.mark.parametrize("unroll", [3, True])
def test_fused_unroll_changes_nothing(unroll, rng):
    cell, params, xs, carry = _setup("lstm", rng)
    weights = _weights(cell, rng)
    valid = {"lengths": jnp.array([T, 3, 0, 1])}
    ref_loss, _ = _loss_and_outputs(cell, "scan", False, valid, weights)
    fused_loss, _ = _loss_and_outputs(cell, "fused", False, valid, weights, unroll=unroll)
    _assert_close(
        jax.jit(jax.value_and_grad(fused_loss))(params, xs, carry),
        jax.jit(jax.value_and_grad(ref_loss))(params, xs, carry),
    )


def test_fused_unbatched_equals_reference(rng):
    cell, params, xs, carry = _setup("gru", rng)
    one = {"lengths": jnp.asarray(4), "initial_carry": jax.tree.map(lambda a: a[0], carry)}
    fused = run_scan(cell, params, xs[0], hidden_size=H, implementation="fused", **one)
    reference = run_scan(cell, params, xs[0], hidden_size=H, implementation="scan", **one)
    _assert_close(fused[:2], reference[:2])


def test_auto_uses_the_fused_recurrence_except_with_remat(rng):
    cell, params, xs, _ = _setup("lstm", rng)
    auto = run_scan(cell, params, xs, hidden_size=H)
    reference = run_scan(cell, params, xs, hidden_size=H, implementation="scan")
    _assert_close(auto[:2], reference[:2])
    # remat asks for recomputation, which only the plain scan does.
    with pytest.raises(ValueError, match="remat"):
        run_scan(cell, params, xs, hidden_size=H, remat=True, implementation="fused")
    _assert_close(run_scan(cell, params, xs, hidden_size=H, remat=True)[:2], reference[:2])
    with pytest.raises(ValueError, match="implementation must be one of"):
        run_scan(cell, params, xs, hidden_size=H, implementation="reference")


def _user_cells():
    """Cells a user writes from the protocol: the LSTM's own functions, non-default
    activations, an IndRNN (Li et al. 2018, no recurrent kernel) and an RNN with a skip
    connection from its input."""

    def indrnn_init(key, input_size, hidden_size):
        return {
            "kernel": jax.random.normal(key, (input_size, hidden_size)) * 0.5,
            "u": jnp.linspace(-0.9, 0.9, hidden_size),
            "bias": jnp.zeros((hidden_size,)),
        }

    def indrnn_update(params, carry, xp_t, hp_t):
        assert hp_t is None
        h = jnp.tanh(xp_t + params["u"] * carry.h)
        return RNNState(h), h

    indrnn = Cell(
        "indrnn", indrnn_init, simple_rnn_initial_carry,
        lambda p, xs: xs @ p["kernel"] + p["bias"], indrnn_update,
    )  # fmt: skip

    def skip_init(key, input_size, hidden_size):
        k1, k2 = jax.random.split(key)
        return {
            "kernel": jax.random.normal(k1, (input_size, 2 * hidden_size)) * 0.3,
            "recurrent_kernel": jax.random.normal(k2, (hidden_size, hidden_size)) * 0.3,
        }

    def skip_update(params, carry, xp_t, hp_t):
        # The second block of the row reaches h without an activation: no stored value
        # is computed from it (see test_values_written_over_the_row_follow_every_read).
        x_a, x_b = jnp.split(xp_t, 2, axis=-1)
        h = jnp.tanh(x_a + hp_t) + x_b
        return RNNState(h), h

    skip = Cell(
        "skip_rnn", skip_init, simple_rnn_initial_carry, lambda p, xs: xs @ p["kernel"],
        skip_update, lambda p: p["recurrent_kernel"],
    )  # fmt: skip
    return {
        "skip_rnn": skip,
        "user_lstm": Cell(
            "my_lstm",
            lstm_init,
            lstm_initial_carry,
            input_projection,
            lstm_update,
            recurrent_kernel,
        ),
        "lstm_hard_sigmoid": get_cell("lstm", gate_activation=jax.nn.hard_sigmoid),
        "gru_relu": get_cell("gru", activation=jax.nn.relu),
        "gru_reset_before_softsign": get_cell("gru_reset_before", activation=jax.nn.soft_sign),
        "indrnn": indrnn,
    }


@pytest.mark.parametrize("name", list(_user_cells()))
def test_user_cells_and_other_activations_run_fused(name, rng):
    cell = _user_cells()[name]
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 7, F, H).items()}
    xs = jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)
    carry = jax.tree.map(
        lambda a: jnp.asarray(rng.normal(size=a.shape), jnp.float32), cell.initial_carry((B,), H)
    )
    weights = _weights(cell, rng)
    valid = {"lengths": jnp.array([T, 3, 0, 1])}
    ref_loss, ref_run = _loss_and_outputs(cell, "scan", True, valid, weights)
    fused_loss, fused_run = _loss_and_outputs(cell, "fused", True, valid, weights)
    _assert_close(
        _run_and_grad(fused_run, fused_loss)(params, xs, carry),
        _run_and_grad(ref_run, ref_loss)(params, xs, carry),
    )


def test_values_written_over_the_row_follow_every_read():
    # The fused loop writes a step's stored values over the step's row of the projection only
    # where every read of the row flows into them (else XLA copies the buffer at every step);
    # the skip_rnn of _user_cells is such a cell, and runs fused all the same.
    def step(row, h):
        a, b = jnp.split(row, 2, axis=-1)
        return [jnp.tanh(a + h), jnp.tanh(a) + b, b * h]

    args = (jnp.ones((B, 2 * H)), jnp.ones((B, H)))
    assert reads_precede(step, args, [0], [0]) is False  # b is read for the other two
    assert reads_precede(step, args, [0], [0, 1]) is False  # b is still read for the third
    assert reads_precede(step, args, [0], [0, 1, 2]) is True
    assert reads_precede(step, args, [1], [0, 2]) is True  # h's readers flow into 0 and 2
    assert depends_on(step, args, [1]) == [True, False, True]


def _loop_with_resets_and_dropout(cell, params, xs, carry0, valid, resets, keep):
    """A Python loop of ``update``: reset where asked, ``(h * keep) @ U``, hold on masks."""
    carry, outputs = carry0, []
    xp = cell.project(params, xs)
    for t in range(T):
        into = jax.tree.map(
            lambda a, b, t=t: jnp.where(resets[:, t].reshape(-1, *[1] * (a.ndim - 1)), a, b),
            carry0, carry,
        )  # fmt: skip
        # Dropout on h where it feeds U; the carry that update reads keeps its h.
        hp = (
            None
            if cell.recurrent_kernel is None
            else (into.h * keep) @ cell.recurrent_kernel(params)
        )
        new, h, *_ = cell.update(params, into, xp[:, t], hp)
        hold = valid[:, t]
        carry = jax.tree.map(
            lambda n, o, hold=hold: jnp.where(hold.reshape(-1, *[1] * (n.ndim - 1)), n, o),
            new,
            carry,
        )
        outputs.append(jnp.where(hold[:, None], h, 0.0))
    return jnp.stack(outputs, 1), carry


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before"])
@pytest.mark.parametrize("implementation", ["fused", "scan"])
def test_resets_and_recurrent_mask_equal_a_loop(name, implementation, rng):
    cell, params, xs, carry = _setup(name, rng)
    resets = jnp.asarray(rng.random((B, T)) < 0.3)
    valid = jnp.asarray(rng.random((B, T)) < 0.8)
    keep = jnp.asarray(rng.random((B, H)) < 0.7, jnp.float32) / 0.7

    def run(params, xs, carry):
        outputs, final, _ = run_scan(
            cell, params, xs, initial_carry=carry, mask=valid, resets=resets,
            recurrent_mask=keep, implementation=implementation,
        )  # fmt: skip
        return outputs, final

    def loss(run):
        return lambda *a: sum(jnp.sum(jnp.sin(leaf)) for leaf in jax.tree.leaves(run(*a)))

    def loop(*a):
        return _loop_with_resets_and_dropout(cell, *a, valid, resets, keep)

    _assert_close(
        jax.jit(lambda *a: (run(*a), jax.grad(loss(run), (0, 1, 2))(*a)))(params, xs, carry),
        jax.jit(lambda *a: (loop(*a), jax.grad(loss(loop), (0, 1, 2))(*a)))(params, xs, carry),
    )


def test_resets_split_a_sequence_into_independent_episodes(rng):
    cell, params, xs, _ = _setup("lstm", rng)
    resets = jnp.zeros((B, T), bool).at[:, 3].set(True)
    outputs = run_scan(cell, params, xs, hidden_size=H, resets=resets).outputs
    first = run_scan(cell, params, xs[:, :3], hidden_size=H).outputs
    second = run_scan(cell, params, xs[:, 3:], hidden_size=H).outputs
    _assert_close(outputs, jnp.concatenate([first, second], axis=1))
    with pytest.raises(ValueError, match=r"resets must be boolean with shape \(batch, time\)"):
        run_scan(cell, params, xs, hidden_size=H, resets=jnp.zeros((B, T)))
    with pytest.raises(ValueError, match="recurrent_mask must have the shape of the carry's h"):
        run_scan(cell, params, xs, hidden_size=H, recurrent_mask=jnp.ones((B, H + 1)))


def test_additivity_and_biases_are_derived_from_the_cell():
    # The LSTM and the tanh RNN read xp_t + hp_t; the GRU and the layer-normalised LSTM do not.
    # Only the (reset-after) GRU reads a parameter as a bias of hp_t: its recurrent_bias.
    # Every built-in projection adds "bias" (the layer-normalised LSTM's after its norm).
    for name, additive, biases in [
        ("lstm", True, set()),
        ("rnn", True, set()),
        ("gru", False, {"recurrent_bias"}),
        ("gru_reset_before", False, set()),
        ("layer_norm_lstm", False, set()),
    ]:
        cell = get_cell(name)
        params = cell.init(jax.random.key(0), F, H)
        carry = cell.initial_carry((B,), H)
        xp_t = cell.project(params, jnp.ones((B, 1, F)))[:, 0]
        hp_t = cell.recurrent_product(params, carry.h)
        found, folded = hp_terms(cell.update, params, carry, xp_t, hp_t)
        assert found is additive, name
        names = [path[0].key for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
        assert {n for n, f in zip(names, folded, strict=True) if f} == biases, name
        folded = added_by_project(cell.project, params, jnp.ones((B * T, F)))
        assert {n for n, f in zip(names, folded, strict=True) if f} == {"bias"}, name
    # A bias under a nonlinearity is not folded.
    tanh_project = lambda params, xs: jnp.tanh(get_cell("rnn").project(params, xs))  # noqa: E731
    params = get_cell("rnn").init(jax.random.key(0), F, H)
    assert not any(added_by_project(tanh_project, params, jnp.ones((B * T, F))))


@pytest.mark.parametrize("name", ["gru", "gru_reset_before", "layer_norm_lstm"])
def test_gradient_of_each_parameter_alone_equals_reference(name, rng):
    # One parameter differentiated at a time: the tangents of U, of the biases (added to d(xp)
    # and d(hp)) and of the rest reach the fused recurrence alone as well as together.
    cell, params, xs, carry = _setup(name, rng)
    weights = _weights(cell, rng)
    valid = {"mask": jnp.asarray(rng.random((B, T)) < 0.7)}
    losses = [_loss_and_outputs(cell, impl, False, valid, weights)[0] for impl in ("fused", "scan")]
    for key in params:

        def alone(loss, leaf, key=key):
            return jax.grad(lambda v: loss({**params, key: v}, xs, carry))(leaf)

        fused, ref = (jax.jit(functools.partial(alone, loss))(params[key]) for loss in losses)
        _assert_close(fused, ref)
