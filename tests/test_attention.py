"""Additive attention, attention pooling, the digit-reversal data and the attention seq2seq."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gru_lstm_jax.configs import seq2seq as seq2seq_config
from gru_lstm_jax.data import BOS_ID, EOS_ID, PAD_ID, make_reverse_data, reverse_vocab_size
from gru_lstm_jax.models import SequenceClassifier, TextClassifier
from gru_lstm_jax.models.seq2seq import Seq2SeqAttention
from gru_lstm_jax.nn import AdditiveAttention
from gru_lstm_jax.training import evaluate, prepare_run

B, T, DQ, DK, A = 3, 5, 4, 6, 7


@pytest.fixture
def attention():
    return AdditiveAttention(DQ, DK, A, rngs=nnx.Rngs(0))


@pytest.fixture
def inputs(rng):
    query = jnp.asarray(rng.normal(size=(B, DQ)), jnp.float32)
    keys = jnp.asarray(rng.normal(size=(B, T, DK)), jnp.float32)
    mask = jnp.arange(T)[None, :] < jnp.array([5, 2, 0])[:, None]
    return query, keys, mask


def _numpy_attention(attention, query, keys, mask):
    """vᵀ tanh(W_k k + b_k + W_q q), softmax over the valid steps, written independently."""
    w_q = np.asarray(attention.query_projection.kernel[...])
    w_k = np.asarray(attention.key_projection.kernel[...])
    b_k = np.asarray(attention.key_projection.bias[...])
    v = np.asarray(attention.score_vector[...])
    query, keys, mask = np.asarray(query), np.asarray(keys), np.asarray(mask)
    weights = np.zeros(mask.shape)
    for b in range(mask.shape[0]):
        valid = np.flatnonzero(mask[b])
        if valid.size == 0:
            continue
        scores = np.array([v @ np.tanh(keys[b, t] @ w_k + b_k + query[b] @ w_q) for t in valid])
        exp = np.exp(scores - scores.max())
        weights[b, valid] = exp / exp.sum()
    return weights


def test_weights_match_numpy_reference(attention, inputs):
    query, keys, mask = inputs
    context, weights = attention(query, keys, mask=mask)
    expected = _numpy_attention(attention, query, keys, mask)
    np.testing.assert_allclose(weights[..., 0], expected, atol=1e-5)
    np.testing.assert_allclose(
        context, np.einsum("bt,btd->bd", expected, np.asarray(keys)), atol=1e-5
    )


def test_unmasked_weights_match_numpy_reference(attention, inputs):
    query, keys, _ = inputs
    _, weights = attention(query, keys)
    expected = _numpy_attention(attention, query, keys, np.ones((B, T), bool))
    np.testing.assert_allclose(weights[..., 0], expected, atol=1e-5)


def test_weights_sum_to_one_and_are_zero_on_masked_steps(attention, inputs):
    query, keys, mask = inputs
    context, weights = attention(query, keys, mask=mask)
    weights = np.asarray(weights[..., 0])
    assert np.all(weights[~np.asarray(mask)] == 0.0)
    np.testing.assert_allclose(weights[:2].sum(axis=1), 1.0, atol=1e-6)
    # Row 2 has no valid step: zero weights and zero context, no NaN.
    assert np.all(weights[2] == 0.0)
    assert np.all(np.asarray(context[2]) == 0.0)
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(np.asarray(context)))


def test_context_is_weighted_sum_of_keys(attention, inputs):
    query, keys, mask = inputs
    context, weights = attention(query, keys, mask=mask)
    np.testing.assert_allclose(context, jnp.einsum("bt,btd->bd", weights[..., 0], keys), atol=1e-6)


def test_padding_values_do_not_matter_and_gradients_are_finite(attention, inputs):
    query, keys, mask = inputs
    garbage = jnp.where(mask[..., None], keys, 1e6)
    np.testing.assert_allclose(
        attention(query, garbage, mask=mask)[0], attention(query, keys, mask=mask)[0], atol=1e-5
    )

    def loss(query, keys):
        return jnp.sum(attention(query, keys, mask=mask)[0] ** 2)

    grads = jax.grad(loss, argnums=(0, 1))(query, garbage)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    assert np.all(np.asarray(grads[0][2]) == 0.0)


def test_projected_keys_give_the_same_result(attention, inputs):
    query, keys, mask = inputs
    expected = attention(query, keys, mask=mask)
    reused = attention(query, keys, mask=mask, projected_keys=attention.project_keys(keys))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), expected, reused)


def test_seed_shapes():
    attention = AdditiveAttention(256, 256, 128, rngs=nnx.Rngs(0))
    context, weights = attention(jnp.ones((64, 256)), jnp.ones((64, 20, 256)))
    assert context.shape == (64, 256)
    assert weights.shape == (64, 20, 1)


@pytest.mark.parametrize(
    ("query_shape", "keys_shape", "mask_shape", "name"),
    [
        ((B, DQ), (B, T), None, "keys"),
        ((B, DQ), (B, T, DK + 1), None, "keys"),
        ((B, DQ + 1), (B, T, DK), None, "query"),
        ((B + 1, DQ), (B, T, DK), None, "query"),
        ((B, DQ), (B, T, DK), (B, T + 1), "mask"),
    ],
)
def test_bad_shapes_name_the_argument(attention, query_shape, keys_shape, mask_shape, name):
    mask = None if mask_shape is None else jnp.ones(mask_shape, bool)
    with pytest.raises(ValueError, match=rf"^{name} must have shape"):
        attention(jnp.zeros(query_shape), jnp.zeros(keys_shape), mask=mask)


def test_bad_mask_dtype_and_projected_keys(attention):
    with pytest.raises(ValueError, match="mask must be boolean"):
        attention(jnp.zeros((B, DQ)), jnp.zeros((B, T, DK)), mask=jnp.ones((B, T)))
    with pytest.raises(ValueError, match="projected_keys must have shape"):
        attention(jnp.zeros((B, DQ)), jnp.zeros((B, T, DK)), projected_keys=jnp.zeros((B, T, 2)))
    with pytest.raises(ValueError, match="attention_features must be a positive int"):
        AdditiveAttention(DQ, DK, 0, rngs=nnx.Rngs(0))


def _attention_classifier(cell, bidirectional, rng, seed):
    """An attention-pooled classifier (F 2, H 5, K 3) with inputs (4, 6, 2) and their lengths."""
    model = SequenceClassifier(
        cell, 2, (5,), num_outputs=3, bidirectional=bidirectional, pooling="attention",
        rngs=nnx.Rngs(seed),
    )  # fmt: skip
    xs = jnp.asarray(rng.normal(size=(4, 6, 2)), jnp.float32)
    return model, xs, jnp.array([6, 3, 1, 4])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_attention_pooling_ignores_padding(bidirectional, rng):
    model, xs, lengths = _attention_classifier("lstm", bidirectional, rng, seed=0)
    classify = nnx.jit(lambda model, xs, lengths: model(xs, lengths=lengths))
    logits = classify(model, xs, lengths)
    assert logits.shape == (4, 3)
    padded = jnp.concatenate([xs, jnp.asarray(rng.normal(size=(4, 5, 2)), jnp.float32)], axis=1)
    np.testing.assert_allclose(classify(model, padded, lengths), logits, atol=1e-5)
    changed = xs.at[1, 3:].set(100.0)
    np.testing.assert_allclose(classify(model, changed, lengths), logits, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_attention_weights_match_numpy_and_give_the_logits(bidirectional, rng):
    model, xs, lengths = _attention_classifier("gru", bidirectional, rng, seed=1)
    weights = np.asarray(
        nnx.jit(lambda m, x, n: m.attention_weights(x, lengths=n))(model, xs, lengths)
    )
    assert weights.shape == (4, 6)
    encoded = np.asarray(model.encoder(xs, lengths=lengths))
    valid = np.arange(6)[None, :] < np.asarray(lengths)[:, None]
    query = np.broadcast_to(np.asarray(model.pooling_query[...]), (4, encoded.shape[-1]))
    np.testing.assert_allclose(
        weights, _numpy_attention(model.attention, query, encoded, valid), atol=1e-5
    )
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert not weights[~valid].any()
    context = np.einsum("bt,btd->bd", weights, encoded)
    kernel, bias = np.asarray(model.head.kernel[...]), np.asarray(model.head.bias[...])
    np.testing.assert_allclose(model(xs, lengths=lengths), context @ kernel + bias, atol=1e-5)


def test_attention_weights_need_attention_pooling():
    model = SequenceClassifier("gru", 2, (5,), pooling="max", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"attention_weights needs pooling='attention'.*'max'"):
        model.attention_weights(jnp.zeros((1, 3, 2)))


def test_text_classifier_attention_weights_are_the_classifiers_over_embeddings(rng):
    model = TextClassifier("lstm", 11, 4, (5,), pooling="attention", rngs=nnx.Rngs(0))
    ids = jnp.asarray(rng.integers(2, 11, size=(3, 7)), jnp.int32)
    lengths = jnp.array([7, 2, 5])
    ids = jnp.where(jnp.arange(7)[None, :] < lengths[:, None], ids, 0)
    expected = model.classifier.attention_weights(model.embed(ids), lengths=lengths)
    np.testing.assert_allclose(model.attention_weights(ids, lengths=lengths), expected)
    with pytest.raises(ValueError, match="ids must be integer token ids"):
        model.attention_weights(jnp.zeros((3, 7)), lengths=lengths)


def test_classifier_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="pooling must be one of"):
        SequenceClassifier("gru", 2, (5,), pooling="median", rngs=nnx.Rngs(0))


# --- data ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reverse_data():
    return make_reverse_data(
        jax.random.key(0), num_train=64, num_val=16, num_test=16, min_length=2, max_length=6
    )


def test_reverse_data_targets_are_reversed_sources(reverse_data):
    for split in reverse_data.values():
        assert split["source"].shape[1] == 6 and split["target_in"].shape[1] == 7
        assert all(array.dtype == np.int32 for array in split.values())
        for row in range(len(split["source"])):
            n = split["source_lengths"][row]
            digits = split["source"][row, :n]
            assert 2 <= n <= 6 and np.all(digits >= 3) and np.all(digits <= 12)
            assert np.all(split["source"][row, n:] == PAD_ID)
            assert split["target_lengths"][row] == n + 1
            np.testing.assert_array_equal(split["target_out"][row, :n], digits[::-1])
            assert split["target_out"][row, n] == EOS_ID
            assert np.all(split["target_out"][row, n + 1 :] == PAD_ID)
            assert split["target_in"][row, 0] == BOS_ID
            np.testing.assert_array_equal(split["target_in"][row, 1 : n + 1], digits[::-1])
            assert np.all(split["target_in"][row, n + 1 :] == PAD_ID)


def test_reverse_data_is_deterministic_and_held_out_is_disjoint(reverse_data):
    again = make_reverse_data(
        jax.random.key(0), num_train=64, num_val=16, num_test=16, min_length=2, max_length=6
    )
    jax.tree.map(np.testing.assert_array_equal, reverse_data, again)
    strings = {
        name: {row.tobytes() for row in split["source"]} for name, split in reverse_data.items()
    }
    assert len(strings["val"]) == 16 and len(strings["test"]) == 16
    assert not strings["val"] & strings["train"]
    assert not strings["test"] & (strings["train"] | strings["val"])
    assert reverse_vocab_size(10) == 13


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_train": 0}, "num_train"),
        ({"num_test": 1.5}, "num_test"),
        ({"min_length": 0}, "min_length"),
        ({"min_length": 5, "max_length": 4}, "max_length"),
        ({"num_digits": 1}, "num_digits"),
        ({"num_val": True}, "num_val"),
    ],
)
def test_reverse_data_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        make_reverse_data(jax.random.key(0), **kwargs)


def test_reverse_data_says_when_held_out_strings_run_out():
    with pytest.raises(ValueError, match="could not draw num_val"):
        make_reverse_data(
            jax.random.key(0), num_train=8, num_val=10, min_length=1, max_length=1, num_digits=2
        )


# --- seq2seq ------------------------------------------------------------------------------

VOCAB = reverse_vocab_size(10)


@nnx.jit
def _teacher_forced(model, source, source_lengths, target_in):
    return model(source, source_lengths, target_in)


@nnx.jit(static_argnums=3)
def _greedy(model, source, source_lengths, max_length):
    return model.greedy_decode(source, source_lengths, max_length)


def _small_model(cell="gru", seed=0):
    return Seq2SeqAttention(
        VOCAB, VOCAB, cell=cell, embed_dim=8, encoder_hidden=8, decoder_hidden=16,
        rngs=nnx.Rngs(seed),
    )  # fmt: skip


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_teacher_forcing_shapes_and_source_padding(cell, reverse_data):
    model = _small_model(cell)
    split = reverse_data["val"]
    logits, weights = _teacher_forced(
        model, split["source"], split["source_lengths"], split["target_in"]
    )
    assert logits.shape == (16, 7, VOCAB)
    assert weights.shape == (16, 7, 6)
    valid = np.arange(6)[None, None, :] < split["source_lengths"][:, None, None]
    assert np.all(np.asarray(weights)[~np.broadcast_to(valid, weights.shape)] == 0.0)
    np.testing.assert_allclose(np.asarray(weights).sum(axis=-1), 1.0, atol=1e-5)
    # More padding on the source changes nothing.
    padded = np.pad(split["source"], ((0, 0), (0, 3)), constant_values=PAD_ID)
    more_logits, more_weights = _teacher_forced(
        model, padded, split["source_lengths"], split["target_in"]
    )
    np.testing.assert_allclose(more_logits, logits, atol=1e-5)
    np.testing.assert_allclose(more_weights[..., :6], weights, atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_greedy_decode_equals_teacher_forcing_on_its_own_tokens(cell, reverse_data):
    model = _small_model(cell, seed=3)
    split = reverse_data["val"]
    tokens, weights = _greedy(model, split["source"], split["source_lengths"], 7)
    assert tokens.shape == (16, 7) and weights.shape == (16, 7, 6)
    tokens = np.asarray(tokens)
    target_in = np.concatenate([np.full((16, 1), BOS_ID), tokens[:, :-1]], axis=1)
    logits, forced_weights = _teacher_forced(
        model, split["source"], split["source_lengths"], target_in
    )
    predicted = np.asarray(jnp.argmax(logits, axis=-1))
    for row in range(16):
        eos = np.flatnonzero(tokens[row] == EOS_ID)
        end = eos[0] + 1 if eos.size else 7
        np.testing.assert_array_equal(predicted[row, :end], tokens[row, :end])
        np.testing.assert_allclose(forced_weights[row, :end], weights[row, :end], atol=1e-5)
        assert np.all(tokens[row, end:] == PAD_ID)


def test_bad_source_raises(reverse_data):
    model = _small_model()
    split = reverse_data["val"]
    with pytest.raises(ValueError, match="source must be integer token ids"):
        model(split["source"][0], split["source_lengths"], split["target_in"])
    with pytest.raises(ValueError, match="source must be integer token ids"):
        model(split["source"].astype(np.float32), split["source_lengths"], split["target_in"])
    with pytest.raises(ValueError, match="lengths must have shape"):
        model(split["source"], split["source_lengths"][:3], split["target_in"])
    with pytest.raises(ValueError, match="target_in must be integer token ids"):
        model(split["source"], split["source_lengths"], split["target_in"][:3])


def test_seq2seq_overfits_a_tiny_task_through_the_engine():
    config = seq2seq_config.get_config("smoke")
    config.data.update(num_train=32, num_val=4, num_test=4, min_length=2, max_length=4)
    config.model.update(embed_dim=16, encoder_hidden=16, decoder_hidden=32, attention_features=32)
    config.optimizer.update(learning_rate=1e-2, schedule="constant")
    run = prepare_run(config)
    state = run.steps.init_state()
    batch = run.splits["train"]
    losses = []
    for _ in range(100):
        state, metrics = run.steps.train_step(state, batch)
        losses.append(float(metrics["loss"]))
    assert all(np.isfinite(losses)) and losses[-1] < losses[0] / 50
    # Evaluation decodes greedily: the exact match is of the model's own outputs.
    assert evaluate(run, state.params, run.splits["train"])["exact_match"] >= 0.9


def test_experiment_smoke_run_writes_its_files(tmp_path):
    root = pathlib.Path(__file__).resolve().parents[1]
    workdir = tmp_path / "run"
    subprocess.run(
        [
            sys.executable, str(root / "experiments" / "seq2seq_attention.py"),
            f"--config={root / 'gru_lstm_jax' / 'configs' / 'seq2seq.py'}:smoke",
            f"--workdir={workdir}",
        ],
        check=True, cwd=root, capture_output=True, timeout=300,
    )  # fmt: skip
    assert {p.name for p in workdir.iterdir()} == {
        "config.json", "metrics.jsonl", "results.json", "attention_heatmaps.png", "checkpoints",
        "learning_curves.png", "predictions.npz",
    }  # fmt: skip
    results = json.loads((workdir / "results.json").read_text())
    assert results["task"] == "seq2seq" and results["metric"] == "exact_match"
    assert set(results["final"]) == {"train", "val", "test"}
    assert results["steps"] == 16 and results["wall_time_s"] > 0
    assert results["num_params"] > 0 and results["steps_per_s"] > 0
    tokens = np.load(workdir / "predictions.npz")["test_tokens"]
    assert tokens.shape == (32, 6)
