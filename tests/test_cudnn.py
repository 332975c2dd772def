"""The cuDNN LSTM path: weight conversion and parity with jax.experimental.rnn's reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import rnn

from gru_lstm_jax import LSTM, StackedRNN, get_cell, run_scan
from gru_lstm_jax.cells import LSTMState
from gru_lstm_jax.cells.convert import lstm_params_from_cudnn, lstm_params_to_cudnn
from gru_lstm_jax.recurrence import cudnn_available

TOL = dict(rtol=1e-5, atol=1e-5)
B, T, F, H = 4, 9, 3, 5
LENGTHS = np.array([9, 5, 1, 0], np.int32)
CELL = get_cell("lstm")
# (num_layers, bidirectional)
STACKS = [(1, False), (2, False), (1, True), (2, True)]


def random_params(key, input_size=F):
    """Our LSTM parameters with a non-trivial bias."""
    params = CELL.init(key, input_size, H)
    params["bias"] = jax.random.normal(jax.random.fold_in(key, 7), (4 * H,))
    return params


def random_state(key, batch=B):
    kh, kc = jax.random.split(key)
    return LSTMState(jax.random.normal(kh, (batch, H)), jax.random.normal(kc, (batch, H)))


def reference(params, xs, **options):
    return run_scan(CELL, params, xs, implementation="cudnn_reference", **options)


def assert_trees_close(actual, expected, **tol):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), **(tol or TOL))


def test_to_cudnn_matches_jax_unpacker_and_round_trips():
    params = random_params(jax.random.key(0))
    flat = lstm_params_to_cudnn(params)
    assert flat.shape == (rnn.get_num_params_in_lstm(F, H, 1, False),)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, F, H, 1, False)
    np.testing.assert_array_equal(W_ih[0], np.asarray(params["kernel"]).T)
    np.testing.assert_array_equal(W_hh[0], np.asarray(params["recurrent_kernel"]).T)
    np.testing.assert_array_equal(b_ih[0], params["bias"])
    np.testing.assert_array_equal(b_hh[0], np.zeros(4 * H))
    back = lstm_params_from_cudnn(flat, input_size=F, hidden_size=H)
    assert_trees_close(back, params, rtol=0, atol=0)  # ours -> cuDNN -> ours is exact

    # cuDNN -> ours -> cuDNN keeps the matrices and moves b_hh into b_ih.
    flat = rnn.init_lstm_weight(jax.random.key(2), F, H, 1, False)
    before = rnn.unpack_lstm_weights(flat, F, H, 1, False)
    ours = lstm_params_from_cudnn(flat, input_size=F, hidden_size=H)
    after = rnn.unpack_lstm_weights(lstm_params_to_cudnn(ours), F, H, 1, False)
    np.testing.assert_array_equal(after[0][0], before[0][0])
    np.testing.assert_array_equal(after[1][0], before[1][0])
    np.testing.assert_array_equal(after[2][0], before[2][0] + before[3][0])
    np.testing.assert_array_equal(after[3][0], np.zeros(4 * H))


@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_run_scan_equals_lstm_ref_on_cudnn_weights(num_layers, bidirectional):
    """JAX's reference of the cuDNN kernel on its own double-bias weights == our run_scan."""
    directions = 2 if bidirectional else 1
    flat = rnn.init_lstm_weight(jax.random.key(3), F, H, num_layers, bidirectional)
    xs = jax.random.normal(jax.random.key(4), (B, T, F))
    h_0 = jax.random.normal(jax.random.key(5), (num_layers * directions, B, H))
    c_0 = jax.random.normal(jax.random.key(6), (num_layers * directions, B, H))
    # lstm_ref's final carry for a length-0 row is not the initial one (see recurrence/cudnn.py),
    # so this direct comparison uses lengths >= 1; run_scan's cuDNN tests cover length 0.
    lengths = jnp.array([9, 5, 1, 3], jnp.int32)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, F, H, num_layers, bidirectional)
    y, h_n, c_n = rnn.lstm_ref(
        xs, h_0, c_0, W_ih, W_hh, b_ih, b_hh, lengths, F, H, num_layers, 0.0, bidirectional
    )
    inputs, finals = xs, []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            i = layer * directions + direction
            params = {"kernel": W_ih[i].T, "recurrent_kernel": W_hh[i].T, "bias": b_ih[i] + b_hh[i]}
            out = run_scan(CELL, params, inputs, initial_carry=LSTMState(h_0[i], c_0[i]),
                           lengths=lengths, reverse=direction == 1)  # fmt: skip
            outputs.append(out.outputs)
            finals.append(out.final_carry)
        inputs = jnp.concatenate(outputs, axis=-1)
    np.testing.assert_allclose(inputs, y, **TOL)
    np.testing.assert_allclose(jnp.stack([s.h for s in finals]), h_n, **TOL)
    np.testing.assert_allclose(jnp.stack([s.c for s in finals]), c_n, **TOL)


@pytest.mark.parametrize("reverse", [False, True])
def test_cudnn_reference_equals_run_scan(reverse):
    params = random_params(jax.random.key(7))
    xs = jax.random.normal(jax.random.key(8), (B, T, F))
    state = random_state(jax.random.key(9))
    for lengths, initial in [(None, None), (LENGTHS, state)]:
        options = dict(hidden_size=H, initial_carry=initial, lengths=lengths, reverse=reverse)
        expected = run_scan(CELL, params, xs, **options)
        actual = reference(params, xs, **options)
        assert actual.carries is None
        assert isinstance(actual.final_carry, LSTMState)
        assert_trees_close(actual[:2], expected[:2])
    # Length 0: zero outputs and the initial carry, as run_scan.
    np.testing.assert_array_equal(actual.outputs[3], 0.0)
    np.testing.assert_array_equal(actual.final_carry.h[3], state.h[3])
    # A right-padding mask is the same as its lengths; one unbatched sequence works too.
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    masked = reference(params, xs, initial_carry=state, mask=mask, reverse=reverse)
    assert_trees_close(masked[:2], actual[:2])
    one = reference(params, xs[1], hidden_size=H, lengths=5, reverse=reverse)
    assert_trees_close(one[:2], run_scan(CELL, params, xs[1], hidden_size=H, lengths=5,
                                         reverse=reverse)[:2])  # fmt: skip


def test_gradients_equal_run_scan():
    params = random_params(jax.random.key(13))
    xs = jax.random.normal(jax.random.key(14), (B, T, F))
    state = random_state(jax.random.key(15))
    w_out = jax.random.normal(jax.random.key(16), (B, T, H))
    w_h = jax.random.normal(jax.random.key(17), (B, H))
    w_c = jax.random.normal(jax.random.key(18), (B, H))

    def loss(params, xs, state, implementation, reverse):
        outputs, final, _ = run_scan(
            CELL, params, xs, initial_carry=state, lengths=jnp.asarray(LENGTHS), reverse=reverse,
            implementation=implementation,
        )  # fmt: skip
        return jnp.sum(w_out * outputs) + jnp.sum(w_h * final.h) + jnp.sum(w_c * final.c**2)

    for reverse in (False, True):
        grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), static_argnums=(3, 4))
        expected = grad(params, xs, state, "auto", reverse)
        actual = grad(params, xs, state, "cudnn_reference", reverse)
        assert_trees_close(actual, expected)
        # Padded steps get no gradient, and a length-0 row passes it straight to its carry.
        np.testing.assert_array_equal(actual[1][1, 5:], 0.0)
        np.testing.assert_array_equal(actual[1][3], 0.0)
        np.testing.assert_allclose(actual[2].h[3], w_h[3], **TOL)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_cudnn_reference_equals_scan(go_backwards):
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    scan_layer = LSTM(F, H, rngs=nnx.Rngs(0), **options)
    ref_layer = LSTM(F, H, implementation="cudnn_reference", rngs=nnx.Rngs(1), **options)
    ref_layer.load_cell_params(scan_layer.cell_params())
    xs = jax.random.normal(jax.random.key(25), (B, T, F))
    state = random_state(jax.random.key(26))
    expected = scan_layer(xs, initial_state=state, lengths=LENGTHS)
    assert_trees_close(ref_layer(xs, initial_state=state, lengths=LENGTHS), expected)
    last_scan = LSTM(F, H, go_backwards=go_backwards, rngs=nnx.Rngs(0))
    last_ref = LSTM(F, H, go_backwards=go_backwards, implementation="cudnn_reference",
                    rngs=nnx.Rngs(0))  # fmt: skip
    assert_trees_close(last_ref(xs, lengths=LENGTHS), last_scan(xs, lengths=LENGTHS))


def test_stacked_bidirectional_layers_and_gradients():
    """Two bidirectional layers, each direction one cuDNN call: values and gradients."""
    xs = jax.random.normal(jax.random.key(21), (B, T, F))
    w_out = jax.random.normal(jax.random.key(22), (B, T, 2 * H))

    def loss(stack, xs):
        outputs, finals = stack(xs, lengths=jnp.asarray(LENGTHS))
        return jnp.sum(w_out * outputs) + sum(jnp.sum(leaf**2) for leaf in jax.tree.leaves(finals))

    results = []
    for implementation in ("auto", "cudnn_reference"):
        stack = StackedRNN("lstm", F, H, 2, bidirectional=True, return_sequences=True,
                           return_state=True, implementation=implementation,
                           rngs=nnx.Rngs(0))  # fmt: skip
        value, grads = nnx.value_and_grad(loss, argnums=(0, 1))(stack, xs)
        results.append((value, nnx.state(grads[0], nnx.Param), grads[1]))
    assert_trees_close(results[1], results[0])


def test_chrono_lstm_runs_on_cudnn():
    # Chrono initialisation changes only init: the cell still runs on cuDNN, with the same numbers.
    xs = jax.random.normal(jax.random.key(25), (B, T, F))

    def chrono(implementation):
        layer = LSTM(F, H, implementation=implementation, chrono_max_length=20, rngs=nnx.Rngs(0))
        return layer(xs, lengths=LENGTHS)

    assert_trees_close(chrono("cudnn_reference"), chrono("auto"))


def test_option_errors():
    params, xs = CELL.init(jax.random.key(0), F, H), jnp.ones((2, 4, F))
    with pytest.raises(ValueError, match="implementation must be one of"):
        LSTM(F, H, implementation="fast", rngs=nnx.Rngs(0))
    for options, name in [
        (dict(recurrent_dropout=0.1), "recurrent_dropout"),
        (dict(remat=True), "remat"),
        (dict(unroll=4), "unroll"),
        (dict(gate_activation=jax.nn.hard_sigmoid), "only the float32 LSTM with sigmoid"),
        (dict(activation=jax.nn.relu), "only the float32 LSTM with sigmoid"),
    ]:
        layer = LSTM(F, H, implementation="cudnn", rngs=nnx.Rngs(0), **options)
        with pytest.raises(ValueError, match=name):
            layer(xs)
    with pytest.raises(ValueError, match="cannot run resets, return_carries; use implementat"):
        reference(params, xs, hidden_size=H, resets=jnp.zeros((2, 4), bool), return_carries=True)
    with pytest.raises(ValueError, match="cell 'gru'"):
        run_scan(get_cell("gru"), get_cell("gru").init(jax.random.key(0), F, H), xs,
                 hidden_size=H, implementation="cudnn")  # fmt: skip
    with pytest.raises(ValueError, match="xs must be float32"):
        reference(params, xs.astype(jnp.bfloat16), hidden_size=H)
    layer = LSTM(F, H, implementation="cudnn_reference", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"only right padding.*rows \[1\]"):
        layer(xs, mask=np.array([[True] * 4, [True, False, True, False]]))
    with pytest.raises(ValueError, match="pass lengths"):
        jax.jit(lambda m: layer(xs, mask=m))(jnp.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"params\['bias'\] must have shape \(20,\); got \(7,\)"):
        lstm_params_to_cudnn({**params, "bias": jnp.zeros((7,))})
    with pytest.raises(ValueError, match=r"weights must have shape .* = \(200,\) .* got \(199,\)"):
        lstm_params_from_cudnn(jnp.zeros((199,)), input_size=F, hidden_size=H)


@pytest.mark.skipif(cudnn_available(), reason="checks the error raised without a GPU")
def test_cudnn_without_gpu_raises_clear_error():
    layer = LSTM(F, H, implementation="cudnn", rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match=r"needs jax\.experimental\.rnn's cuDNN kernels"):
        layer(jnp.ones((B, T, F)))
    with pytest.raises(RuntimeError, match="implementation='cudnn_reference'"):
        run_scan(CELL, CELL.init(jax.random.key(0), F, H), jnp.ones((B, T, F)), hidden_size=H,
                 implementation="cudnn")  # fmt: skip


@pytest.mark.skipif(not cudnn_available(), reason="needs a GPU with cuDNN RNN kernels")
@pytest.mark.parametrize("reverse", [False, True])
def test_cudnn_equals_reference_on_gpu(reverse):
    params = random_params(jax.random.key(31))
    state = random_state(jax.random.key(32))
    xs = jax.random.normal(jax.random.key(33), (B, T, F))
    w_out = jax.random.normal(jax.random.key(34), (B, T, H))

    def run(params, xs, state, implementation):
        return run_scan(CELL, params, xs, initial_carry=state, lengths=jnp.asarray(LENGTHS),
                        reverse=reverse, implementation=implementation)[:2]  # fmt: skip

    def loss(*args):
        outputs, final = run(*args)
        return jnp.sum(w_out * outputs) + sum(jnp.sum(leaf) for leaf in jax.tree.leaves(final))

    with jax.default_matmul_precision("highest"):  # no TF32, for float32 parity
        for fn in (run, jax.grad(loss, (0, 1, 2))):
            actual = fn(params, xs, state, "cudnn")
            expected = fn(params, xs, state, "cudnn_reference")
            assert_trees_close(actual, expected, rtol=1e-5, atol=1e-5)
