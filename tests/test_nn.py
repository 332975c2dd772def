"""The NNX layers: RNN/LSTM/GRU/SimpleRNN, dropout, Bidirectional, StackedRNN, summary, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from gru_lstm_jax.cells import Cell, GRUState, LSTMState, RNNState, get_cell
from gru_lstm_jax.nn import GRU, LSTM, RNN, Bidirectional, SimpleRNN, StackedRNN, summary
from gru_lstm_jax.recurrence import run_scan

B, T, F, H = 3, 6, 4, 5


@pytest.fixture
def xs(rng):
    return jnp.asarray(rng.normal(size=(B, T, F)), jnp.float32)


def _close(a, b, atol=1e-6):
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, atol=atol), a, b)


@pytest.mark.parametrize(
    ("layer_class", "options", "cell"),
    [
        (LSTM, {}, "lstm"),
        (GRU, {}, "gru"),
        (GRU, {"reset_after": False}, "gru_reset_before"),
        (SimpleRNN, {}, "rnn"),
    ],
)
def test_layers_run_their_cell(layer_class, options, cell, xs):
    layer = layer_class(F, H, return_sequences=True, return_state=True, rngs=nnx.Rngs(0), **options)
    assert layer.cell == get_cell(cell)
    outputs, final = layer(xs)
    ref = run_scan(get_cell(cell), layer.cell_params(), xs, hidden_size=H)
    _close((outputs, final), (ref.outputs, ref.final_carry))
    last = layer_class(F, H, rngs=nnx.Rngs(0), **options)(xs)
    _close(last, outputs[:, -1])


def test_return_options_and_lengths(xs):
    lengths = jnp.array([6, 3, 1])
    layer = LSTM(F, H, return_state=True, rngs=nnx.Rngs(1))
    last, final = layer(xs, lengths=lengths)
    assert isinstance(final, LSTMState)
    _close(last, final.h)
    backward = LSTM(F, H, return_sequences=True, go_backwards=True, rngs=nnx.Rngs(1))
    outputs = backward(xs, lengths=lengths)
    ref = run_scan(
        layer.cell, layer.cell_params(), xs, hidden_size=H, lengths=lengths, reverse=True
    )
    _close(outputs, ref.outputs)
    backward_last = LSTM(F, H, go_backwards=True, rngs=nnx.Rngs(1))(xs, lengths=lengths)
    _close(backward_last, outputs[:, 0])


def test_initial_state_and_unbatched(xs, rng):
    layer = GRU(F, H, return_sequences=True, return_state=True, rngs=nnx.Rngs(2))
    h0 = jnp.asarray(rng.normal(size=(B, H)), jnp.float32)
    with pytest.raises(ValueError, match=r"initial_carry must be GRUState\(h=\(3, 5\)\)"):
        layer(xs, initial_state=RNNState(h0))
    outputs, final = layer(xs, initial_state=GRUState(h0))
    ref = run_scan(layer.cell, layer.cell_params(), xs, initial_carry=GRUState(h0))
    _close((outputs, final), (ref.outputs, ref.final_carry))
    single, single_final = layer(xs[1], initial_state=GRUState(h0[1]), lengths=jnp.array(4))
    batched, batched_final = layer(xs, initial_state=GRUState(h0), lengths=jnp.array([6, 4, 2]))
    _close((single, single_final), (batched[1], jax.tree.map(lambda a: a[1], batched_final)))


def test_layer_gradients(xs):
    layer = LSTM(F, H, return_sequences=True, rngs=nnx.Rngs(3))
    graphdef, params = nnx.split(layer, nnx.Param)
    lengths = jnp.array([6, 2, 4])

    @jax.jit
    def loss(params, xs):
        return jnp.sum(jnp.tanh(nnx.merge(graphdef, params)(xs[:, :4], lengths=lengths - 2)))

    check_grads(loss, (params, xs), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


def test_jitted_call_does_not_retrace(xs):
    model = Bidirectional(
        GRU(F, H, return_sequences=True, recurrent_dropout=0.2, rngs=nnx.Rngs(0, dropout=1)),
        GRU(F, H, return_sequences=True, go_backwards=True, rngs=nnx.Rngs(2)),
    )
    traces = []

    @nnx.jit
    def apply(model, xs, lengths):
        traces.append(None)
        return model(xs, lengths=lengths)

    first = apply(model, xs, jnp.array([6, 1, 3]))
    second = apply(model, xs, jnp.array([2, 5, 3]))
    assert len(traces) == 1
    # The dropout stream advanced, so the two calls drew different masks.
    assert not np.allclose(first[2], second[2])


def _identity_cell():
    """A cell whose output is its (possibly dropped) input: shows the input dropout mask."""

    def init(key, input_size, hidden_size):
        return {}

    def initial_carry(batch_shape, hidden_size):
        return RNNState(jnp.ones((*batch_shape, hidden_size)))

    def project(params, xs):
        return xs

    def update(params, carry, xp_t, hp_t):
        # The output is the h this step received: with recurrent dropout, the mask times 1.
        return RNNState(jnp.ones_like(carry.h)), jnp.concatenate([xp_t, carry.h], axis=-1)

    return Cell("identity", init, initial_carry, project, update)


def test_dropout_masks_are_per_sequence_and_constant_over_time():
    batch, time, features, hidden = 16, 9, 32, 32
    layer = RNN(
        _identity_cell(), features, hidden, return_sequences=True, dropout=0.5,
        recurrent_dropout=0.25, rngs=nnx.Rngs(0),
    )  # fmt: skip
    outputs = np.asarray(layer(jnp.ones((batch, time, features))))
    inputs, recurrent = outputs[..., :features], outputs[..., features:]
    for dropped, rate in ((inputs, 0.5), (recurrent, 0.25)):
        # Inverted dropout: kept units are scaled by 1 / (1 - rate), dropped units are zero.
        assert set(np.unique(dropped)) == {0.0, np.float32(1.0 / (1.0 - rate))}
        np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))
        assert len({row.tobytes() for row in dropped[:, 0]}) == batch
        assert abs((dropped == 0).mean() - rate) < 0.08
    layer.eval()
    np.testing.assert_array_equal(layer(jnp.ones((batch, time, features))), 1.0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_recurrent_dropout_drops_h_in_the_product_and_never_compounds(reset_after):
    # An update gate near 1 carries h through z * h: a mask on the carried h (kept units times
    # 1 / (1 - rate) at every step) would grow it geometrically; on h @ U it cannot.
    layer = GRU(4, 8, reset_after=reset_after, return_sequences=True, recurrent_dropout=0.5,
                rngs=nnx.Rngs(0, dropout=1))  # fmt: skip
    params = layer.cell_params()
    params["bias"] = params["bias"].at[8:16].set(4.0)  # z = σ(4) ≈ 0.98
    layer.load_cell_params(params)
    xs = jax.random.normal(jax.random.key(2), (3, 300, 4))
    assert np.all(np.abs(np.asarray(layer(xs))) <= 1.0)
    # Against NumPy (Keras's GRU): the mask multiplies h in h @ U, not in z * h.
    keep = np.where(np.random.default_rng(0).random((3, 8)) < 0.5, 0.0, 2.0).astype(np.float32)
    outputs = run_scan(
        layer.cell, params, xs[:, :20], hidden_size=8, recurrent_mask=jnp.asarray(keep)
    ).outputs
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    W, U, h = p["kernel"], p["recurrent_kernel"], np.zeros((3, 8))
    for t in range(20):
        x, hm = np.asarray(xs[:, t], np.float64), h * keep
        if reset_after:
            xi = x @ W + p["bias"]
            hh = hm @ U + p["recurrent_bias"]
            r, z = (1 / (1 + np.exp(-(xi[:, k] + hh[:, k]))) for k in (slice(0, 8), slice(8, 16)))
            n = np.tanh(xi[:, 16:] + r * hh[:, 16:])
        else:  # Cho's staged product (r * h) @ U_n reads the undropped h
            xi = x @ W + p["bias"]
            r, z = (
                1 / (1 + np.exp(-(xi[:, k] + hm @ U[:, k]))) for k in (slice(0, 8), slice(8, 16))
            )
            n = np.tanh(xi[:, 16:] + (r * h) @ U[:, 16:])
        h = (1 - z) * n + z * h
        np.testing.assert_allclose(outputs[:, t], h, atol=2e-5)


def test_dropout_is_off_in_eval_and_random_in_train(xs):
    plain = LSTM(F, H, return_sequences=True, rngs=nnx.Rngs(0))
    dropped = LSTM(
        F, H, return_sequences=True, dropout=0.3, recurrent_dropout=0.3,
        rngs=nnx.Rngs(0, dropout=5),
    )  # fmt: skip
    dropped.load_cell_params(plain.cell_params())
    first, second = dropped(xs), dropped(xs)
    assert not np.allclose(first, plain(xs)) and not np.allclose(first, second)
    dropped.eval()
    _close(dropped(xs), plain(xs))
    dropped.train()
    assert not np.allclose(dropped(xs), plain(xs))


def _bidirectional(layer_class, merge="concat", return_sequences=True, **options):
    return Bidirectional(
        layer_class(F, H, return_sequences=return_sequences, rngs=nnx.Rngs(0), **options),
        layer_class(
            F, H, return_sequences=return_sequences, go_backwards=True, rngs=nnx.Rngs(1), **options
        ),
        merge=merge,
    )


@pytest.mark.parametrize(
    ("merge", "combine"),
    [
        ("concat", lambda f, b: np.concatenate([f, b], -1)),
        ("sum", np.add),
        ("mul", np.multiply),
        ("ave", lambda f, b: (f + b) / 2),
    ],
)
def test_bidirectional_merges_forward_and_backward(merge, combine, xs):
    lengths = jnp.array([6, 4, 0])
    bi = _bidirectional(LSTM, merge)
    forward = bi.forward(xs, lengths=lengths)
    backward = bi.backward(xs, lengths=lengths)
    _close(bi(xs, lengths=lengths), combine(np.asarray(forward), np.asarray(backward)))
    # The backward direction reverses each sequence within its own length.
    for b, length in enumerate([6, 4, 0]):
        ref = run_scan(
            bi.backward.cell, bi.backward.cell_params(), xs[b, :length][::-1], hidden_size=H
        )
        _close(backward[b, :length], ref.outputs[::-1])
        assert not np.any(backward[b, length:])
    assert bi.out_features == (2 * H if merge == "concat" else H)


def test_bidirectional_last_output_and_state(xs):
    lengths = jnp.array([6, 4, 1])
    seq = _bidirectional(GRU)
    last = _bidirectional(GRU, return_sequences=False, return_state=True)
    outputs = seq(xs, lengths=lengths)
    merged, (fwd_state, bwd_state) = last(xs, lengths=lengths)
    expected = np.concatenate(
        [np.asarray(outputs)[np.arange(B), np.asarray(lengths) - 1, :H], outputs[:, 0, H:]], -1
    )
    _close(merged, expected)
    _close(fwd_state.h, merged[:, :H])
    _close(bwd_state.h, merged[:, H:])


def test_stacked_equals_chained_layers(xs):
    lengths = jnp.array([6, 3, 5])
    stack = StackedRNN(
        "lstm", F, [H, 7], bidirectional=True, return_sequences=True, return_state=True,
        rngs=nnx.Rngs(0),
    )  # fmt: skip
    outputs, states = stack(xs, lengths=lengths)
    first = stack.layers[0](xs, lengths=lengths)
    second = stack.layers[1](first[0], lengths=lengths)
    _close((outputs, states), (second[0], (first[1], second[1])))
    assert outputs.shape == (B, T, 14) and stack.out_features == 14
    one_direction = StackedRNN("gru_reset_before", F, H, num_layers=3, rngs=nnx.Rngs(0))
    assert len(one_direction.layers) == 3 and one_direction(xs).shape == (B, H)
    assert one_direction.layers[0].cell.name == "gru_reset_before"


def test_stacked_layer_dropout_only_between_layers(xs):
    stack = StackedRNN("gru", F, H, num_layers=2, layer_dropout=0.5, rngs=nnx.Rngs(0, dropout=1))
    stack.eval()
    evaluated = stack(xs)
    _close(evaluated, stack.layers[1](stack.layers[0](xs)))
    stack.train()
    assert not np.allclose(stack(xs), evaluated)


def test_summary_table():
    rngs = nnx.Rngs(0)
    model = nnx.Sequential(
        LSTM(1, 64, return_sequences=True, rngs=rngs),
        LSTM(64, 32, dropout=0.2, recurrent_dropout=0.2, rngs=rngs),
        nnx.Linear(32, 1, rngs=rngs),
    )
    table = summary(model, (50, 1))
    assert [row.name for row in table.rows] == ["lstm", "lstm_1", "linear"]
    assert [row.output_shape for row in table.rows] == [(None, 50, 64), (None, 32), (None, 1)]
    assert table.total_params == sum(row.params for row in table.rows)
    assert "Total params: 29,345" in str(table)
    single = summary(GRU(3, 8, return_sequences=True, rngs=rngs), [10, 3])
    assert single.rows[0].output_shape == (None, 10, 8) and single.total_params == 3 * (
        3 * 8 + 8 * 8 + 2 * 8
    )
    with pytest.raises(ValueError, match="input_shape must be"):
        summary(model, (50, 0))
    # A wrong input shape names the layer that refuses it.
    with pytest.raises(ValueError, match=r"layer 'lstm' \(LSTM\) does not take .*\(None, 50, 3\)"):
        summary(model, (50, 3))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: LSTM(F, 0, rngs=nnx.Rngs(0)), "hidden_size must be a positive int; got 0"),
        (lambda: LSTM(F, H, unroll=0, rngs=nnx.Rngs(0)), "unroll must be a positive int; got 0"),
        (lambda: GRU(F, -3, rngs=nnx.Rngs(0)), "hidden_size must be a positive int; got -3"),
        (lambda: LSTM(0, H, rngs=nnx.Rngs(0)), "in_features must be a positive int"),
        (lambda: RNN("lsmt", F, H, rngs=nnx.Rngs(0)), "registered names"),
        (lambda: LSTM(F, H, dropout=1.0, rngs=nnx.Rngs(0)), r"dropout must be .* \[0, 1\)"),
        (lambda: _bidirectional(LSTM, merge="max"), r"merge must be one of \['concat'"),
        (
            lambda: Bidirectional(LSTM(F, H, rngs=nnx.Rngs(0)), LSTM(F, H, rngs=nnx.Rngs(0))),
            "backward.go_backwards=True",
        ),
        (
            lambda: Bidirectional(
                LSTM(F, H, rngs=nnx.Rngs(0)), LSTM(F, H + 1, go_backwards=True, rngs=nnx.Rngs(0))
            ),
            "the same hidden_size",
        ),
        (
            lambda: RNN(
                Cell("no_h", lambda k, i, h: {}, lambda b, h: jnp.zeros((*b, h)), lambda p, x: x,
                     lambda p, c, x, hp: (c, c)),
                F, H, recurrent_dropout=0.1, rngs=nnx.Rngs(0),
            ),
            "the carry must be a NamedTuple with an 'h' field",
        ),
        (lambda: StackedRNN("lstm", F, H, num_layers=0, rngs=nnx.Rngs(0)), "num_layers"),
        (lambda: StackedRNN("lstm", F, [H, 0], rngs=nnx.Rngs(0)), r"hidden_size\[1\]"),
        (lambda: StackedRNN("lstm", F, [H], num_layers=2, rngs=nnx.Rngs(0)), "num_layers ints"),
        (
            lambda: StackedRNN("lstm", F, H, go_backwards=True, rngs=nnx.Rngs(0)),
            "go_backwards is set by StackedRNN",
        ),
    ],
)  # fmt: skip
def test_bad_construction_raises_clear_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, x: m(x[..., :3]), r"xs must have shape \(batch, time, 4\) or \(time, 4\)"),
        (lambda m, x: m(x[0, 0]), r"got \(4,\)"),
        (lambda m, x: m(x, lengths=jnp.array([1, 2, 9])), r"lengths must lie in \[0, T\]"),
        (lambda m, x: m(x, lengths=jnp.array([[1, 2, 3]])), r"lengths must have shape \(batch,\)"),
        (lambda m, x: m(x, mask=jnp.ones((B, 2), bool)), r"mask must be .* \(batch, time\)"),
        (lambda m, x: m(x[0], lengths=jnp.array([1])), "lengths must be a scalar"),
        (lambda m, x: m(x[0], mask=jnp.ones((T + 1,), bool)), r"mask must have shape \(time,\)"),
    ],
)  # fmt: skip
def test_bad_call_raises_clear_errors(call, match, xs):
    with pytest.raises(ValueError, match=match):
        call(LSTM(F, H, rngs=nnx.Rngs(0)), xs)


def test_bad_bidirectional_state_and_params(xs):
    with pytest.raises(ValueError, match=r"initial_state must be a pair"):
        _bidirectional(LSTM)(xs, initial_state=LSTMState(jnp.zeros((B, H)), jnp.zeros((B, H))))
    layer = LSTM(F, H, rngs=nnx.Rngs(0))
    params = layer.cell_params()
    with pytest.raises(ValueError, match=r"missing \['bias', 'recurrent_kernel'\], extra \[\]"):
        layer.load_cell_params({"kernel": params["kernel"]})
    with pytest.raises(ValueError, match=r"params\['kernel'\] must have shape \(4, 20\)"):
        layer.load_cell_params({**params, "kernel": jnp.zeros((5, 20))})
    np.testing.assert_array_equal(layer.cell_params()["kernel"], params["kernel"])


@pytest.mark.parametrize("implementation", ["fused", "scan"])
def test_resets_make_episodes_independent_in_every_layer(implementation):
    """A stacked bidirectional GRU over two episodes equals the stack on each episode alone."""
    batch, time, boundary = 3, 8, 5
    xs = jax.random.normal(jax.random.key(1), (batch, time, F))
    stack = StackedRNN(
        "gru", F, H, num_layers=2, bidirectional=True, return_sequences=True,
        implementation=implementation, rngs=nnx.Rngs(0),
    )  # fmt: skip
    resets = jnp.zeros((batch, time), bool).at[:, boundary].set(True)
    together = stack(xs, resets=resets)
    apart = jnp.concatenate([stack(xs[:, :boundary]), stack(xs[:, boundary:])], axis=1)
    np.testing.assert_allclose(together, apart, atol=1e-5)
    # Unbatched input takes (T,) resets.
    np.testing.assert_allclose(stack(xs[0], resets=resets[0]), together[0], atol=1e-5)
    layer = RNN("lstm", F, H, implementation=implementation, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="resets must have shape"):
        layer(xs[0], resets=resets)
    with pytest.raises(ValueError, match="implementation must be one of"):
        RNN("lstm", F, H, implementation="reference", rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: GRU(F, H, reset_after="false", rngs=nnx.Rngs(0)), "reset_after"),
        (lambda: RNN("gru", F, H, reset_after=0, rngs=nnx.Rngs(0)), "reset_after"),
        (lambda: LSTM(F, H, go_backwards="false", rngs=nnx.Rngs(0)), "go_backwards"),
        (lambda: LSTM(F, H, return_sequences="no", rngs=nnx.Rngs(0)), "return_sequences"),
        (lambda: LSTM(F, H, return_state=1, rngs=nnx.Rngs(0)), "return_state"),
        (lambda: LSTM(F, H, remat="yes", rngs=nnx.Rngs(0)), "remat"),
        (lambda: StackedRNN("lstm", F, H, bidirectional="false", rngs=nnx.Rngs(0)),
         "bidirectional"),
    ],
)  # fmt: skip
def test_boolean_options_refuse_non_bools(build, name):
    with pytest.raises(TypeError, match=rf"{name} must be a bool \(True or False\); got"):
        build()


def test_numpy_integer_sizes_are_accepted():
    layer = StackedRNN("gru", np.int64(F), np.int64(H), num_layers=np.int32(2), rngs=nnx.Rngs(0))
    assert layer(jnp.zeros((B, T, F))).shape == (B, H)
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got True"):
        LSTM(F, True, rngs=nnx.Rngs(0))
    layer = LSTM(F, H, dropout=np.float32(0.1), return_sequences=True, rngs=nnx.Rngs(0))
    table = summary(layer, (np.int64(T), np.int64(F)))
    assert table.rows[0].output_shape == (None, T, H)
