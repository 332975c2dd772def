"""IMDB: the text pipeline, TFDS loading and caching, the text classifier, runs and predict."""

from __future__ import annotations

import importlib.util
import pathlib

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from flax import nnx

from gru_lstm_jax.configs import imdb as imdb_config
from gru_lstm_jax.data import imdb
from gru_lstm_jax.data.imdb import OOV_ID, PAD_ID, Vocabulary, encode_texts, load_imdb, tokenize
from gru_lstm_jax.models import TextClassifier
from gru_lstm_jax.nn import count_params
from gru_lstm_jax.training import load_trained, train_and_evaluate
from gru_lstm_jax.training.inference import predict_texts
from gru_lstm_jax.training.loop import evaluate

SHARED_TFDS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "tfds"


def test_tokenize_cleans_and_splits():
    text = b"This was GREAT.<br /><br />Don't miss it -- 10/10!<BR>Really"
    assert tokenize(text) == ["this", "was", "great", "don't", "miss", "it", "10", "10", "really"]
    assert tokenize("") == [] and tokenize("   \n\t ") == []
    assert tokenize(b"caf\xe9 ok \xff\xfe bad") == ["caf", "ok", "bad"]  # invalid UTF-8: no crash


def test_tokenize_keeps_unicode_letters():
    assert tokenize("Café CRÈME, naïve_fan! Ça va") == ["café", "crème", "naïve", "fan", "ça", "va"]
    assert tokenize("この映画は最高 。 Ελληνικά") == ["この映画は最高", "ελληνικά"]
    assert tokenize("Cafe\u0301") == ["café"]  # combining accent: NFC-normalised first
    assert tokenize("l'été, don't") == ["l'été", "don't"]


def test_vocabulary_ranks_by_frequency_then_alphabetically(tmp_path):
    texts = [["b", "a", "c", "b"], ["a", "b", "d"], ["e"]]
    vocabulary = Vocabulary.build(texts, vocab_size=5)
    assert vocabulary.words == ["b", "a", "c"]  # b x3, a x2, then c, d, e tie: alphabetical
    assert len(vocabulary) == 5
    assert vocabulary.encode(["a", "b", "zzz", "c"]).tolist() == [3, 2, OOV_ID, 4]
    vocabulary.save(tmp_path / "vocabulary.json")
    assert Vocabulary.load(tmp_path / "vocabulary.json").words == vocabulary.words
    with pytest.raises(ValueError, match="vocab_size must be an int >= 3"):
        Vocabulary.build(texts, vocab_size=2)


def test_bigrams_rank_after_the_words_and_mark_the_word_they_end(tmp_path):
    texts = [tokenize("not good at all"), tokenize("not good, not bad"), tokenize("good film")]
    vocabulary = Vocabulary.build(texts, vocab_size=6, bigrams=3)
    # Words: good x3, not x3, then all, at (ties alphabetical); bigrams seen twice: "not good".
    assert vocabulary.words == ["good", "not", "all", "at", "not good"] and len(vocabulary) == 7
    assert vocabulary.has_bigrams and not Vocabulary(["good", "not"]).has_bigrams
    encoded = vocabulary.encode(["not", "good", "film"])
    assert encoded.dtype == np.int32
    assert encoded.tolist() == [[3, OOV_ID], [2, 6], [OOV_ID, OOV_ID]]
    vocabulary.save(tmp_path / "vocabulary.json")
    loaded = Vocabulary.load(tmp_path / "vocabulary.json")
    assert loaded.has_bigrams and loaded.encode(["not", "good"]).tolist() == [[3, OOV_ID], [2, 6]]
    assert vocabulary.encode([]).shape == (0, 2) and Vocabulary(["a"]).encode([]).shape == (0,)
    ids, lengths = encode_texts(["Not good at all, not good", ""], vocabulary, maxlen=4)
    assert ids.shape == (2, 4, 2) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids[0], [[3, OOV_ID], [2, 6], [5, OOV_ID], [4, OOV_ID]])
    last, _ = encode_texts(["Not good at all, not good"], vocabulary, maxlen=3, keep="last")
    np.testing.assert_array_equal(last[0], [[4, OOV_ID], [3, OOV_ID], [2, 6]])
    np.testing.assert_array_equal(lengths, [4, 0])
    assert not np.any(ids[1])
    with pytest.raises(ValueError, match="bigrams must be an int >= 0"):
        Vocabulary.build(texts, vocab_size=6, bigrams=-1)


def test_encode_texts_pads_truncates_and_keeps_empty_reviews():
    vocabulary = Vocabulary(["good", "bad", "movie"])
    texts = ["good movie", "bad bad bad good movie movie", "", b"\xff\xfe", "   "]
    ids, lengths = encode_texts(texts, vocabulary, maxlen=4)
    np.testing.assert_array_equal(lengths, [2, 4, 0, 0, 0])
    np.testing.assert_array_equal(ids[0], [2, 4, PAD_ID, PAD_ID])
    np.testing.assert_array_equal(ids[1], [3, 3, 3, 2])
    assert not np.any(ids[2:])
    last, _ = encode_texts(texts[1:2], vocabulary, maxlen=4, keep="last")
    np.testing.assert_array_equal(last[0], [3, 2, 4, 4])
    assert ids.dtype == np.int32 and lengths.dtype == np.int32
    with pytest.raises(ValueError, match="keep must be 'first' or 'last'"):
        encode_texts(texts, vocabulary, maxlen=4, keep="middle")
    with pytest.raises(ValueError, match="maxlen must be an int >= 1"):
        encode_texts(texts, vocabulary, maxlen=0)


def test_load_imdb_on_mock_data_and_cache(tmp_path, monkeypatch):
    with tfds.testing.mock_data(num_examples=20):
        splits, vocabulary = load_imdb(
            jax.random.key(0), data_dir=tmp_path / "tfds", vocab_size=50, maxlen=12,
            val_fraction=0.25, cache_dir=tmp_path / "cache",
        )  # fmt: skip
    assert {k: v["inputs"].shape for k, v in splits.items()} == {
        "train": (15, 12), "val": (5, 12), "test": (20, 12),
    }  # fmt: skip
    for split in splits.values():
        assert split["inputs"].max() < len(vocabulary) <= 50
        assert set(np.unique(split["targets"])) <= {0.0, 1.0}
        beyond = np.arange(12)[None] >= split["lengths"][:, None]
        assert not np.any(split["inputs"][beyond])
    # The second call reads the cache and never the dataset.
    monkeypatch.setattr(imdb, "read_imdb_split", lambda *a: pytest.fail("dataset read again"))
    cached, cached_vocabulary = load_imdb(
        jax.random.key(0), data_dir=tmp_path / "tfds", vocab_size=50, maxlen=12,
        val_fraction=0.25, cache_dir=tmp_path / "cache",
    )  # fmt: skip
    assert cached_vocabulary.words == vocabulary.words
    for name, split in splits.items():
        for field, value in split.items():
            np.testing.assert_array_equal(cached[name][field], value)
    assert len(list((tmp_path / "cache").iterdir())) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None,
    reason="with TensorFlow installed a missing dataset is prepared, not reported",
)
def test_missing_dataset_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not prepared .* pip install -e '\.\[imdb\]'"):
        load_imdb(jax.random.key(0), data_dir=tmp_path / "empty")


@pytest.mark.skipif(not SHARED_TFDS.exists(), reason="the prepared IMDB data is not present")
def test_real_imdb_splits_are_complete_and_balanced():
    for split in ("train", "test"):
        texts, labels = imdb.read_imdb_split(SHARED_TFDS, split)
        assert len(texts) == 25_000 and labels.sum() == 12_500
        assert all(isinstance(text, bytes) for text in texts[:10])


def test_seed_model_has_keras_parameter_count():
    model = TextClassifier("lstm", 10_000, 128, (64,), dropout=0.2, recurrent_dropout=0.2,
                           rngs=nnx.Rngs(0))  # fmt: skip
    # Embedding(10000, 128) + LSTM(64) on 128 features + Dense(1), as Keras counts them.
    assert count_params(model) == 10_000 * 128 + 4 * (128 * 64 + 64 * 64 + 64) + 65


def test_text_classifier_refuses_a_zero_embed_dim_and_accepts_numpy_sizes():
    with pytest.raises(ValueError, match="embed_dim must be a positive int; got 0"):
        TextClassifier("lstm", 10, 0, (4,), rngs=nnx.Rngs(0))
    model = TextClassifier("gru", 10, np.int64(3), (np.int64(4),), rngs=nnx.Rngs(0))
    assert model(np.ones((2, 5), np.int32), lengths=np.array([5, 2])).shape == (2, 1)


def test_predictions_unchanged_by_extra_padding(rng):
    model = TextClassifier("gru", 30, 6, (5,), bidirectional=True, pooling="mean",
                           rngs=nnx.Rngs(0))  # fmt: skip
    ids = rng.integers(2, 30, size=(3, 7)).astype(np.int32)
    lengths = np.array([7, 4, 0], np.int32)
    ids[np.arange(7)[None] >= lengths[:, None]] = PAD_ID
    padded = np.concatenate([ids, np.zeros((3, 5), np.int32)], axis=1)
    np.testing.assert_allclose(
        model(ids, lengths=lengths), model(padded, lengths=lengths), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"ids must be integer token ids of shape \(batch, time\)"):
        model(ids.astype(np.float32), lengths=lengths)


def test_a_step_of_several_ids_embeds_as_the_sum_of_their_embeddings(rng):
    model = TextClassifier("gru", 30, 6, (5,), pooling="max", rngs=nnx.Rngs(0))
    ids = rng.integers(2, 30, size=(3, 7, 2)).astype(np.int32)
    lengths = np.array([7, 4, 1], np.int32)
    table = np.asarray(model.embed.embedding[...])
    summed = table[ids[..., 0]] + table[ids[..., 1]]
    np.testing.assert_allclose(
        model(ids, lengths=lengths), model.classifier(summed, lengths=lengths), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"\(batch, time\) or \(batch, time, ids per step\)"):
        model(ids[..., None], lengths=lengths)


def _phrase_reviews(data_dir, split):
    """40 reviews of repeated phrases, so that bigrams recur: ``read_imdb_split``'s result."""
    phrases = ["not good at all", "a really good film", "not bad at all", "a really bad film"]
    texts = [f"{phrases[i % 4]} {phrases[(i // 4) % 4]}" for i in range(40)]
    return texts, np.array([int("really good" in t or "not bad" in t) for t in texts], np.int64)


@pytest.mark.parametrize("variant", ["smoke", "bigrams"])
def test_imdb_smoke_run_and_predict_on_raw_text(variant, tmp_path, monkeypatch):
    # A relative workdir, as in the README's commands: Orbax needs absolute paths.
    monkeypatch.chdir(tmp_path)
    bigrams = variant == "bigrams"
    if bigrams:  # mock data's random words never repeat a bigram
        monkeypatch.setattr(imdb, "read_imdb_split", _phrase_reviews)
    config = imdb_config.shrink(imdb_config.get_config(variant))
    with tfds.testing.mock_data(num_examples=40):
        results = train_and_evaluate(config, "run")
        run, params = load_trained("run")
    assert run.splits["train"]["inputs"].shape[2:] == ((2,) if bigrams else ())
    assert run.data.has_bigrams == bigrams
    if bigrams:  # bigrams got ids of their own, and the reviews use them
        assert any(" " in word for word in run.data.words)
        assert (run.splits["train"]["inputs"][..., 1] > OOV_ID).any()
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "metrics.jsonl", "results.json", "vocabulary.json",
            "predictions.npz", "learning_curves.png", "checkpoints"} <= names  # fmt: skip
    assert 0.0 <= results["final"]["test"]["accuracy"] <= 1.0
    texts = ["A wonderful, moving film.", "Café ?", b"\xff\xfe not utf-8", "word " * 500]
    predictions = predict_texts("run", texts)
    assert [p["label"] in ("positive", "negative") for p in predictions] == [True] * 4
    for p in predictions:
        assert 0.0 <= p["probability"] <= 1.0 and 0.5 <= p["confidence"] <= 1.0
    # A bare str (or bytes) is one text, not one text per character.
    assert predict_texts("run", "great") == predict_texts(tmp_path / "run", ["great"])
    assert len(predict_texts("run", b"great")) == 1
    assert predict_texts("run", []) == []
    for bad in (["Fine.", ""], ["Fine.", "<br />"], ["Fine.", "  -- !"]):
        with pytest.raises(ValueError, match=r"texts\[1\] has no word after tokenisation"):
            predict_texts("run", bad)
    with pytest.raises(ValueError, match=r"texts\[0\] must be a str or bytes; got NoneType"):
        predict_texts("run", [None])
    assert jax.tree.leaves(params)
    # predict_texts runs the training pipeline and model: on the raw test reviews it gives the
    # test probabilities written at the end of training.
    saved = np.load(tmp_path / "run" / "predictions.npz")["test_probability"]
    with tfds.testing.mock_data(num_examples=40):
        test_texts, _ = imdb.read_imdb_split(None, "test")
    predicted = [p["probability"] for p in predict_texts(tmp_path / "run", test_texts)]
    np.testing.assert_allclose(predicted, saved, atol=1e-5)


def test_length_bucketing_trains_and_gives_the_same_evaluation(tmp_path):
    config = imdb_config.get_config("smoke")
    config.training.bucket_width = 4
    with tfds.testing.mock_data(num_examples=40):
        results = train_and_evaluate(config, tmp_path / "run")
        run, params = load_trained(tmp_path / "run")
    lengths = run.splits["test"]["lengths"]
    assert lengths.min() < config.data.maxlen - 4  # some batches really are trimmed
    assert results["steps"] == config.training.num_epochs * run.steps_per_epoch
    # Bucketed evaluation (sorted by length, trimmed) and plain evaluation (full maxlen, the
    # split's order) give the same exact means.
    for name in ("train", "val", "test"):
        bucketed = evaluate(run, params, run.splits[name])
        run.config.training.bucket_width = 0
        plain = evaluate(run, params, run.splits[name])
        run.config.training.bucket_width = 4
        assert bucketed == pytest.approx(plain, abs=1e-6)
        assert bucketed == pytest.approx(results["final"][name], abs=1e-6)
    # Predictions come back in the split's order, as without bucketing.
    bucketed = run.predict_split(params, run.splits["test"])
    run.config.training.bucket_width = 0
    np.testing.assert_allclose(bucketed, run.predict_split(params, run.splits["test"]), atol=1e-6)
