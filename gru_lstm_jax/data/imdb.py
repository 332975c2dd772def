"""IMDB movie-review sentiment (Maas et al. 2011) from tensorflow-datasets, as padded token ids.

The reviews come from TFDS's ``imdb_reviews`` (``plain_text``), read with ``tfds.data_source``
from its ``array_record`` files, so TensorFlow is not needed to read them. The text pipeline:

1. :func:`clean_text`: decode UTF-8 (invalid bytes become U+FFFD), lowercase, and replace the
   ``<br />`` line breaks left in the reviews by spaces.
2. :func:`tokenize`: words of Unicode letters and digits (``café``, ``映画``), with an inner
   apostrophe kept (``don't``).
3. :class:`Vocabulary`: the ``vocab_size`` most frequent training words (ties in alphabetical
   order), with ``PAD = 0`` and ``OOV = 1``, and optionally the ``bigrams`` most frequent
   training bigrams (pairs of adjacent words) after them.
4. :func:`encode_texts`: token ids right-padded (or truncated) to ``maxlen``, with the lengths,
   so that the models mask the padding. With bigrams every step holds two ids: its word and the
   bigram that the word ends (``OOV`` where that bigram is not in the vocabulary, and at the
   first word), as the bigram features of NBSVM (Wang & Manning 2012) and fastText (Joulin et
   al. 2017) in a model that reads the words in order.

Reference: Maas, Daly, Pham, Huang, Ng & Potts (2011), "Learning Word Vectors for Sentiment
Analysis", ACL.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
import pathlib
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import numpy as np

from gru_lstm_jax.checks import check_int, check_real

__all__ = [
    "OOV_ID",
    "PAD_ID",
    "Vocabulary",
    "clean_text",
    "encode_texts",
    "imdb_is_prepared",
    "load_imdb",
    "read_imdb_split",
    "tokenize",
]

PAD_ID = 0
OOV_ID = 1
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Runs of Unicode letters and digits (``\w`` without ``_``), with an inner apostrophe followed
# by letters kept: ``don't``, ``café``, ``映画``.
_WORD = re.compile(r"[^\W_]+(?:'[^\W\d_]+)?")
# 2: the tokenizer keeps non-ASCII letters (version 1 dropped them).
_CACHE_VERSION = 2


def clean_text(text: bytes | str) -> str:
    """Decodes (UTF-8, invalid bytes replaced), NFC-normalises, lowercases, removes ``<br />``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return unicodedata.normalize("NFC", _BREAK.sub(" ", text)).lower()


def tokenize(text: bytes | str) -> list[str]:
    """Splits a review into lowercase words: ``"Don't <br />stop!" -> ["don't", "stop"]``.

    Words are runs of Unicode letters and digits (``"Café"`` -> ``["café"]``); punctuation,
    ``_`` and symbols separate them.
    """
    return _WORD.findall(clean_text(text))


def _ranked(counts: collections.Counter, size: int) -> list[str]:
    """The ``size`` most frequent keys of ``counts``, ties broken alphabetically."""
    return [key for key, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size]]


class Vocabulary:
    """Ids: ``PAD = 0``, ``OOV = 1``, the words, then the bigrams, each most frequent first.

    A bigram is written as its two words joined by a space, which no word holds.

    Attributes:
        words: the words and bigrams with ids ``2, 3, ...`` in order.
        has_bigrams: whether :meth:`encode` gives a bigram id beside every word id (even when
            no bigram was frequent enough to get an id of its own).
    """

    def __init__(self, words: Sequence[str], *, has_bigrams: bool = False):
        """Makes a vocabulary whose entry ``words[i]`` (a word, or a bigram) has id ``i + 2``."""
        if len(set(words)) != len(words):
            raise ValueError("words must not repeat")
        self.words = list(words)
        self._ids = {word: index + 2 for index, word in enumerate(self.words)}
        self.has_bigrams = bool(has_bigrams)

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], vocab_size: int, bigrams: int = 0
    ) -> Vocabulary:
        """The vocabulary of ``vocab_size`` word ids (PAD and OOV included) and ``bigrams``.

        Args:
            token_lists: the training texts, tokenized.
            vocab_size: the number of word ids, at least 3; the ``vocab_size - 2`` most
                frequent words get one each, ties broken alphabetically so the result is
                deterministic.
            bigrams: the number of bigram ids after them, for the most frequent bigrams of
                adjacent words (ties alphabetically), among those seen at least twice; 0 for
                none.

        Returns:
            The vocabulary.
        """
        check_int(vocab_size, "vocab_size", minimum=3)
        check_int(bigrams, "bigrams", minimum=0)
        words, pairs = collections.Counter(), collections.Counter()
        for tokens in token_lists:
            words.update(tokens)
            if bigrams:
                pairs.update(f"{a} {b}" for a, b in itertools.pairwise(tokens))
        repeated = collections.Counter({pair: n for pair, n in pairs.items() if n > 1})
        ranked = _ranked(words, vocab_size - 2) + _ranked(repeated, bigrams)
        return cls(ranked, has_bigrams=bigrams > 0)

    def __len__(self) -> int:
        """The number of ids, PAD and OOV included."""
        return len(self.words) + 2

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Maps words to ids, unknown words to ``OOV_ID``.

        Returns:
            int32 ids ``(T,)``, one per word; with bigrams ``(T, 2)``, the word's id and the id
            of the bigram it ends (``OOV_ID`` if unknown, and for the first word).
        """
        ids = [self._ids.get(word, OOV_ID) for word in tokens]
        if not self.has_bigrams:
            return np.asarray(ids, np.int32)
        ends = [OOV_ID] + [self._ids.get(f"{a} {b}", OOV_ID) for a, b in itertools.pairwise(tokens)]
        return np.stack([ids, ends[: len(ids)]], axis=-1).astype(np.int32)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the vocabulary as JSON (``{"pad_id", "oov_id", "words", "bigrams"}``)."""
        payload = {
            "pad_id": PAD_ID, "oov_id": OOV_ID, "words": self.words, "bigrams": self.has_bigrams,
        }  # fmt: skip
        pathlib.Path(path).write_text(json.dumps(payload, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Reads a vocabulary written by :meth:`save`."""
        saved = json.loads(pathlib.Path(path).read_text())
        return cls(saved["words"], has_bigrams=saved.get("bigrams", False))


def encode_texts(
    texts: Iterable[bytes | str], vocabulary: Vocabulary, maxlen: int, *, keep: str = "first"
) -> tuple[np.ndarray, np.ndarray]:
    """Tokenizes, encodes and right-pads texts to ``maxlen`` ids.

    Args:
        texts: the reviews.
        vocabulary: the word ids.
        maxlen: the number of ids per review ``T``; longer reviews are cut.
        keep: ``"first"`` keeps the first ``maxlen`` words of a long review, ``"last"`` the
            last ones (as Keras's ``pad_sequences`` default).

    Returns:
        ``(ids (N, T) int32, lengths (N,) int32)``, or ids ``(N, T, 2)`` (word, bigram) for a
        vocabulary with bigrams; ids beyond each length are ``PAD_ID``. An empty review has
        length 0.
    """
    check_int(maxlen, "maxlen", minimum=1)
    if keep not in ("first", "last"):
        raise ValueError(f"keep must be 'first' or 'last'; got {keep!r}")
    rows = [vocabulary.encode(tokenize(text)) for text in texts]
    per_step = (2,) if vocabulary.has_bigrams else ()
    ids = np.full((len(rows), maxlen, *per_step), PAD_ID, np.int32)
    lengths = np.zeros(len(rows), np.int32)
    for index, row in enumerate(rows):
        row = row[:maxlen] if keep == "first" else row[max(len(row) - maxlen, 0) :]
        ids[index, : len(row)] = row
        lengths[index] = len(row)
    return ids, lengths


def imdb_is_prepared(data_dir: str | os.PathLike | None) -> bool:
    """Whether ``imdb_reviews`` is prepared in the TFDS data directory ``data_dir``.

    Args:
        data_dir: the TFDS data directory (``None``: TFDS's default, ``~/tensorflow_datasets``).

    Returns:
        True when both splits can be read without preparing the dataset.
    """
    import tensorflow_datasets as tfds

    return tfds.builder("imdb_reviews", data_dir=data_dir).is_prepared()


def read_imdb_split(data_dir: str | os.PathLike | None, split: str) -> tuple[list, np.ndarray]:
    """Reads every review and label of one split of the prepared ``imdb_reviews`` dataset.

    If the dataset is not prepared in ``data_dir``, it is prepared when TensorFlow can be
    imported (``download_and_prepare`` with ``file_format="array_record"``, which needs the
    internet); otherwise a ``FileNotFoundError`` says how to get it.

    Args:
        data_dir: the TFDS data directory (``None``: TFDS's default, ``~/tensorflow_datasets``).
        split: ``"train"`` or ``"test"``.

    Returns:
        ``(texts, labels)``: the reviews (bytes or str) and ``(N,)`` int64 labels, 1 positive.
    """
    import tensorflow_datasets as tfds

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    try:
        source = tfds.data_source("imdb_reviews", data_dir=data_dir, download=False, split=split)
    except (NotImplementedError, FileNotFoundError):
        # TFDS reports a dataset that was never prepared as one in an unreadable format.
        if tfds.builder("imdb_reviews", data_dir=data_dir).is_prepared():
            raise
        _prepare_or_explain(data_dir)
        source = tfds.data_source("imdb_reviews", data_dir=data_dir, download=False, split=split)
    records = [source[index] for index in range(len(source))]
    return [r["text"] for r in records], np.array([int(r["label"]) for r in records], np.int64)


def _prepare_or_explain(data_dir: Any) -> None:
    import tensorflow_datasets as tfds

    try:
        import tensorflow  # noqa: F401  (only the one-time preparation needs TensorFlow)
    except ImportError:
        raise FileNotFoundError(
            f"the imdb_reviews dataset is not prepared in data_dir={str(data_dir)!r}. "
            "Point data.data_dir at a prepared copy (in this project: ../shared/data/tfds), or "
            "prepare it once, which needs TensorFlow and the internet: "
            "pip install -e '.[imdb]' && python -c \"import tensorflow_datasets as tfds; "
            "tfds.builder('imdb_reviews', data_dir=DATA_DIR)"
            ".download_and_prepare(file_format='array_record')\""
        ) from None
    builder = tfds.builder("imdb_reviews", data_dir=data_dir, file_format="array_record")
    builder.download_and_prepare()


def load_imdb(
    key: jax.Array,
    *,
    data_dir: str | os.PathLike | None = None,
    vocab_size: int = 10_000,
    bigrams: int = 0,
    maxlen: int = 200,
    val_fraction: float = 0.2,
    keep: str = "first",
    cache_dir: str | os.PathLike | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], Vocabulary]:
    """IMDB as padded token ids: train and validation from TFDS's train split, and test.

    The validation split is a random ``val_fraction`` of the training reviews drawn from
    ``key``; the vocabulary is built from the remaining training reviews only. With a
    ``cache_dir`` the encoded arrays and the vocabulary are stored there, keyed by every
    argument, so that a second call starts in seconds.

    Args:
        key: a PRNG key for the validation split.
        data_dir: the TFDS data directory holding ``imdb_reviews``.
        vocab_size: word ids in the vocabulary, PAD and OOV included.
        bigrams: bigram ids after them (see :meth:`Vocabulary.build`); with any, every step of
            ``inputs`` holds a word id and a bigram id.
        maxlen: ids per review.
        val_fraction: the fraction of training reviews held out for validation.
        keep: which words of a long review to keep, ``"first"`` or ``"last"``.
        cache_dir: where to cache the encoded arrays, or ``None``.

    Returns:
        ``(splits, vocabulary)``; each split is ``{"inputs": (N, maxlen) int32 (or
        (N, maxlen, 2) with bigrams), "lengths": (N,) int32, "targets": (N, 1) float32}``.
    """
    check_int(vocab_size, "vocab_size", minimum=3)
    check_int(bigrams, "bigrams", minimum=0)
    check_int(maxlen, "maxlen", minimum=1)
    check_real(val_fraction, "val_fraction", "a fraction in (0, 1)", lambda v: 0 < v < 1)
    settings = {
        "version": _CACHE_VERSION,
        "data_dir": str(pathlib.Path(data_dir).absolute()) if data_dir else None,
        "vocab_size": vocab_size,
        # Only when set, so that the caches made before bigrams existed stay valid.
        **({"bigrams": bigrams} if bigrams else {}),
        "maxlen": maxlen,
        "val_fraction": val_fraction,
        "keep": keep,
        "key": np.asarray(jax.random.key_data(key)).tolist(),
    }
    cache = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        cache = pathlib.Path(cache_dir).expanduser() / f"imdb-{digest}"
        if (cache / "arrays.npz").exists():
            with np.load(cache / "arrays.npz") as arrays:
                splits = _unflatten(dict(arrays))
            return splits, Vocabulary.load(cache / "vocabulary.json")

    train_texts, train_labels = read_imdb_split(data_dir, "train")
    test_texts, test_labels = read_imdb_split(data_dir, "test")
    num_val = round(len(train_texts) * val_fraction)
    if not 0 < num_val < len(train_texts):
        raise ValueError(
            f"val_fraction={val_fraction} leaves {num_val} of {len(train_texts)} training "
            "reviews for validation; both parts must be non-empty"
        )
    order = np.asarray(jax.random.permutation(key, len(train_texts)))
    val_rows, train_rows = np.sort(order[:num_val]), np.sort(order[num_val:])
    train_tokens = (tokenize(train_texts[i]) for i in train_rows)
    vocabulary = Vocabulary.build(train_tokens, vocab_size, bigrams)

    def split(texts: Sequence, labels: np.ndarray) -> dict[str, np.ndarray]:
        inputs, lengths = encode_texts(texts, vocabulary, maxlen, keep=keep)
        return {"inputs": inputs, "lengths": lengths, "targets": labels[:, None].astype(np.float32)}

    splits = {
        "train": split([train_texts[i] for i in train_rows], train_labels[train_rows]),
        "val": split([train_texts[i] for i in val_rows], train_labels[val_rows]),
        "test": split(test_texts, test_labels),
    }
    if cache is not None:
        _write_cache(cache, splits, vocabulary)
    return splits, vocabulary


def _flatten(splits: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {
        f"{name}/{field}": value for name, split in splits.items() for field, value in split.items()
    }


def _unflatten(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    splits: dict[str, dict[str, np.ndarray]] = {}
    for flat, value in arrays.items():
        name, field = flat.split("/")
        splits.setdefault(name, {})[field] = value
    return splits


def _write_cache(cache: pathlib.Path, splits: dict, vocabulary: Vocabulary) -> None:
    """Writes the cache into a temporary folder and renames it: never a half-written cache."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=cache.parent, prefix=".tmp-"))
    np.savez(staging / "arrays.npz", **_flatten(splits))
    vocabulary.save(staging / "vocabulary.json")
    try:
        os.replace(staging, cache)
    except OSError:  # another process cached the same data first
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
