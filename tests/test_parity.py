"""Parity with PyTorch and Keras on the same weights, through the committed reference fixtures.

``tests/fixtures/make_fixtures.py`` documents (and regenerates) the fixtures; neither PyTorch nor
Keras is needed here. Every case loads the peer's own weights through our converters, so these
tests cover the converters' layouts as well as the layers.
"""

from __future__ import annotations

import functools
import json
import pathlib
import re

import jax
import numpy as np
import pytest
from flax import nnx

from gru_lstm_jax.cells import GRUState, LSTMState, get_cell
from gru_lstm_jax.cells.convert import (
    gru_params_from_keras,
    gru_params_from_torch,
    gru_params_to_keras,
    gru_params_to_torch,
    lstm_params_from_keras,
    lstm_params_from_torch,
    lstm_params_to_keras,
    lstm_params_to_torch,
)
from gru_lstm_jax.nn import GRU, LSTM, Bidirectional, StackedRNN, summary

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ATOL = 1e-5

# Our kind of cell -> its layer, carry and converters (from, to).
LAYERS = {
    "lstm": LSTM,
    "gru": functools.partial(GRU, reset_after=True),
    "gru_reset_before": functools.partial(GRU, reset_after=False),
}
CARRIES = {"lstm": LSTMState, "gru": GRUState}
TORCH = {
    "lstm": (lstm_params_from_torch, lstm_params_to_torch),
    "gru": (gru_params_from_torch, gru_params_to_torch),
}
KERAS = {
    "lstm": (lstm_params_from_keras, lstm_params_to_keras),
    "gru": (functools.partial(gru_params_from_keras, reset_after=True), gru_params_to_keras),
    "gru_reset_before": (
        functools.partial(gru_params_from_keras, reset_after=False),
        gru_params_to_keras,
    ),
}
# Every fixture case and the kind of cell it holds.
TORCH_CASES = {
    "lstm": "lstm",
    "gru": "gru",
    "bilstm_packed": "lstm",
    "bigru_packed": "gru",
    "lstm2": "lstm",
    "bigru2_packed": "gru",
}
KERAS_CASES = {
    "lstm": "lstm",
    "gru": "gru",
    "gru_reset_before": "gru_reset_before",
    "bilstm_masked": "lstm",
    "bigru_reset_before_masked": "gru_reset_before",
    "lstm2": "lstm",
    "gru2": "gru",
}


@functools.cache
def fixture(peer: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{peer}_reference.npz") as data:
        return dict(data)


def case(peer: str, name: str) -> dict[str, np.ndarray]:
    """The arrays of one fixture case, keyed without the ``{name}/`` prefix."""
    prefix = f"{name}/"
    return {k.removeprefix(prefix): v for k, v in fixture(peer).items() if k.startswith(prefix)}


def keras_weights(arrays: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
    """A Keras case's ``w0, w1, ...`` split into one ``[kernel, recurrent, bias]`` per layer."""
    count = sum(re.fullmatch(r"w\d+", key) is not None for key in arrays)
    weights = [arrays[f"w{i}"] for i in range(count)]
    return [weights[i : i + 3] for i in range(0, len(weights), 3)]


def torch_suffix(layer: int, reverse: bool) -> str:
    return f"_l{layer}" + ("_reverse" if reverse else "")


def torch_directions(arrays: dict[str, np.ndarray]) -> list[tuple[int, bool]]:
    """``(layer, reverse)`` for each layer and direction in a PyTorch state dict."""
    found = (re.fullmatch(r"weight_ih_l(\d+)(_reverse)?", key) for key in arrays)
    return sorted((int(m[1]), m[2] is not None) for m in found if m)


def directions(layer):
    """The RNNs of one layer, forward first (PyTorch's and Keras's order)."""
    return [layer.forward, layer.backward] if isinstance(layer, Bidirectional) else [layer]


def rnn(kind: str, params, **options):
    """An LSTM/GRU layer sized from ``params``, with ``params`` loaded."""
    in_features, hidden = params["kernel"].shape[0], params["recurrent_kernel"].shape[0]
    layer = LAYERS[kind](in_features, hidden, rngs=nnx.Rngs(0), **options)
    layer.load_cell_params(params)
    return layer


def bidirectional(kind: str, forward_params, backward_params, **options) -> Bidirectional:
    return Bidirectional(
        rnn(kind, forward_params, **options),
        rnn(kind, backward_params, go_backwards=True, **options),
    )


def assert_close(actual, expected) -> None:
    actual = np.asarray(actual)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL)


def assert_carries(carries, arrays: dict[str, np.ndarray], suffix: str = "") -> None:
    """Compares our final carries with the peer's stacked ``h`` (and ``c``), one row each."""
    for index, carry in enumerate(carries):
        for field in carry._fields:
            assert_close(getattr(carry, field), arrays[field + suffix][index])


def test_every_fixture_case_is_tested():
    for peer, cases in (("torch", TORCH_CASES), ("keras", KERAS_CASES)):
        assert {key.split("/")[0] for key in fixture(peer) if "/" in key} == set(cases)


# PyTorch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("initial", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_layer(kind, initial):
    arrays = case("torch", kind)
    layer = rnn(kind, TORCH[kind][0](arrays), return_sequences=True, return_state=True)
    carry_type = CARRIES[kind]
    state = carry_type(*(arrays[f"{f}0"][0] for f in carry_type._fields)) if initial else None
    suffix = "_init" if initial else ""

    y, carry = layer(fixture("torch")["x"], initial_state=state)

    assert isinstance(carry, carry_type)
    assert_close(y, arrays["y" + suffix])
    assert_carries([carry], arrays, suffix)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_bidirectional_packed(kind):
    arrays = case("torch", f"bi{kind}_packed")
    from_torch = TORCH[kind][0]
    layer = bidirectional(
        kind,
        from_torch(arrays),
        from_torch(arrays, reverse=True),
        return_sequences=True,
        return_state=True,
    )

    y, carries = layer(fixture("torch")["x"], lengths=fixture("torch")["lengths"])

    assert_close(y, arrays["y"])  # zeros beyond each length in both
    assert_carries(carries, arrays)


@pytest.mark.parametrize("name", ["lstm2", "bigru2_packed"])
def test_torch_stacked(name):
    arrays = case("torch", name)
    kind = TORCH_CASES[name]
    packed = name.endswith("_packed")  # the packed stack is the bidirectional one
    x = fixture("torch")["x"]
    stack = StackedRNN(
        kind,
        x.shape[-1],
        arrays["weight_hh_l0"].shape[1],
        num_layers=2,
        bidirectional=packed,
        return_sequences=True,
        return_state=True,
        rngs=nnx.Rngs(0),
    )
    for index, layer in enumerate(stack.layers):
        for reverse, direction in enumerate(directions(layer)):
            direction.load_cell_params(TORCH[kind][0](arrays, layer=index, reverse=bool(reverse)))

    y, states = stack(x, lengths=fixture("torch")["lengths"] if packed else None)

    assert_close(y, arrays["y"])
    # PyTorch orders h as layer0-fwd, layer0-bwd, layer1-fwd, layer1-bwd.
    assert_carries([c for state in states for c in (state if packed else (state,))], arrays)


# Keras -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before"])
def test_keras_layer(kind):
    arrays = case("keras", kind)
    (weights,) = keras_weights(arrays)
    layer = rnn(kind, KERAS[kind][0](weights), return_sequences=True, return_state=True)

    y, carry = layer(fixture("keras")["x"])

    assert_close(y, arrays["y"])
    # Keras's final states are (B, H), without PyTorch's leading layer axis.
    assert_carries([carry], {k: arrays[k][None] for k in carry._fields})


@pytest.mark.parametrize("name", ["bilstm_masked", "bigru_reset_before_masked"])
def test_keras_bidirectional_masked(name):
    arrays = case("keras", name)
    kind = KERAS_CASES[name]
    forward, backward = (KERAS[kind][0](w) for w in keras_weights(arrays))
    x, mask = fixture("keras")["x"], fixture("keras")["mask"]

    y = np.asarray(bidirectional(kind, forward, backward, return_sequences=True)(x, mask=mask))
    last = bidirectional(kind, forward, backward)(x, mask=mask)

    # Keras's outputs on masked steps are not defined to be zero; ours are.
    assert_close(y[mask], arrays["y"][mask])
    assert np.all(y[~mask] == 0)
    assert_close(last, arrays["last"])


@pytest.mark.parametrize("name", ["lstm2", "gru2"])
def test_keras_stacked(name):
    arrays = case("keras", name)
    kind = KERAS_CASES[name]
    weights = keras_weights(arrays)
    x = fixture("keras")["x"]
    stack = StackedRNN(kind, x.shape[-1], weights[0][1].shape[0], len(weights), rngs=nnx.Rngs(0))
    for layer, layer_weights in zip(stack.layers, weights, strict=True):
        layer.load_cell_params(KERAS[kind][0](layer_weights))

    assert_close(stack(x), arrays["y"])


# Converters ------------------------------------------------------------------------------------


@functools.cache
def random_params(kind: str) -> dict[str, np.ndarray]:
    """Random parameters (5 inputs, 4 units) of a cell, biases non-zero too; do not mutate."""
    rng = np.random.default_rng(0)
    shapes = get_cell(kind).init(jax.random.key(0), 5, 4)
    return {k: rng.normal(size=v.shape).astype(np.float32) for k, v in shapes.items()}


def assert_same_params(actual, expected) -> None:
    assert set(actual) == set(expected)
    for name in expected:
        np.testing.assert_array_equal(np.asarray(actual[name]), expected[name], err_msg=name)


@pytest.mark.parametrize(("layer", "reverse"), [(0, False), (1, True)])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_round_trip_of_our_params(kind, layer, reverse):
    from_torch, to_torch = TORCH[kind]
    params = random_params(kind)
    state_dict = to_torch(params, layer=layer, reverse=reverse)
    suffix = torch_suffix(layer, reverse)

    assert sorted(state_dict) == sorted(
        f"{name}{suffix}" for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    if kind == "lstm":
        np.testing.assert_array_equal(state_dict[f"bias_hh{suffix}"], 0)
    assert_same_params(from_torch(state_dict, layer=layer, reverse=reverse), params)


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_reset_before"])
def test_keras_round_trip_of_our_params(kind):
    from_keras, to_keras = KERAS[kind]
    params = random_params(kind)
    assert_same_params(from_keras(to_keras(params)), params)


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_torch_fixture_weights_round_trip(name):
    arrays = case("torch", name)
    from_torch, to_torch = TORCH[TORCH_CASES[name]]
    for layer, reverse in torch_directions(arrays):
        params = from_torch(arrays, layer=layer, reverse=reverse)
        state_dict = to_torch(params, layer=layer, reverse=reverse)
        expected = {key: arrays[key] for key in state_dict}
        if TORCH_CASES[name] == "lstm":
            # PyTorch's two LSTM biases come back as their sum in bias_ih.
            ih, hh = (f"bias_{which}{torch_suffix(layer, reverse)}" for which in ("ih", "hh"))
            expected[ih], expected[hh] = arrays[ih] + arrays[hh], np.zeros_like(arrays[hh])
        assert_same_params(state_dict, expected)


@pytest.mark.parametrize("name", sorted(KERAS_CASES))
def test_keras_fixture_weights_round_trip(name):
    from_keras, to_keras = KERAS[KERAS_CASES[name]]
    for weights in keras_weights(case("keras", name)):
        round_trip = to_keras(from_keras(weights))
        assert len(round_trip) == 3
        for actual, expected in zip(round_trip, weights, strict=True):
            np.testing.assert_array_equal(actual, expected)


def test_gru_to_torch_rejects_reset_before_params():
    with pytest.raises(ValueError, match="recurrent_bias"):
        gru_params_to_torch(random_params("gru_reset_before"))


def edited(mapping, key, value=None):
    """A copy of ``mapping`` with ``key`` removed (``value`` None) or set to ``value``."""
    out = {k: v for k, v in mapping.items() if k != key}
    return out if value is None else {**out, key: value}


def lstm_state_dict():
    return lstm_params_to_torch(random_params("lstm"))


def gru_keras_weights():
    return gru_params_to_keras(random_params("gru"))


# Each bad input and a pattern that its error message must contain (the offending key).
BAD_INPUTS = {
    "torch-missing-key": (
        lambda: lstm_params_from_torch(edited(lstm_state_dict(), "bias_hh_l0")),
        "bias_hh_l0",
    ),
    "torch-missing-layer": (
        lambda: lstm_params_from_torch(lstm_state_dict(), layer=1),
        "weight_ih_l1",
    ),
    "torch-missing-direction": (
        lambda: lstm_params_from_torch(lstm_state_dict(), reverse=True),
        "weight_ih_l0_reverse",
    ),
    "torch-lstm-as-gru": (lambda: gru_params_from_torch(lstm_state_dict()), "weight_hh_l0"),
    "torch-kernel-shape": (
        lambda: lstm_params_from_torch(edited(lstm_state_dict(), "weight_ih_l0", np.zeros((9, 5)))),
        "weight_ih_l0",
    ),
    "torch-bias-shape": (
        lambda: lstm_params_from_torch(edited(lstm_state_dict(), "bias_ih_l0", np.zeros(15))),
        "bias_ih_l0",
    ),
    "to-torch-missing-bias": (
        lambda: lstm_params_to_torch(edited(random_params("lstm"), "bias")),
        "'bias'",
    ),
    "to-keras-kernel-shape": (
        lambda: lstm_params_to_keras(edited(random_params("lstm"), "kernel", np.zeros((5, 9)))),
        r"params\['kernel'\]",
    ),
    "to-keras-bias-shape": (
        lambda: gru_params_to_keras(edited(random_params("gru"), "recurrent_bias", np.zeros(3))),
        "recurrent_bias",
    ),
    "keras-weight-count": (
        lambda: lstm_params_from_keras(lstm_params_to_keras(random_params("lstm"))[:2]),
        "weights",
    ),
    "keras-gru-variant": (
        lambda: gru_params_from_keras(gru_keras_weights(), reset_after=False),
        "bias",
    ),
    "keras-kernel-shape": (
        lambda: gru_params_from_keras([np.zeros((5, 9)), *gru_keras_weights()[1:]]),
        "'kernel'",
    ),
}


@pytest.mark.parametrize(("convert", "match"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_converters_reject_bad_input_naming_the_key(convert, match):
    with pytest.raises(ValueError, match=match):
        convert()


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [("bias", None, "bias"), ("extra", np.zeros(1), "extra"), ("bias", np.zeros(3), "'bias'")],
    ids=["missing", "extra", "shape"],
)
def test_load_cell_params_rejects_bad_params_and_changes_nothing(key, value, match):
    layer = LSTM(5, 4, rngs=nnx.Rngs(0))
    before = {k: np.asarray(v) for k, v in layer.cell_params().items()}
    with pytest.raises(ValueError, match=match):
        layer.load_cell_params(edited(random_params("lstm"), key, value))
    assert_same_params(layer.cell_params(), before)


# Parameter counts ------------------------------------------------------------------------------

PARAM_COUNTS = json.loads((FIXTURES / "keras_param_counts.json").read_text())


def keras_seed_model(name: str) -> nnx.Sequential:
    """``{rnn}(64, return_sequences) -> {rnn}(32) -> Dense(1)``, each rnn maybe bidirectional."""
    layer_class = LAYERS[name.removeprefix("bi")]
    rngs = nnx.Rngs(0)

    def recurrent(in_features, hidden, **options):
        forward = layer_class(in_features, hidden, rngs=rngs, **options)
        if not name.startswith("bi"):
            return forward
        backward = layer_class(in_features, hidden, go_backwards=True, rngs=rngs, **options)
        return Bidirectional(forward, backward)

    first = recurrent(1, 64, return_sequences=True)
    second = recurrent(first.out_features, 32)
    return nnx.Sequential(first, second, nnx.Linear(second.out_features, 1, rngs=rngs))


@pytest.mark.parametrize("name", sorted(PARAM_COUNTS))
def test_parameter_counts_equal_keras(name):
    expected = PARAM_COUNTS[name]
    result = summary(keras_seed_model(name), input_shape=(50, 1))

    assert [row.params for row in result.rows] == expected["layers"]
    assert [row.output_shape for row in result.rows] == [
        tuple(shape) for shape in expected["output_shapes"]
    ]
    assert result.total_params == expected["total"]
    assert f"Total params: {expected['total']:,}" in str(result)
