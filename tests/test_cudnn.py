"""The cuDNN LSTM path: weight conversion and parity with jax.experimental.rnn's reference."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import rnn

from gru_lstm_jax import LSTM, get_cell, run_scan
from gru_lstm_jax.cells import LSTMState
from gru_lstm_jax.cells.cudnn_layout import lstm_params_from_cudnn, lstm_params_to_cudnn
from gru_lstm_jax.recurrence import cudnn_available, cudnn_lstm, cudnn_lstm_stack

TOL = dict(rtol=1e-5, atol=1e-5)
B, T, F, H = 4, 9, 3, 5
LENGTHS = np.array([9, 5, 1, 0], np.int32)
CELL = get_cell("lstm")
# (num_layers, bidirectional); the runs compare on the smallest and the largest.
STACKS = [(1, False), (2, False), (1, True), (2, True)]
RUN_STACKS = [(1, False), (2, True)]


def random_layers(key, num_layers, bidirectional, *, input_size=F, hidden=H):
    """Our parameters with non-trivial biases, nested as the converters take them."""
    directions = 2 if bidirectional else 1
    layers = []
    for layer in range(num_layers):
        in_features = input_size if layer == 0 else directions * hidden
        pair = []
        for direction in range(directions):
            k = jax.random.fold_in(key, 10 * layer + direction)
            params = CELL.init(k, in_features, hidden)
            params["bias"] = jax.random.normal(jax.random.fold_in(k, 7), (4 * hidden,))
            pair.append(params)
        layers.append(tuple(pair) if bidirectional else pair[0])
    return layers


def random_states(key, num_layers, bidirectional, batch=B, hidden=H):
    directions = 2 if bidirectional else 1
    states = []
    for layer in range(num_layers):
        pair = []
        for direction in range(directions):
            kh, kc = jax.random.split(jax.random.fold_in(key, 10 * layer + direction))
            pair.append(
                LSTMState(
                    jax.random.normal(kh, (batch, hidden)), jax.random.normal(kc, (batch, hidden))
                )
            )
        states.append(tuple(pair) if bidirectional else pair[0])
    return states


def scan_stack(layers, xs, states, lengths, bidirectional):
    """The expected result: our run_scan, layer by layer (forward and reverse, concatenated)."""
    finals = []
    inputs = xs
    for layer, state in zip(layers, states, strict=True):
        if bidirectional:
            fwd = run_scan(CELL, layer[0], inputs, initial_carry=state[0], lengths=lengths)
            bwd = run_scan(
                CELL, layer[1], inputs, initial_carry=state[1], lengths=lengths, reverse=True
            )
            inputs = jnp.concatenate([fwd.outputs, bwd.outputs], axis=-1)
            finals.append((fwd.final_carry, bwd.final_carry))
        else:
            out = run_scan(CELL, layer, inputs, initial_carry=state, lengths=lengths)
            inputs = out.outputs
            finals.append(out.final_carry)
    return inputs, finals


def assert_trees_close(actual, expected, **tol):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), **(tol or TOL))


@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_to_cudnn_matches_jax_unpacker(num_layers, bidirectional):
    layers = random_layers(jax.random.key(0), num_layers, bidirectional)
    flat = lstm_params_to_cudnn(layers, bidirectional=bidirectional)
    assert flat.shape == (rnn.get_num_params_in_lstm(F, H, num_layers, bidirectional),)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, F, H, num_layers, bidirectional)
    pseudo = [p for pair in layers for p in pair] if bidirectional else layers
    assert len(W_ih) == len(pseudo)
    for i, params in enumerate(pseudo):
        np.testing.assert_array_equal(W_ih[i], np.asarray(params["kernel"]).T)
        np.testing.assert_array_equal(W_hh[i], np.asarray(params["recurrent_kernel"]).T)
        np.testing.assert_array_equal(b_ih[i], params["bias"])
        np.testing.assert_array_equal(b_hh[i], np.zeros(4 * H))


@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_round_trips(num_layers, bidirectional):
    layers = random_layers(jax.random.key(1), num_layers, bidirectional)
    back = lstm_params_from_cudnn(
        lstm_params_to_cudnn(layers, bidirectional=bidirectional),
        input_size=F,
        hidden_size=H,
        num_layers=num_layers,
        bidirectional=bidirectional,
    )
    assert jax.tree.structure(back) == jax.tree.structure(layers)
    for a, e in zip(jax.tree.leaves(back), jax.tree.leaves(layers), strict=True):
        np.testing.assert_array_equal(a, e)  # ours -> cuDNN -> ours is exact

    # cuDNN -> ours -> cuDNN keeps the matrices and moves b_hh into b_ih.
    flat = rnn.init_lstm_weight(jax.random.key(2), F, H, num_layers, bidirectional)
    ours = lstm_params_from_cudnn(
        flat, input_size=F, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional
    )
    again = lstm_params_to_cudnn(ours, bidirectional=bidirectional)
    before = rnn.unpack_lstm_weights(flat, F, H, num_layers, bidirectional)
    after = rnn.unpack_lstm_weights(again, F, H, num_layers, bidirectional)
    for i in range(len(before[0])):
        np.testing.assert_array_equal(after[0][i], before[0][i])
        np.testing.assert_array_equal(after[1][i], before[1][i])
        np.testing.assert_array_equal(after[2][i], before[2][i] + before[3][i])
        np.testing.assert_array_equal(after[3][i], np.zeros(4 * H))


@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_run_scan_equals_lstm_ref_on_converted_weights(num_layers, bidirectional):
    """JAX's reference of the cuDNN kernel on its own double-bias weights == our run_scan."""
    directions = 2 if bidirectional else 1
    flat = rnn.init_lstm_weight(jax.random.key(3), F, H, num_layers, bidirectional)
    xs = jax.random.normal(jax.random.key(4), (B, T, F))
    h_0 = jax.random.normal(jax.random.key(5), (num_layers * directions, B, H))
    c_0 = jax.random.normal(jax.random.key(6), (num_layers * directions, B, H))
    # lstm_ref's final carry for a length-0 row is not the initial one (see recurrence/cudnn.py), so
    # this direct comparison uses lengths >= 1; cudnn_lstm's own tests cover length 0.
    lengths = jnp.array([9, 5, 1, 3], jnp.int32)
    W_ih, W_hh, b_ih, b_hh = rnn.unpack_lstm_weights(flat, F, H, num_layers, bidirectional)
    y, h_n, c_n = rnn.lstm_ref(
        xs, h_0, c_0, W_ih, W_hh, b_ih, b_hh, lengths, F, H, num_layers, 0.0, bidirectional
    )
    layers = lstm_params_from_cudnn(
        flat, input_size=F, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional
    )
    pseudo_states = [LSTMState(h_0[i], c_0[i]) for i in range(num_layers * directions)]
    states = (
        [tuple(pseudo_states[i : i + 2]) for i in range(0, len(pseudo_states), 2)]
        if bidirectional
        else pseudo_states
    )
    outputs, finals = scan_stack(layers, xs, states, lengths, bidirectional)
    np.testing.assert_allclose(outputs, y, **TOL)
    flat_finals = jax.tree.leaves(finals, is_leaf=lambda x: isinstance(x, LSTMState))
    np.testing.assert_allclose(jnp.stack([s.h for s in flat_finals]), h_n, **TOL)
    np.testing.assert_allclose(jnp.stack([s.c for s in flat_finals]), c_n, **TOL)


@pytest.mark.parametrize("reverse", [False, True])
def test_cudnn_lstm_reference_equals_run_scan(reverse):
    (params,) = random_layers(jax.random.key(7), 1, False)
    xs = jax.random.normal(jax.random.key(8), (B, T, F))
    (state,) = random_states(jax.random.key(9), 1, False)
    for lengths, initial in [(None, None), (LENGTHS, state)]:
        expected = run_scan(
            CELL, params, xs, hidden_size=H, initial_carry=initial, lengths=lengths, reverse=reverse
        )
        actual = cudnn_lstm(
            params,
            xs,
            hidden_size=H,
            initial_carry=initial,
            lengths=lengths,
            reverse=reverse,
            implementation="cudnn_reference",
        )
        assert actual.carries is None
        assert isinstance(actual.final_carry, LSTMState)
        assert_trees_close(actual.outputs, expected.outputs)
        assert_trees_close(actual.final_carry, expected.final_carry)
    # Length 0: zero outputs and the initial carry, as run_scan.
    np.testing.assert_array_equal(actual.outputs[3], 0.0)
    np.testing.assert_array_equal(actual.final_carry.h[3], state.h[3])


@pytest.mark.parametrize(("num_layers", "bidirectional"), RUN_STACKS)
def test_cudnn_lstm_stack_reference_equals_run_scan(num_layers, bidirectional):
    layers = random_layers(jax.random.key(10), num_layers, bidirectional)
    states = random_states(jax.random.key(11), num_layers, bidirectional)
    xs = jax.random.normal(jax.random.key(12), (B, T, F))
    expected = scan_stack(layers, xs, states, LENGTHS, bidirectional)
    actual = cudnn_lstm_stack(
        layers,
        xs,
        bidirectional=bidirectional,
        initial_carry=states,
        lengths=LENGTHS,
        implementation="cudnn_reference",
    )
    assert actual.outputs.shape == (B, T, (2 if bidirectional else 1) * H)
    assert_trees_close((actual.outputs, actual.final_carry), expected)
    # Defaults: zero initial carries, every sequence of full length.
    defaults = cudnn_lstm_stack(
        layers, xs, bidirectional=bidirectional, implementation="cudnn_reference"
    )
    expected = scan_stack(layers, xs, jax.tree.map(jnp.zeros_like, states), None, bidirectional)
    assert_trees_close((defaults.outputs, defaults.final_carry), expected)


def test_gradients_equal_run_scan():
    (params,) = random_layers(jax.random.key(13), 1, False)
    xs = jax.random.normal(jax.random.key(14), (B, T, F))
    (state,) = random_states(jax.random.key(15), 1, False)
    w_out = jax.random.normal(jax.random.key(16), (B, T, H))
    w_h = jax.random.normal(jax.random.key(17), (B, H))
    w_c = jax.random.normal(jax.random.key(18), (B, H))

    def loss(run, params, xs, state, reverse):
        outputs, final, _ = run(params, xs, state, reverse)
        return jnp.sum(w_out * outputs) + jnp.sum(w_h * final.h) + jnp.sum(w_c * final.c**2)

    def scan(params, xs, state, reverse):
        return run_scan(CELL, params, xs, initial_carry=state, lengths=LENGTHS, reverse=reverse)

    def reference(params, xs, state, reverse):
        return cudnn_lstm(
            params, xs, initial_carry=state, lengths=LENGTHS, reverse=reverse,
            implementation="cudnn_reference",
        )  # fmt: skip

    for reverse in (False, True):
        grad = jax.jit(jax.grad(loss, argnums=(1, 2, 3)), static_argnums=(0, 4))
        expected = grad(scan, params, xs, state, reverse)
        actual = grad(reference, params, xs, state, reverse)
        assert_trees_close(actual, expected)
        # Padded steps get no gradient, and a length-0 row passes it straight to its carry.
        np.testing.assert_array_equal(actual[1][1, 5:], 0.0)
        np.testing.assert_array_equal(actual[1][3], 0.0)
        np.testing.assert_allclose(actual[2].h[3], w_h[3], **TOL)


def test_stack_gradients_equal_run_scan():
    layers = random_layers(jax.random.key(20), 2, True)
    xs = jax.random.normal(jax.random.key(21), (B, T, F))
    w_out = jax.random.normal(jax.random.key(22), (B, T, 2 * H))
    zero = LSTMState(jnp.zeros((B, H)), jnp.zeros((B, H)))

    def loss(outputs, finals):
        cells = [state.c for pair in finals for state in pair]
        return jnp.sum(w_out * outputs) + sum(jnp.sum(c**2) for c in cells)

    def loss_reference(layers, xs):
        outputs, finals, _ = cudnn_lstm_stack(
            layers, xs, bidirectional=True, lengths=LENGTHS, implementation="cudnn_reference"
        )
        return loss(outputs, finals)

    def loss_scan(layers, xs):
        return loss(*scan_stack(layers, xs, [(zero, zero)] * 2, LENGTHS, True))

    expected = jax.jit(jax.grad(loss_scan, argnums=(0, 1)))(layers, xs)
    actual = jax.jit(jax.grad(loss_reference, argnums=(0, 1)))(layers, xs)
    assert_trees_close(actual, expected)


def test_jit():
    (params,) = random_layers(jax.random.key(23), 1, False)
    xs = jax.random.normal(jax.random.key(24), (B, T, F))
    run = jax.jit(lambda p, x, n: cudnn_lstm(p, x, lengths=n, implementation="cudnn_reference"))
    expected = run_scan(CELL, params, xs, hidden_size=H, lengths=LENGTHS)
    actual = run(params, xs, jnp.asarray(LENGTHS))
    assert_trees_close((actual.outputs, actual.final_carry), expected[:2])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_layer_cudnn_reference_equals_scan(go_backwards):
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    scan_layer = LSTM(F, H, rngs=nnx.Rngs(0), **options)
    ref_layer = LSTM(F, H, implementation="cudnn_reference", rngs=nnx.Rngs(1), **options)
    ref_layer.load_cell_params(scan_layer.cell_params())
    xs = jax.random.normal(jax.random.key(25), (B, T, F))
    (state,) = random_states(jax.random.key(26), 1, False)
    expected = scan_layer(xs, initial_state=state, lengths=LENGTHS)
    assert_trees_close(ref_layer(xs, initial_state=state, lengths=LENGTHS), expected)
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    assert_trees_close(ref_layer(xs, initial_state=state, mask=mask), expected)
    assert_trees_close(
        ref_layer(xs[1], lengths=5), scan_layer(xs[1], lengths=5)
    )  # one unbatched sequence
    last_scan = LSTM(F, H, go_backwards=go_backwards, rngs=nnx.Rngs(0))
    last_ref = LSTM(F, H, go_backwards=go_backwards, implementation="cudnn_reference",
                    rngs=nnx.Rngs(0))  # fmt: skip
    assert_trees_close(last_ref(xs, lengths=LENGTHS), last_scan(xs, lengths=LENGTHS))


def test_layer_option_errors():
    with pytest.raises(ValueError, match="implementation must be one of"):
        LSTM(F, H, implementation="fast", rngs=nnx.Rngs(0))
    for options, name in [
        (dict(recurrent_dropout=0.1), "recurrent_dropout"),
        (dict(remat=True), "remat"),
        (dict(unroll=4), "unroll"),
        (dict(gate_activation=jax.nn.hard_sigmoid), "only the LSTM with sigmoid gates"),
        (dict(activation=jax.nn.relu), "only the LSTM with sigmoid gates"),
    ]:
        layer = LSTM(F, H, implementation="cudnn", rngs=nnx.Rngs(0), **options)
        with pytest.raises(ValueError, match=name):
            layer(jnp.ones((2, 4, F)))
    with pytest.raises(ValueError, match="resets"):
        run_scan(CELL, CELL.init(jax.random.key(0), F, H), jnp.ones((2, 4, F)), hidden_size=H,
                 resets=jnp.zeros((2, 4), bool), implementation="cudnn_reference")  # fmt: skip
    with pytest.raises(ValueError, match="cell 'gru'"):
        run_scan(get_cell("gru"), get_cell("gru").init(jax.random.key(0), F, H),
                 jnp.ones((2, 4, F)), hidden_size=H, implementation="cudnn")  # fmt: skip
    layer = LSTM(F, H, implementation="cudnn_reference", rngs=nnx.Rngs(0))
    xs = jnp.ones((2, 4, F))
    with pytest.raises(ValueError, match=r"only right padding.*rows \[1\]"):
        layer(xs, mask=np.array([[True] * 4, [True, False, True, False]]))
    with pytest.raises(ValueError, match="pass lengths"):
        jax.jit(lambda m: layer(xs, mask=m))(jnp.ones((2, 4), bool))


def test_input_errors():
    (params,) = random_layers(jax.random.key(27), 1, False)
    xs = jnp.ones((B, T, F))
    with pytest.raises(ValueError, match="implementation must be one of"):
        cudnn_lstm(params, xs, implementation="scan")
    with pytest.raises(ValueError, match=r"xs must have shape \(batch, time, 3\); got \(4, 9, 2\)"):
        cudnn_lstm(params, jnp.ones((B, T, 2)), implementation="cudnn_reference")
    with pytest.raises(ValueError, match="xs must be float32"):
        cudnn_lstm(params, xs.astype(jnp.bfloat16), implementation="cudnn_reference")
    bad = {**params, "bias": jnp.zeros((7,))}
    with pytest.raises(ValueError, match=r"params\['bias'\] must have shape \(20,\); got \(7,\)"):
        cudnn_lstm(bad, xs, implementation="cudnn_reference")
    with pytest.raises(ValueError, match=r"hidden_size must equal .* = 5; got 6"):
        cudnn_lstm(params, xs, hidden_size=6, implementation="cudnn_reference")
    with pytest.raises(ValueError, match=r"lengths must have shape \(batch,\) = \(4,\)"):
        cudnn_lstm(params, xs, lengths=jnp.ones((3,), jnp.int32), implementation="cudnn_reference")
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, T\] = \[0, 9\]"):
        cudnn_lstm(params, xs, lengths=jnp.full((B,), 10), implementation="cudnn_reference")
    with pytest.raises(
        ValueError, match=r"initial_carry must be LSTMState\(h=\(4, 5\), c=\(4, 5\)\)"
    ):
        cudnn_lstm(params, xs, initial_carry=LSTMState(jnp.zeros((4, 6)), jnp.zeros((4, 6))),
                   implementation="cudnn_reference")  # fmt: skip
    layers = random_layers(jax.random.key(28), 2, True)
    layers[1] = (layers[1][0], {**layers[1][1], "kernel": jnp.zeros((H, 4 * H))})
    with pytest.raises(
        ValueError, match=r"layers\[1\]\[1\]\['kernel'\] must have shape \(10, 20\)"
    ):
        lstm_params_to_cudnn(layers, bidirectional=True)
    with pytest.raises(ValueError, match=r"must be a \(forward, backward\) pair"):
        lstm_params_to_cudnn(random_layers(jax.random.key(29), 1, False), bidirectional=True)
    with pytest.raises(ValueError, match=r"weights must have shape \(N,\) = \(200,\)"):
        lstm_params_from_cudnn(jnp.zeros((199,)), input_size=F, hidden_size=H)
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        lstm_params_from_cudnn(jnp.zeros((200,)), input_size=F, hidden_size=H, num_layers=0)


@pytest.mark.skipif(cudnn_available(), reason="checks the error raised without a GPU")
def test_cudnn_without_gpu_raises_clear_error():
    (params,) = random_layers(jax.random.key(30), 1, False)
    with pytest.raises(
        RuntimeError, match=r"needs jax\.experimental\.rnn's cuDNN kernels on a GPU"
    ):
        cudnn_lstm(params, jnp.ones((B, T, F)))
    layer = LSTM(F, H, implementation="cudnn", rngs=nnx.Rngs(0))
    with pytest.raises(RuntimeError, match="implementation='cudnn_reference'"):
        layer(jnp.ones((B, T, F)))


@pytest.mark.skipif(not cudnn_available(), reason="needs a GPU with cuDNN RNN kernels")
@pytest.mark.parametrize(("num_layers", "bidirectional"), STACKS)
def test_cudnn_equals_reference_on_gpu(num_layers, bidirectional):
    layers = random_layers(jax.random.key(31), num_layers, bidirectional)
    states = random_states(jax.random.key(32), num_layers, bidirectional)
    xs = jax.random.normal(jax.random.key(33), (B, T, F))
    w_out = jax.random.normal(jax.random.key(34), (B, T, (2 if bidirectional else 1) * H))

    def loss(layers, xs, states, implementation):
        outputs, finals, _ = cudnn_lstm_stack(
            layers, xs, bidirectional=bidirectional, initial_carry=states, lengths=LENGTHS,
            implementation=implementation,
        )  # fmt: skip
        return jnp.sum(w_out * outputs) + sum(jnp.sum(leaf) for leaf in jax.tree.leaves(finals))

    with jax.default_matmul_precision("highest"):  # no TF32, for float32 parity
        for argnums in (None, (0, 1, 2)):
            if argnums is None:
                run = cudnn_lstm_stack
                kwargs = dict(bidirectional=bidirectional, initial_carry=states, lengths=LENGTHS)
                actual = run(layers, xs, implementation="cudnn", **kwargs)[:2]
                expected = run(layers, xs, implementation="cudnn_reference", **kwargs)[:2]
            else:
                actual = jax.grad(loss, argnums)(layers, xs, states, "cudnn")
                expected = jax.grad(loss, argnums)(layers, xs, states, "cudnn_reference")
            assert_trees_close(actual, expected, rtol=1e-5, atol=1e-5)
