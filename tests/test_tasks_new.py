"""The adding and temporal-order tasks: their data against NumPy, their configs, their scripts."""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from gru_lstm_jax.configs import adding as adding_config
from gru_lstm_jax.configs import temporal_order as temporal_order_config
from gru_lstm_jax.tasks import base, build_for_features, get_task
from gru_lstm_jax.tasks.adding import CONSTANT_ONE_MSE, make_adding_data
from gru_lstm_jax.tasks.temporal_order import (
    ALPHABET,
    make_temporal_order_data,
    relevant_ranges,
)
from gru_lstm_jax.training import prepare_run, run_folder, train_and_evaluate

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPLITS = ("train", "val", "test")

# --- the adding problem ---


@pytest.mark.parametrize("length", [2, 7, 100])
def test_adding_data_mark_one_value_in_each_half_and_sum_them(length):
    data = make_adding_data(
        jax.random.key(3), length=length, num_train=300, num_val=20, num_test=30
    )
    assert [len(data[s]["targets"]) for s in SPLITS] == [300, 20, 30]
    for split in data.values():
        inputs, targets = split["inputs"], split["targets"]
        assert inputs.dtype == targets.dtype == np.float32
        assert inputs.shape[1:] == (length, 2) and targets.shape == (len(inputs), 1)
        values, markers = inputs[..., 0].astype(np.float64), inputs[..., 1]
        assert ((values >= 0) & (values < 1)).all()
        assert set(np.unique(markers)) <= {0.0, 1.0}
        half = length // 2
        np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1)
        np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1)
        np.testing.assert_allclose(targets[:, 0], (values * markers).sum(axis=1), rtol=1e-6)
    again = make_adding_data(jax.random.key(3), length=length, num_train=300, num_val=20,
                             num_test=30)  # fmt: skip
    np.testing.assert_array_equal(again["test"]["inputs"], data["test"]["inputs"])
    assert not np.array_equal(data["train"]["inputs"][:20], data["val"]["inputs"])


def test_adding_markers_cover_each_half_and_predicting_one_gives_a_sixth():
    test = make_adding_data(jax.random.key(0), length=10, num_train=1, num_val=1,
                            num_test=20_000)["test"]  # fmt: skip
    steps = np.nonzero(test["inputs"][..., 1])[1].reshape(-1, 2)
    assert set(steps[:, 0]) == {0, 1, 2, 3, 4} and set(steps[:, 1]) == {5, 6, 7, 8, 9}
    # Var(x_a + x_b) = 1/6 for independent U[0, 1]; the draw's standard error is about 0.0013.
    assert pytest.approx(1 / 6) == CONSTANT_ONE_MSE
    assert np.mean((test["targets"] - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.006)


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"length": 1}, "length"),
        ({"length": 10.0}, "length"),
        ({"num_train": 0}, "num_train"),
        ({"num_val": True}, "num_val"),
        ({"num_test": -3}, "num_test"),
    ],
)
def test_adding_bad_arguments_are_named(options, argument):
    with pytest.raises(ValueError, match=rf"^{argument} must be an int >= "):
        make_adding_data(jax.random.key(0), **options)


def test_an_unknown_data_option_is_named():
    for name in ("adding", "temporal_order"):
        with pytest.raises(ValueError, match=r"config\.data\.lenght is not an option"):
            get_task(name).load({"lenght": 20}, jax.random.key(0))


# --- the temporal-order problem ---


def test_relevant_ranges_are_the_papers_at_length_100_and_disjoint_for_every_length():
    assert relevant_ranges(100, 2) == ((10, 20), (50, 60))
    assert relevant_ranges(100, 3) == ((10, 20), (33, 43), (66, 76))
    for length in range(10, 400):
        for num_symbols in (2, 3):
            ranges = relevant_ranges(length, num_symbols)
            bounds = [step for pair in ranges for step in pair]
            assert bounds == sorted(bounds) and bounds[0] >= 1 and bounds[-1] <= length - 2
            assert all(hi < lo for (_, hi), (lo, _) in itertools.pairwise(ranges))


@pytest.mark.parametrize(("num_symbols", "length"), [(2, 100), (3, 100), (2, 13), (3, 37)])
def test_temporal_order_data_against_the_symbols_order(num_symbols, length):
    data = make_temporal_order_data(jax.random.key(1), length=length, num_symbols=num_symbols,
                                    num_train=2_000, num_val=10, num_test=20)  # fmt: skip
    assert [len(data[s]["targets"]) for s in SPLITS] == [2_000, 10, 20]
    ranges = relevant_ranges(length, num_symbols)
    for split in data.values():
        inputs, targets = split["inputs"], split["targets"]
        assert inputs.dtype == np.float32 and targets.dtype == np.int32
        assert inputs.shape[1:] == (length, len(ALPHABET)) and targets.shape == (len(inputs),)
        np.testing.assert_array_equal(inputs.sum(axis=-1), 1.0)
        letters = np.array(ALPHABET)[inputs.argmax(axis=-1)]
        assert (letters[:, 0] == "B").all() and (letters[:, -1] == "E").all()
        assert np.isin(letters[:, 1:-1], ["a", "b", "c", "d", "X", "Y"]).all()
        for row, label in zip(letters, targets, strict=True):
            steps = np.nonzero((row == "X") | (row == "Y"))[0]
            assert len(steps) == num_symbols
            assert all(lo <= t <= hi for t, (lo, hi) in zip(steps, ranges, strict=True))
            order = "".join(row[steps])
            assert label == int(order.replace("X", "0").replace("Y", "1"), 2)
    train = data["train"]
    letters = np.array(ALPHABET)[train["inputs"].argmax(axis=-1)]
    assert set(train["targets"]) == set(range(2**num_symbols))
    first = np.nonzero((letters == "X") | (letters == "Y"))[1].reshape(-1, num_symbols)[:, 0]
    assert set(first) == set(range(ranges[0][0], ranges[0][1] + 1))
    assert set(np.unique(letters[:, 1:-1])) == {"a", "b", "c", "d", "X", "Y"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"length": 9}, r"^length must be an int >= 10"),
        ({"num_symbols": 4}, r"^num_symbols must be 2 .* or 3"),
        ({"num_symbols": True}, r"^num_symbols must be 2"),
        ({"num_train": 0}, r"^num_train must be an int >= 1"),
        ({"num_test": 2.0}, r"^num_test must be an int >= 1"),
    ],
)
def test_temporal_order_bad_arguments_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        make_temporal_order_data(jax.random.key(0), **options)


# --- the configs, trained ---


@pytest.mark.parametrize("module", [adding_config, temporal_order_config])
def test_configs_have_their_variants_and_their_task(module):
    name = module.get_config().data.name
    assert get_task(name).config is module.get_config
    for variant in ("", "quick", "smoke"):
        assert module.get_config(variant).data.name == name
    with pytest.raises(ValueError, match=r"unknown .* config variant 'fast'"):
        module.get_config("fast")


def test_adding_smoke_config_trains(tmp_path):
    results = train_and_evaluate(adding_config.get_config("smoke"), tmp_path)
    assert results["task"] == "adding" and results["metric"] == "mae"
    arrays = np.load(tmp_path / "predictions.npz")
    assert arrays["test_prediction"].shape == arrays["test_target"].shape == (32, 1)
    np.testing.assert_allclose(
        np.mean((arrays["test_prediction"] - arrays["test_target"]) ** 2),
        results["final"]["test"]["loss"],
        rtol=1e-4,
    )
    assert results["constant_one_mse"] == pytest.approx(
        float(np.mean((arrays["test_target"].astype(np.float64) - 1.0) ** 2))
    )
    assert run_folder.read_json(tmp_path / "results.json") == results


def test_temporal_order_smoke_config_trains(tmp_path):
    results = train_and_evaluate(temporal_order_config.get_config("smoke"), tmp_path)
    assert results["task"] == "temporal_order" and results["metric"] == "accuracy"
    arrays = np.load(tmp_path / "predictions.npz")
    assert arrays["test_prediction"].shape == (32, 4) and arrays["test_target"].shape == (32,)
    accuracy = np.mean(arrays["test_prediction"].argmax(axis=1) == arrays["test_target"])
    assert accuracy == pytest.approx(results["final"]["test"]["accuracy"])
    counts = np.bincount(arrays["test_target"], minlength=4)
    assert results["majority_class_accuracy"] == pytest.approx(counts.max() / 32)


def test_three_symbols_give_eight_logits():
    config = temporal_order_config.get_config("smoke")
    config.data.num_symbols = 3
    run = prepare_run(config)
    batch = {"inputs": run.splits["test"]["inputs"][:2]}
    assert run.model(batch["inputs"]).shape == (2, 8)
    assert set(run.splits["train"]["targets"]) == set(range(8))


def test_labels_beyond_the_models_outputs_fail_before_any_file(tmp_path, monkeypatch):
    task = get_task("temporal_order")
    narrow = dataclasses.replace(
        task,
        name="temporal_order_two_logits",
        build=lambda config, data, rngs: build_for_features(config, data, rngs, out_features=2),
    )
    monkeypatch.setitem(base._REGISTRY, narrow.name, narrow)
    config = temporal_order_config.get_config("smoke")
    config.data.name = narrow.name
    with pytest.raises(ValueError, match=r"train split\['targets'\]: must be labels in \[0, 2\)"):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_adding_script_sweeps_lengths(tmp_path):
    command = [
        sys.executable, str(ROOT / "experiments" / "adding.py"),
        f"--config={ROOT / 'gru_lstm_jax' / 'configs' / 'adding.py'}:smoke",
        f"--workdir={tmp_path}", "--cells=rnn", "--lengths=4,5",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "rnn L=5: test MSE" in completed.stdout and str(tmp_path / "rnn_L5") in completed.stdout
    assert [r["length"] for r in run_folder.read_json(tmp_path / "sweep.json")] == [4, 5]
    assert (tmp_path / "loss_vs_length.png").exists()


def test_temporal_order_script_trains_one_cell(tmp_path):
    command = [
        sys.executable, str(ROOT / "experiments" / "temporal_order.py"),
        f"--config={ROOT / 'gru_lstm_jax' / 'configs' / 'temporal_order.py'}:smoke",
        f"--workdir={tmp_path}", "--cells=gru", "--config.data.num_symbols=3",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "gru (8 classes): test accuracy" in completed.stdout
    results = run_folder.read_json(tmp_path / "gru" / "results.json")
    assert results["cell"] == "gru" and str(tmp_path / "gru") in completed.stdout
