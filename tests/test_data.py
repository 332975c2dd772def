"""Tests of the data layer: the sine and XOR tasks and batching."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.optimize

from gru_lstm_jax.data import (
    SineData,
    bucketed_batches,
    make_sine_data,
    make_xor_data,
    num_examples,
    padded_batches,
    shuffled_batches,
    steps_per_epoch,
)
from gru_lstm_jax.tasks.sine import RIDGE_PENALTIES
from gru_lstm_jax.tasks.sine import prediction_mse as sine_prediction_mse
from gru_lstm_jax.tasks.sine import reference_mse as sine_reference_mse
from gru_lstm_jax.tasks.sine import reference_predictions as sine_reference_predictions

SPLITS = ("train", "val", "test")
# JAX compiles its random number generator once per shape, so the tests reuse a few shapes.
XOR_DISTRACTORS = {"length": 64, "num_sequences": 2000, "test_sequences": 500, "distractors": True}


@pytest.fixture(scope="module")
def sine() -> SineData:
    return make_sine_data(jax.random.key(0))


@pytest.fixture(scope="module")
def xor_plain():
    return make_xor_data(jax.random.key(0), **{**XOR_DISTRACTORS, "distractors": False})


@pytest.fixture(scope="module")
def xor_distractors():
    return make_xor_data(jax.random.key(1), **XOR_DISTRACTORS)


def _split(n: int = 10) -> dict[str, np.ndarray]:
    """A split whose example i has input rows filled with i, to track examples through batches."""
    return {
        "inputs": np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 3, 2), np.float32),
        "targets": np.arange(n, dtype=np.float32)[:, None],
        "id": np.arange(n, dtype=np.int64),
    }


# --- sine -------------------------------------------------------------------------------------


def test_sine_shapes_dtypes_and_sizes(sine):
    assert sine.window == 50
    sizes = {name: len(getattr(sine, name)["targets"]) for name in SPLITS}
    assert sizes == {"train": 684, "val": 76, "test": 190}
    for name in SPLITS:
        split = getattr(sine, name)
        n = sizes[name]
        assert split["inputs"].shape == (n, 50, 1) and split["inputs"].dtype == np.float32
        assert split["targets"].shape == (n, 1) and split["targets"].dtype == np.float32
        assert split["target_index"].shape == (n,) and split["target_index"].dtype == np.int64
    for values in sine.series.values():
        assert values.shape == (1000,) and values.dtype == np.float32
    assert sine.split_index == {"val": 684, "test": 760}


def test_sine_series_values(sine):
    x = sine.series["x"]
    np.testing.assert_allclose(x, np.linspace(0, 4 * np.pi, 1000), rtol=1e-6)
    np.testing.assert_allclose(
        sine.series["clean"], np.sin(1.5 * np.linspace(0, 4 * np.pi, 1000)), atol=1e-6
    )
    noise = sine.series["y"] - sine.series["clean"]
    assert abs(noise.mean()) < 0.02
    assert noise.std() == pytest.approx(0.1, rel=0.15)


def test_sine_windows_line_up_with_the_series(sine):
    y = sine.series["y"]
    for name in SPLITS:
        split = getattr(sine, name)
        for row, t in enumerate(split["target_index"]):
            np.testing.assert_array_equal(split["inputs"][row, :, 0], y[t - 50 : t])
            assert split["targets"][row, 0] == y[t]


def test_sine_chronological_split(sine):
    train, val, test = (getattr(sine, name)["target_index"] for name in SPLITS)
    assert train.max() < val.min() and val.max() < test.min()
    all_index = np.concatenate([train, val, test])
    np.testing.assert_array_equal(all_index, np.arange(50, 1000))
    assert val[0] == sine.split_index["val"] + sine.window
    assert test[0] == sine.split_index["test"] + sine.window


def test_sine_keys(sine):
    again = make_sine_data(jax.random.key(0))
    for name in SPLITS:
        for field, array in getattr(sine, name).items():
            np.testing.assert_array_equal(getattr(again, name)[field], array)
    np.testing.assert_array_equal(again.series["y"], sine.series["y"])
    other = make_sine_data(jax.random.key(1))
    assert not np.allclose(other.series["y"], sine.series["y"])
    np.testing.assert_array_equal(other.series["clean"], sine.series["clean"])


def test_sine_without_noise_is_the_clean_sine(sine):
    data = make_sine_data(jax.random.key(0), noise_std=0.0)
    np.testing.assert_array_equal(data.series["y"], data.series["clean"])
    np.testing.assert_array_equal(data.test["targets"][:, 0], sine.series["clean"][810:])


def test_sine_other_sizes():
    data = make_sine_data(
        jax.random.key(0),
        num_points=np.int64(1000),
        window=np.int64(10),
        test_fraction=0.5,
        val_fraction=np.float32(0.25),
    )
    sizes = [len(split["targets"]) for split in (data.train, data.val, data.test)]
    assert sizes == [371, 124, 495]
    assert data.train["inputs"].shape == (371, 10, 1)
    assert data.split_index == {"val": 371, "test": 495}
    assert all(type(i) is int for i in (*data.split_index.values(), data.window))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_points": 1}, "num_points"),
        ({"num_points": 100.0}, "num_points"),
        ({"window": 0}, "window"),
        ({"window": 1000}, "window"),
        ({"window": 2.5}, "window"),
        ({"window": True}, "window"),
        ({"x_max": 0.0}, "x_max"),
        ({"frequency": float("nan")}, "frequency"),
        ({"noise_std": -0.1}, "noise_std"),
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.5}, "val_fraction"),
        ({"num_points": 12, "window": 10, "test_fraction": 0.2}, "empty"),
    ],
)
def test_sine_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_sine_data(jax.random.key(0), **kwargs)


def test_sine_references_against_per_window_fits(sine):
    references = sine_reference_predictions(sine, 1.5)
    x = sine.series["x"].astype(np.float64)
    for name in SPLITS:
        split = getattr(sine, name)
        index = split["target_index"]
        np.testing.assert_array_equal(references["noise_free"][name], sine.series["clean"][index])
        # Each window on its own: a least-squares fit with numpy's lstsq, then one step on.
        for row in (0, len(index) // 2, len(index) - 1):
            grid = x[index[row] - sine.window : index[row]]
            basis = np.stack([np.sin(1.5 * grid), np.cos(1.5 * grid)], axis=1)
            values = split["inputs"][row, :, 0].astype(np.float64)
            (a, b), *_ = np.linalg.lstsq(basis, values, rcond=None)
            step = 1.5 * x[index[row]]
            np.testing.assert_allclose(
                references["sine_fit"][name][row], a * np.sin(step) + b * np.cos(step), atol=1e-5
            )

            # The phase of sin(1.5 x + phase) by brute force on the raw squared error: a fine
            # grid, then scipy's bounded scalar minimiser between its neighbours.
            def squared_error(phase, grid=grid, values=values):
                return np.sum((values - np.sin(1.5 * grid + phase)) ** 2, axis=-1)

            angles = np.linspace(-np.pi, np.pi, 3601)
            start = angles[np.argmin(squared_error(angles[:, None]))]
            phase = scipy.optimize.minimize_scalar(
                squared_error,
                bounds=(start - 0.002, start + 0.002),
                method="bounded",
                options={"xatol": 1e-10},
            ).x
            np.testing.assert_allclose(
                references["phase_fit"][name][row], np.sin(step + phase), atol=1e-6
            )

    # The ridge AR, independently: each penalty p as least squares on the design stacked over
    # sqrt(p) I (no row for the intercept), the penalty chosen by validation MSE.
    def with_intercept(split):
        windows = split["inputs"][:, :, 0].astype(np.float64)
        return np.concatenate([windows, np.ones((len(windows), 1))], axis=1)

    design, val = with_intercept(sine.train), with_intercept(sine.val)
    best = None
    for penalty in RIDGE_PENALTIES:
        rows = np.sqrt(penalty) * np.eye(design.shape[1])[:-1]
        weights, *_ = np.linalg.lstsq(
            np.concatenate([design, rows]),
            np.concatenate([sine.train["targets"][:, 0], np.zeros(len(rows))]),
            rcond=None,
        )
        val_mse = np.mean((val @ weights - sine.val["targets"][:, 0]) ** 2)
        if best is None or val_mse < best[0]:
            best = (val_mse, weights)
    for name in SPLITS:
        expected = with_intercept(getattr(sine, name)) @ best[1]
        np.testing.assert_allclose(references["linear_ar"][name], expected, atol=1e-6)


def test_sine_reference_mse_orders_the_predictors(sine):
    mse = sine_reference_mse(sine, 1.5)
    for name in SPLITS:
        noise = sine.series["y"] - sine.series["clean"]
        floor = np.mean(noise[getattr(sine, name)["target_index"]].astype(np.float64) ** 2)
        np.testing.assert_allclose(mse[name]["noise_free"], floor, rtol=1e-6)
        # Fitting two numbers to 50 values with noise 0.1 costs a few percent over the floor.
        assert mse[name]["noise_free"] < mse[name]["sine_fit"] < 1.3 * mse[name]["noise_free"]
    # Measured against the noise-free sine, which removes the targets' own noise, knowing the
    # amplitude leaves one number to fit instead of two: the phase fit errs less on every split.
    predictions = sine_reference_predictions(sine, 1.5)
    error = sine_prediction_mse(sine, predictions, against="noise_free")
    for name in SPLITS:
        assert error[name]["noise_free"] == 0.0
        assert error[name]["phase_fit"] < error[name]["sine_fit"]
    # Without noise the sine fits are exact, and so is a linear AR: sin obeys
    # y_t = 2 cos(w dx) y_{t-1} - y_{t-2}.
    clean = sine_reference_mse(make_sine_data(jax.random.key(0), noise_std=0.0), 1.5)
    for name in SPLITS:
        assert clean[name]["noise_free"] == 0.0
        assert max(clean[name][p] for p in ("sine_fit", "phase_fit")) < 1e-12  # float32 series
        assert clean[name]["linear_ar"] < 1e-6


def test_sine_prediction_mse_against_targets_and_truth(sine):
    rng = np.random.default_rng(0)
    guesses = {name: rng.normal(size=len(getattr(sine, name)["targets"])) for name in SPLITS}
    noisy = {name: getattr(sine, name)["targets"][:, 0] for name in SPLITS}
    floor = sine_reference_mse(sine, 1.5)
    for against in ("targets", "noise_free"):
        errors = sine_prediction_mse(sine, {"guess": guesses, "noisy": noisy}, against=against)
        assert set(errors) == set(SPLITS)
        for name in SPLITS:
            split = getattr(sine, name)
            clean = sine.series["clean"][split["target_index"]]
            truth = split["targets"][:, 0] if against == "targets" else clean
            expected = np.mean((guesses[name] - truth.astype(np.float64)) ** 2)
            np.testing.assert_allclose(errors[name]["guess"], expected, rtol=1e-12)
            # The targets score 0 against themselves, and against the truth they are the noise:
            # the floor, which is the truth scored against the targets.
            if against == "targets":
                assert errors[name]["noisy"] == 0.0
            else:
                np.testing.assert_allclose(
                    errors[name]["noisy"], floor[name]["noise_free"], rtol=1e-12
                )
    # Only the splits given are scored.
    assert set(sine_prediction_mse(sine, {"guess": {"val": guesses["val"]}})) == {"val"}


def test_sine_prediction_mse_bad_arguments(sine):
    test = np.zeros(len(sine.test["targets"]))
    with pytest.raises(ValueError, match="against must be 'targets' or 'noise_free'"):
        sine_prediction_mse(sine, {"zero": {"test": test}}, against="clean")
    with pytest.raises(ValueError, match=r"predictions\['zero'\] has split 'dev'"):
        sine_prediction_mse(sine, {"zero": {"dev": test}})
    with pytest.raises(ValueError, match=r"predictions\['zero'\]\['test'\] must have shape"):
        sine_prediction_mse(sine, {"zero": {"test": test[:, None]}})


def test_sine_references_bad_arguments(sine):
    with pytest.raises(ValueError, match="frequency"):
        sine_reference_predictions(sine, float("inf"))
    with pytest.raises(ValueError, match=r"frequency=1\.4 is not the frequency"):
        sine_reference_predictions(sine, 1.4)
    with pytest.raises(ValueError, match="penalties"):
        sine_reference_predictions(sine, 1.5, penalties=(0.0,))


# --- XOR --------------------------------------------------------------------------------------


def test_xor_shapes_and_sizes(xor_plain):
    assert set(xor_plain) == set(SPLITS)
    sizes = {name: num_examples(xor_plain[name]) for name in SPLITS}
    assert sizes == {"train": 1600, "val": 400, "test": 500}
    for name in SPLITS:
        split = xor_plain[name]
        assert set(split) == {"inputs", "targets"}
        assert split["inputs"].shape == (sizes[name], 64, 1)
        assert split["targets"].shape == (sizes[name], 1)
        assert split["inputs"].dtype == split["targets"].dtype == np.float32


@pytest.mark.parametrize("fixture", ["xor_plain", "xor_distractors"])
def test_xor_labels_are_the_xor_of_the_first_two_bits(fixture, request):
    data = request.getfixturevalue(fixture)
    for name in SPLITS:
        inputs, targets = data[name]["inputs"][..., 0], data[name]["targets"][:, 0]
        assert set(np.unique(inputs[:, :2])) == {0.0, 1.0}
        expected = (inputs[:, 0] != inputs[:, 1]).astype(np.float32)
        np.testing.assert_array_equal(targets, expected)


def test_xor_bits_and_labels_are_balanced(xor_plain):
    bits = np.concatenate([xor_plain[name]["inputs"][:, :2, 0] for name in SPLITS])
    labels = np.concatenate([xor_plain[name]["targets"][:, 0] for name in SPLITS])
    np.testing.assert_allclose(bits.mean(axis=0), [0.5, 0.5], atol=0.03)
    assert labels.mean() == pytest.approx(0.5, abs=0.03)
    # All four bit pairs occur about equally often: the bits are independent.
    pairs = 2 * bits[:, 0] + bits[:, 1]
    np.testing.assert_allclose(np.bincount(pairs.astype(int)) / len(pairs), 0.25, atol=0.03)


def test_xor_zeros_after_the_bits_without_distractors(xor_plain):
    for name in SPLITS:
        assert not xor_plain[name]["inputs"][:, 2:].any()


def test_xor_random_bits_after_the_bits_with_distractors(xor_distractors):
    tail = xor_distractors["train"]["inputs"][:, 2:, 0]
    assert set(np.unique(tail)) == {0.0, 1.0}
    assert tail.mean() == pytest.approx(0.5, abs=0.02)
    # The distractors say nothing about the label.
    labels = xor_distractors["train"]["targets"][:, 0]
    assert abs(np.corrcoef(tail.mean(axis=1), labels)[0, 1]) < 0.1


def _rows(split):
    return {row.tobytes() for row in split["inputs"]}


def test_xor_val_is_a_disjoint_random_subset(xor_distractors):
    train, val, test = (_rows(xor_distractors[name]) for name in SPLITS)
    # With 64 random bits per sequence, equal rows mean the same sequence.
    assert len(train) == 1600 and len(val) == 400 and len(test) == 500
    assert not train & val and not test & (train | val)
    # Another val_fraction splits the same pool differently.
    other = make_xor_data(jax.random.key(1), **{**XOR_DISTRACTORS, "val_fraction": 0.5})
    assert _rows(other["train"]) | _rows(other["val"]) == train | val
    assert len(_rows(other["val"])) == 1000
    assert _rows(other["test"]) == test


def test_xor_keys(xor_distractors):
    again = make_xor_data(jax.random.key(1), **XOR_DISTRACTORS)
    other = make_xor_data(jax.random.key(2), **XOR_DISTRACTORS)
    for name in SPLITS:
        for field in ("inputs", "targets"):
            np.testing.assert_array_equal(again[name][field], xor_distractors[name][field])
        assert not np.array_equal(other[name]["inputs"], xor_distractors[name]["inputs"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"length": 1}, "length"),
        ({"length": 20.0}, "length"),
        ({"num_sequences": 0}, "num_sequences"),
        ({"num_sequences": 1}, "num_sequences"),
        ({"test_sequences": 0}, "test_sequences"),
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": "0.2"}, "val_fraction"),
        ({"distractors": "yes"}, "distractors"),
    ],
)
def test_xor_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_xor_data(jax.random.key(0), **{"num_sequences": 100, "test_sequences": 10, **kwargs})


# --- batching ---------------------------------------------------------------------------------


def test_num_examples():
    assert num_examples(_split(7)) == 7
    bad = {"inputs": np.zeros((4, 3, 1)), "targets": np.zeros((5, 1))}
    with pytest.raises(ValueError, match=r"'inputs': \(4, 3, 1\).*'targets': \(5, 1\)"):
        num_examples(bad)
    with pytest.raises(ValueError, match="leading"):
        num_examples({"inputs": np.zeros((4, 1)), "scale": np.float32(1.0)})
    with pytest.raises(ValueError, match="empty"):
        num_examples({})


def test_steps_per_epoch():
    assert steps_per_epoch(_split(10), 3) == 3
    assert steps_per_epoch(_split(10), 10) == 1
    with pytest.raises(ValueError, match="batch_size"):
        steps_per_epoch(_split(10), 11)


def test_shuffled_batches_cover_full_batches_of_distinct_examples():
    split = _split(64)
    batches = list(shuffled_batches(split, 10, jax.random.key(0)))
    assert len(batches) == steps_per_epoch(split, 10) == 6
    for batch in batches:
        assert set(batch) == set(split)
        assert batch["inputs"].shape == (10, 3, 2) and batch["targets"].shape == (10, 1)
        # Every field of a batch comes from the same examples.
        np.testing.assert_array_equal(batch["targets"][:, 0], batch["id"])
        np.testing.assert_array_equal(batch["inputs"][:, 0, 0], batch["id"])
    ids = np.concatenate([batch["id"] for batch in batches])
    assert len(set(ids.tolist())) == 60


def test_shuffled_batches_order_follows_the_key():
    split = _split(64)

    def order(seed):
        return np.concatenate([b["id"] for b in shuffled_batches(split, 8, jax.random.key(seed))])

    np.testing.assert_array_equal(order(0), order(0))
    assert not np.array_equal(order(0), order(1))
    assert sorted(order(0).tolist()) == list(range(64))
    assert not np.array_equal(order(0), np.arange(64))


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True, 11])
def test_shuffled_batches_bad_batch_size_raises_when_called(batch_size):
    with pytest.raises(ValueError, match="batch_size") as info:
        shuffled_batches(_split(10), batch_size, jax.random.key(0))
    if batch_size == 11:
        assert "10" in str(info.value)


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (9, 3), (4, 8), (1, 1)])
def test_padded_batches_reproduce_the_split_once(n, batch_size):
    split = _split(n)
    batches = list(padded_batches(split, batch_size))
    assert len(batches) == -(-n // batch_size)
    for batch in batches:
        assert batch["weights"].shape == (batch_size,) and batch["weights"].dtype == np.float32
        for name, array in split.items():
            assert batch[name].shape == (batch_size, *array.shape[1:])
            assert batch[name].dtype == array.dtype
    weights = np.concatenate([batch["weights"] for batch in batches])
    assert weights.sum() == n
    real = weights == 1.0
    np.testing.assert_array_equal(weights, np.arange(len(weights)) < n)
    for name, array in split.items():
        stacked = np.concatenate([batch[name] for batch in batches])
        np.testing.assert_array_equal(stacked[real], array)
        assert not stacked[~real].any()


def test_padded_batches_give_exact_means():
    split = _split(10)
    total = sum(
        (batch["weights"] * batch["targets"][:, 0]).sum() for batch in padded_batches(split, 4)
    )
    assert total / 10 == pytest.approx(split["targets"].mean())


def test_padded_batches_bad_arguments():
    for batch_size in (0, 1.5, None):
        with pytest.raises(ValueError, match="batch_size"):
            padded_batches(_split(10), batch_size)
    with pytest.raises(ValueError, match="weights"):
        padded_batches({**_split(10), "weights": np.ones(10)}, 4)


def _ragged_split(n, time=40, seed=0):
    """Right-padded token ids with lengths in [0, time]; id = 1 + example index on valid steps."""
    lengths = np.random.default_rng(seed).integers(0, time + 1, size=n).astype(np.int32)
    steps = np.arange(time)[None, :]
    inputs = np.where(steps < lengths[:, None], np.arange(n)[:, None] + 1, 0).astype(np.int32)
    return {"inputs": inputs, "lengths": lengths, "id": np.arange(n)}


def _check_trimmed(batch, split, width):
    """The batch's inputs are its examples' inputs cut to the rounded-up longest length."""
    longest = batch["lengths"].max(initial=0)
    expected = min(split["inputs"].shape[1], max(width, -(-longest // width) * width))
    assert batch["inputs"].shape[1] == expected
    full = split["inputs"][batch["id"]]
    np.testing.assert_array_equal(batch["inputs"], full[:, :expected])
    assert not full[:, expected:].any()  # only padding was cut


def test_bucketed_batches_group_similar_lengths_and_trim_only_padding():
    split = _ragged_split(1000)
    batches = list(bucketed_batches(split, 10, jax.random.key(0), 8))
    assert len(batches) == 100
    ids = np.concatenate([b["id"] for b in batches])
    assert len(set(ids.tolist())) == 1000  # all distinct; here N % B == 0
    # The same examples as shuffled_batches would keep when N % B != 0.
    odd = _ragged_split(105)
    kept = np.concatenate([b["id"] for b in bucketed_batches(odd, 10, jax.random.key(3), 8)])
    permute_key = jax.random.split(jax.random.key(3))[0]
    plain = np.concatenate([b["id"] for b in shuffled_batches(odd, 10, permute_key)])
    assert sorted(kept.tolist()) == sorted(plain.tolist())
    for batch in batches:
        _check_trimmed(batch, split, 8)
    # Sorting within pools of 50 batches: a batch's lengths span far less than the data's.
    spread = np.mean([np.ptp(b["lengths"]) for b in batches])
    assert spread < 0.2 * np.ptp(split["lengths"])
    # Widths are multiples of 8 up to T = 40, so at most 5 shapes to compile.
    assert {b["inputs"].shape[1] for b in batches} <= {8, 16, 24, 32, 40}
    # The order follows the key; the batch order is shuffled, not sorted by length.
    again = np.concatenate([b["id"] for b in bucketed_batches(split, 10, jax.random.key(0), 8)])
    np.testing.assert_array_equal(ids, again)
    other = np.concatenate([b["id"] for b in bucketed_batches(split, 10, jax.random.key(1), 8)])
    assert not np.array_equal(ids, other)
    widths = [b["inputs"].shape[1] for b in batches]
    assert widths != sorted(widths)


@pytest.mark.parametrize(("n", "batch_size", "width"), [(10, 3, 8), (37, 8, 7), (5, 8, 50)])
def test_bucketed_padded_batches_give_every_example_once_trimmed(n, batch_size, width):
    split = _ragged_split(n, seed=n)
    batches = list(padded_batches(split, batch_size, bucket_width=width))
    assert len(batches) == -(-n // batch_size)
    weights = np.concatenate([b["weights"] for b in batches])
    ids = np.concatenate([b["id"] for b in batches])[weights == 1.0]
    assert sorted(ids.tolist()) == list(range(n))
    for batch in batches:
        real = batch["weights"] == 1.0
        _check_trimmed({name: array[real] for name, array in batch.items()}, split, width)
        assert batch["inputs"].shape[0] == batch_size
        assert not batch["inputs"][~real].any()


def test_bucketing_bad_arguments():
    split = _ragged_split(20)
    for width in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="bucket_width must be a positive int"):
            bucketed_batches(split, 4, jax.random.key(0), width)
    for width in (-1, 1.5):
        with pytest.raises(ValueError, match="bucket_width must be a non-negative int"):
            padded_batches(split, 4, bucket_width=width)
    with pytest.raises(ValueError, match="'lengths'"):
        padded_batches(_split(10), 4, bucket_width=5)
    with pytest.raises(ValueError, match="'lengths'"):
        bucketed_batches(_split(10), 4, jax.random.key(0), 5)
    with pytest.raises(ValueError, match="batch_size"):
        bucketed_batches(split, 21, jax.random.key(0), 5)
    # numpy integers are valid widths
    assert list(padded_batches(split, 4, bucket_width=np.int64(5)))
    assert list(bucketed_batches(split, 4, jax.random.key(0), np.int64(5)))


def test_batching_works_on_generated_data(sine):
    assert steps_per_epoch(sine.train, 32) == 684 // 32
    weights = [b["weights"] for b in padded_batches(sine.test, 64)]
    assert sum(w.sum() for w in weights) == 190
