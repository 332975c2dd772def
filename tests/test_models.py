"""Task heads: the forecaster, the sequence classifier and build_model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from gru_lstm_jax.models import Forecaster, SequenceClassifier, autoregressive_forecast, build_model
from gru_lstm_jax.nn import count_params, summary


def test_forecaster_is_the_seeds_model():
    model = Forecaster("lstm", 1, (64, 32), rngs=nnx.Rngs(0))
    assert count_params(model) == 29_345
    assert summary(model, (50, 1)).rows[0].output_shape == (None, 1)
    gru = Forecaster("gru", 1, (64, 32), rngs=nnx.Rngs(0))
    assert count_params(gru) == 22_305


def test_autoregressive_forecast_feeds_predictions_back(rng):
    model = Forecaster("gru", 2, (8,), out_features=2, rngs=nnx.Rngs(0))
    window = jnp.asarray(rng.normal(size=(5, 2)), jnp.float32)
    forecast = autoregressive_forecast(model, window, 4)
    current = np.asarray(window)
    for step in range(4):
        prediction = np.asarray(model(jnp.asarray(current)[None]))[0]
        np.testing.assert_allclose(forecast[step], prediction, atol=1e-5)
        current = np.concatenate([current[1:], prediction[None]])
    with pytest.raises(ValueError, match=r"window must have shape \(time, features\)"):
        autoregressive_forecast(model, window[None], 2)


def test_classifier_pooling(rng):
    xs = jnp.asarray(rng.normal(size=(3, 6, 2)), jnp.float32)
    lengths = jnp.array([6, 3, 1])
    mean = SequenceClassifier("lstm", 2, (5,), pooling="mean", bidirectional=True,
                              rngs=nnx.Rngs(0))  # fmt: skip
    outputs = np.asarray(mean.encoder(xs, lengths=lengths))
    pooled = np.stack([outputs[b, :n].mean(axis=0) for b, n in enumerate([6, 3, 1])])
    np.testing.assert_allclose(mean(xs, lengths=lengths), mean.head(jnp.asarray(pooled)), atol=1e-5)
    top = SequenceClassifier("gru", 2, (5,), pooling="max", bidirectional=True, rngs=nnx.Rngs(0))
    with_empty = jnp.array([6, 3, 0])
    outputs = np.asarray(top.encoder(xs, lengths=with_empty))
    pooled = np.stack([outputs[0].max(axis=0), outputs[1, :3].max(axis=0), np.zeros(10)])
    np.testing.assert_allclose(
        top(xs, lengths=with_empty), top.head(jnp.asarray(pooled)), atol=1e-6
    )
    grads = nnx.grad(lambda model: model(xs, lengths=with_empty).sum())(top)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(grads))
    last = SequenceClassifier("gru", 2, (5,), num_outputs=4, rngs=nnx.Rngs(0))
    assert last(xs, lengths=lengths).shape == (3, 4)
    np.testing.assert_allclose(
        last(xs, lengths=lengths), last.head(last.encoder(xs, lengths=lengths)), atol=1e-6
    )
    message = r"pooling must be one of \['last', 'mean', 'max', 'attention'\]"
    with pytest.raises(ValueError, match=message):
        SequenceClassifier("gru", 2, (5,), pooling="median", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="num_outputs must be a positive int; got 0"):
        SequenceClassifier("gru", 2, (5,), num_outputs=0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="out_features must be a positive int; got 0"):
        Forecaster("lstm", 1, (4,), out_features=0, rngs=nnx.Rngs(0))


@pytest.mark.parametrize(("cell", "chrono"), [("lstm", True), ("gru", True), ("rnn", False)])
def test_build_model_applies_chrono_init_to_gated_cells(cell, chrono):
    config = ml_collections.ConfigDict(
        {"kind": "classifier", "cell": cell, "hidden_sizes": (4,), "chrono_init": True}
    )
    model = build_model(config, 1, 1, 50, rngs=nnx.Rngs(0))
    layer = model.encoder.layers[0]
    bias = np.asarray(layer.cell_params()["bias"])
    hidden = 4
    if chrono:
        assert layer.cell.init.keywords["chrono_max_length"] == 50
        assert np.all(bias[hidden : 2 * hidden] >= 0) and np.any(bias[hidden : 2 * hidden] > 1.0)
    else:
        assert not np.any(bias)
    config.kind = "transformer"
    with pytest.raises(ValueError, match=r"config\.model\.kind must be"):
        build_model(config, 1, 1, 50, rngs=nnx.Rngs(0))
