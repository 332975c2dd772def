"""run_scan: equality with a Python loop, masks, lengths, reverse, unroll, remat, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
from numpy_reference import random_params

from gru_lstm_jax.cells import get_cell
from gru_lstm_jax.recurrence import last_output, run_scan, sequence_mask

CELLS = ["lstm", "gru", "gru_reset_before", "rnn"]
B, T, F, H = 3, 6, 4, 5


def _setup(name, rng, time=T):
    cell = get_cell(name)
    params = {k: jnp.asarray(v) for k, v in random_params(cell, 7, F, H).items()}
    xs = jnp.asarray(rng.normal(size=(B, time, F)), jnp.float32)
    return cell, params, xs


def _python_loop(cell, params, xs, valid=None):
    """The reference: step by step in Python; masked steps hold the carry and output zeros."""
    carry = cell.initial_carry((xs.shape[0],), H)
    outputs, carries = [], []
    for t in range(xs.shape[1]):
        new_carry, h = cell.step(params, carry, cell.project(params, xs[:, t : t + 1])[:, 0])
        if valid is not None:
            keep = valid[:, t]
            new_carry = jax.tree.map(
                lambda n, o, keep=keep: jnp.where(keep[:, None], n, o), new_carry, carry
            )
            h = jnp.where(keep[:, None], h, 0.0)
        carry = new_carry
        outputs.append(h)
        carries.append(carry)
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves, axis=1), *carries)
    return jnp.stack(outputs, axis=1), carry, stacked


def _assert_tree_close(a, b, atol=1e-6):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, atol=atol), a, b)


@pytest.mark.parametrize("name", CELLS)
def test_scan_equals_python_loop(name, rng):
    cell, params, xs = _setup(name, rng)
    outputs, final, carries = run_scan(cell, params, xs, hidden_size=H, return_carries=True)
    ref_outputs, ref_final, ref_carries = _python_loop(cell, params, xs)
    _assert_tree_close((outputs, final, carries), (ref_outputs, ref_final, ref_carries))
    assert outputs.shape == (B, T, H)


@pytest.mark.parametrize("name", CELLS)
def test_mask_with_holes_equals_python_loop(name, rng):
    cell, params, xs = _setup(name, rng)
    mask = jnp.asarray(rng.random((B, T)) < 0.6)
    outputs, final, _ = run_scan(cell, params, xs, hidden_size=H, mask=mask)
    ref_outputs, ref_final, _ = _python_loop(cell, params, xs, mask)
    _assert_tree_close((outputs, final), (ref_outputs, ref_final))
    assert not np.any(np.asarray(outputs)[~np.asarray(mask)])


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_extra_padding_changes_nothing_valid(name, reverse, rng):
    cell, params, xs = _setup(name, rng)
    lengths = jnp.array([T, 3, 0])
    outputs, final, _ = run_scan(cell, params, xs, hidden_size=H, lengths=lengths, reverse=reverse)
    padded = jnp.concatenate([xs, 100.0 * jnp.ones((B, 4, F))], axis=1)
    out_pad, final_pad, _ = run_scan(
        cell, params, padded, hidden_size=H, lengths=lengths, reverse=reverse
    )
    _assert_tree_close((out_pad[:, :T], final_pad), (outputs, final))
    assert not np.any(out_pad[:, T:])
    # The same with garbage instead of zeros in the already-padded region of the original.
    garbage = xs.at[1, 3:].set(-50.0)
    out_garbage, final_garbage, _ = run_scan(
        cell, params, garbage, hidden_size=H, lengths=lengths, reverse=reverse
    )
    _assert_tree_close((out_garbage, final_garbage), (outputs, final))


@pytest.mark.parametrize("name", CELLS)
def test_reverse_with_lengths_equals_flipping_each_valid_prefix(name, rng):
    cell, params, xs = _setup(name, rng)
    lengths = [T, 4, 1]
    outputs, final, _ = run_scan(
        cell, params, xs, hidden_size=H, lengths=jnp.array(lengths), reverse=True
    )
    for b, length in enumerate(lengths):
        flipped = xs[b : b + 1, :length][:, ::-1]
        ref_outputs, ref_final, _ = run_scan(cell, params, flipped, hidden_size=H)
        np.testing.assert_allclose(outputs[b, :length], ref_outputs[0, ::-1], atol=1e-6)
        assert not np.any(outputs[b, length:])
        row_final = jax.tree.map(lambda a, b=b: a[b], final)
        _assert_tree_close(row_final, jax.tree.map(lambda a: a[0], ref_final))


def test_reverse_without_mask_equals_flipped_input(rng):
    cell, params, xs = _setup("lstm", rng)
    outputs, final, _ = run_scan(cell, params, xs, hidden_size=H, reverse=True)
    ref_outputs, ref_final, _ = run_scan(cell, params, xs[:, ::-1], hidden_size=H)
    _assert_tree_close((outputs, final), (ref_outputs[:, ::-1], ref_final))


def test_lengths_and_mask_combine_by_and(rng):
    cell, params, xs = _setup("gru", rng)
    lengths = jnp.array([5, 2, 6])
    mask = jnp.asarray(rng.random((B, T)) < 0.7)
    combined = sequence_mask(lengths, mask, B, T)
    np.testing.assert_array_equal(
        combined, (np.arange(T)[None] < np.asarray(lengths)[:, None]) & mask
    )
    a = run_scan(cell, params, xs, hidden_size=H, lengths=lengths, mask=mask)
    b = run_scan(cell, params, xs, hidden_size=H, mask=combined)
    _assert_tree_close(a, b)


@pytest.mark.parametrize("name", CELLS)
def test_unbatched_equals_batched_row(name, rng):
    cell, params, xs = _setup(name, rng)
    batched = run_scan(cell, params, xs, hidden_size=H, lengths=jnp.array([T, 4, 2]))
    single = run_scan(cell, params, xs[1], hidden_size=H, lengths=jnp.array(4))
    assert single.outputs.shape == (T, H)
    _assert_tree_close(single, jax.tree.map(lambda a: a[1], batched))
    masked = run_scan(cell, params, xs[1], hidden_size=H, mask=jnp.arange(T) < 4)
    _assert_tree_close(masked, single)


def test_initial_carry_is_used(rng):
    cell, params, xs = _setup("lstm", rng)
    start = jax.tree.map(
        lambda a: jnp.asarray(rng.normal(size=a.shape), jnp.float32), cell.initial_carry((B,), H)
    )
    outputs = run_scan(cell, params, xs, hidden_size=H, initial_carry=start).outputs
    _, first_h = cell.step(params, start, cell.project(params, xs)[:, 0])
    np.testing.assert_allclose(outputs[:, 0], first_h, atol=1e-6)
    # With all steps masked the carry comes back unchanged and the outputs are zero.
    held = run_scan(cell, params, xs, initial_carry=start, lengths=jnp.zeros(B, jnp.int32))
    _assert_tree_close(held.final_carry, start)
    assert not np.any(held.outputs)


@pytest.mark.parametrize("options", [{"unroll": 3}, {"unroll": True}, {"remat": True}])
def test_unroll_and_remat_change_nothing(options, rng):
    cell, params, xs = _setup("lstm", rng)
    lengths = jnp.array([T, 2, 5])

    def loss(params, **kw):
        outputs, final, _ = run_scan(cell, params, xs, hidden_size=H, lengths=lengths, **kw)
        return jnp.sum(outputs**2) + jnp.sum(final.c)

    value, grads = jax.value_and_grad(loss)(params)
    value_opt, grads_opt = jax.value_and_grad(lambda p: loss(p, **options))(params)
    np.testing.assert_allclose(value_opt, value, rtol=1e-6)
    _assert_tree_close(grads_opt, grads, atol=1e-5)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("implementation", ["scan", "auto"])
def test_remat_equals_no_remat_in_values_and_gradients(name, reverse, implementation, rng):
    # remat projects each step's input inside the checkpoint; that must change no number, with
    # a length-0 sequence, a mask with holes, a given initial carry, and every output used.
    cell, params, xs = _setup(name, rng)
    lengths = jnp.array([T, 2, 0])
    mask = jnp.asarray(rng.random((B, T)) < 0.7)
    start = jax.tree.map(
        lambda a: jnp.asarray(rng.normal(size=a.shape), jnp.float32), cell.initial_carry((B,), H)
    )

    def run(params, xs, start, **options):
        outputs, final, carries = run_scan(
            cell, params, xs, hidden_size=H, initial_carry=start, lengths=lengths, mask=mask,
            reverse=reverse, return_carries=True, **options,
        )  # fmt: skip
        loss = jnp.sum(jnp.sin(outputs)) + sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(final))
        return loss, (outputs, final, carries)

    def value_and_grads(**options):
        grad = jax.value_and_grad(lambda *a: run(*a, **options), argnums=(0, 1, 2), has_aux=True)
        return jax.jit(grad)(params, xs, start)

    (loss, values), grads = value_and_grads(implementation=implementation)
    (remat_loss, remat_values), remat_grads = value_and_grads(remat=True)
    np.testing.assert_allclose(remat_loss, loss, rtol=1e-6)
    for actual, expected in zip(
        jax.tree.leaves((remat_values, remat_grads)), jax.tree.leaves((values, grads)), strict=True
    ):
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", CELLS)
def test_remat_unbatched_and_empty(name, rng):
    cell, params, xs = _setup(name, rng)
    single = run_scan(cell, params, xs[1], hidden_size=H, lengths=jnp.array(4), remat=True)
    expected = run_scan(cell, params, xs[1], hidden_size=H, lengths=jnp.array(4))
    _assert_tree_close(single, expected)
    empty = run_scan(cell, params, xs[:, :0], hidden_size=H, remat=True)
    assert empty.outputs.shape == (B, 0, H)
    _assert_tree_close(empty.final_carry, cell.initial_carry((B,), H))


@pytest.mark.parametrize("name", CELLS)
def test_scan_gradients(name, rng):
    cell, params, xs = _setup(name, rng, time=4)
    lengths = jnp.array([4, 2, 3])

    @jax.jit
    def f(params, xs):
        outputs, final, _ = run_scan(cell, params, xs, hidden_size=H, lengths=lengths, reverse=True)
        return jnp.sum(jnp.sin(outputs)) + jnp.sum(final.h**2)

    check_grads(f, (params, xs), order=1, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


def test_last_output(rng):
    outputs = jnp.asarray(rng.normal(size=(3, 5, 2)), jnp.float32)
    mask = jnp.array(
        [[True] * 5, [True, True, True, False, False], [False, True, False, True, False]]
    )
    outputs = jnp.where(mask[..., None], outputs, 0.0)
    np.testing.assert_array_equal(last_output(outputs), outputs[:, -1])
    np.testing.assert_array_equal(last_output(outputs, reverse=True), outputs[:, 0])
    forward = last_output(outputs, mask)
    np.testing.assert_array_equal(forward, np.stack([outputs[0, 4], outputs[1, 2], outputs[2, 3]]))
    backward = last_output(outputs, mask, reverse=True)
    np.testing.assert_array_equal(backward, np.stack([outputs[0, 0], outputs[1, 0], outputs[2, 1]]))
    empty = last_output(jnp.zeros((1, 3, 2)), jnp.zeros((1, 3), bool))
    np.testing.assert_array_equal(empty, np.zeros((1, 2)))
    for mask in (None, jnp.zeros((3, 0), bool)):  # no time step at all
        np.testing.assert_array_equal(last_output(jnp.zeros((3, 0, 2)), mask), np.zeros((3, 2)))


def test_jit_with_lengths_compiles_once(rng):
    cell, params, xs = _setup("gru", rng)
    traces = []

    @jax.jit
    def f(params, xs, lengths):
        traces.append(None)
        return run_scan(cell, params, xs, hidden_size=H, lengths=lengths).outputs

    eager = run_scan(cell, params, xs, hidden_size=H, lengths=jnp.array([1, 2, 3])).outputs
    np.testing.assert_allclose(f(params, xs, jnp.array([1, 2, 3])), eager, atol=1e-6)
    f(params, xs + 1.0, jnp.array([6, 0, 2]))
    assert len(traces) == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"xs": np.zeros((B, T, F, 1))}, r"xs must have shape \(batch, time, features\)"),
        ({"xs": np.zeros((F,))}, r"xs must have shape .* got shape \(4,\)"),
        ({"lengths": jnp.array([1, 2])}, r"lengths must have shape \(batch,\) = \(3,\)"),
        ({"lengths": jnp.array([1.0, 2.0, 3.0])}, "lengths must be integers"),
        ({"lengths": jnp.array([1, 7, 2])}, r"lengths must lie in \[0, T\] = \[0, 6\]"),
        ({"lengths": jnp.array([1, -1, 2])}, r"lengths must lie in \[0, T\]"),
        ({"mask": jnp.ones((B, T + 1), bool)}, r"mask must be .* \(batch, time\) = \(3, 6\)"),
        ({"mask": jnp.ones((B, T))}, "mask must be boolean"),
        ({"hidden_size": None}, "needs hidden_size or initial_carry"),
        ({"hidden_size": 0}, "hidden_size must be a positive int"),
        ({"xs": np.zeros((B, T, F + 1))}, "'lstm': its parameters do not fit xs with 5 features"),
        ({"hidden_size": H + 1}, r"do not fit .* a carry whose h has shape \(3, 6\)"),
        ({"initial_carry": (jnp.zeros((B, H)),)}, r"initial_carry must be LSTMState\(h=\(3, 5\)"),
        (
            {"initial_carry": "lstm_wrong"},
            r"must be LSTMState\(h=\(3, 5\), c=\(3, 5\)\); got .*\(3, 6\)",
        ),
    ],
)
def test_bad_input_raises_clear_errors(kwargs, match, rng):
    cell, params, xs = _setup("lstm", rng)
    kwargs = {"xs": xs, "hidden_size": H, **kwargs}
    if kwargs.get("initial_carry") == "lstm_wrong":
        kwargs["initial_carry"] = cell.initial_carry((B,), H + 1)
    with pytest.raises(ValueError, match=match):
        run_scan(cell, params, **kwargs)


@pytest.mark.parametrize("implementation", ["fused", "scan"])
@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_non_finite_padding_reaches_no_derivative(name, implementation, rng):
    # Missing values padded with NaN (or inf) on masked steps only: values and gradients are
    # those of zero padding, and finite.
    cell, params, xs = _setup(name, rng)
    valid = jnp.asarray(rng.random((B, T)) < 0.6).at[:, 0].set(True)
    padding = jnp.full_like(xs, jnp.nan).at[0, -1].set(jnp.inf)
    holes = jnp.where(valid[..., None], xs, padding)

    def loss(params, xs):
        outputs = run_scan(
            cell, params, xs, hidden_size=H, mask=valid, implementation=implementation
        ).outputs
        return jnp.sum(jnp.sin(outputs)), outputs

    grad = jax.jit(jax.grad(loss, argnums=(0, 1), has_aux=True))
    (d_params, d_xs), outputs = grad(params, holes)
    (ref_params, ref_xs), ref_outputs = grad(params, jnp.where(valid[..., None], xs, 0.0))
    for got, want in [(outputs, ref_outputs), (d_params, ref_params), (d_xs, ref_xs)]:
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            assert np.isfinite(np.asarray(a)).all()
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_numpy_integer_sizes_are_sizes(rng):
    cell, params, xs = _setup("gru", rng)
    outputs = run_scan(cell, params, xs, hidden_size=np.int64(H)).outputs
    np.testing.assert_array_equal(outputs, run_scan(cell, params, xs, hidden_size=H).outputs)
    chrono = get_cell("lstm", chrono_max_length=np.int32(20)).init(jax.random.key(0), F, H)
    assert chrono["bias"].shape == (4 * H,)
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got True"):
        run_scan(cell, params, xs, hidden_size=True)


def test_unbatched_bad_lengths_and_mask(rng):
    cell, params, xs = _setup("rnn", rng)
    with pytest.raises(ValueError, match="lengths must be a scalar"):
        run_scan(cell, params, xs[0], hidden_size=H, lengths=jnp.array([2]))
    with pytest.raises(ValueError, match=r"mask must have shape \(time,\) = \(6,\)"):
        run_scan(cell, params, xs[0], hidden_size=H, mask=jnp.ones((1, T), bool))
    with pytest.raises(ValueError, match=r"resets must have shape \(time,\) = \(6,\).*\(5,\)"):
        run_scan(cell, params, xs[0], hidden_size=H, resets=jnp.ones((T - 1,), bool))
    with pytest.raises(ValueError, match=r"recurrent_mask must have shape \(hidden,\)"):
        run_scan(cell, params, xs[0], hidden_size=H, recurrent_mask=jnp.ones((1, H)))


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=T), min_size=B, max_size=B),
    reverse=st.booleans(),
)
def test_property_each_sequence_equals_its_unpadded_run(lengths, reverse):
    cell, params, xs = _setup("gru", np.random.default_rng(0))
    outputs, final, _ = run_scan(
        cell, params, xs, hidden_size=H, lengths=jnp.array(lengths), reverse=reverse
    )
    for b, length in enumerate(lengths):
        if length == 0:
            assert not np.any(outputs[b])
            _assert_tree_close(jax.tree.map(lambda a, b=b: a[b], final), cell.initial_carry((), H))
            continue
        alone = run_scan(cell, params, xs[b, :length], hidden_size=H, reverse=reverse)
        np.testing.assert_allclose(outputs[b, :length], alone.outputs, atol=1e-6)
        assert not np.any(outputs[b, length:])
        _assert_tree_close(jax.tree.map(lambda a, b=b: a[b], final), alone.final_carry)
