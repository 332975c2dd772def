"""The training engine: steps, run folders, resume, non-finite losses, bad configs, scripts."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gru_lstm_jax import data as datasets
from gru_lstm_jax.configs import seq2seq, sine, xor
from gru_lstm_jax.tasks import sine as task_sine
from gru_lstm_jax.training import (
    NonFiniteLossError,
    get_objective,
    loop,
    make_optimizer,
    prepare_run,
    run_folder,
    train_and_evaluate,
)

ROOT = pathlib.Path(__file__).parent.parent
RUN_FILES = {
    "config.json", "metrics.jsonl", "results.json", "learning_curves.png", "predictions.npz",
    "checkpoints",
}  # fmt: skip


def _train_batches(run, epoch=0):
    key = jax.random.fold_in(run.keys["shuffle"], epoch)
    yield from datasets.shuffled_batches(run.splits["train"], run.config.training.batch_size, key)


@pytest.mark.parametrize(
    ("config", "extra_files"),
    [
        (sine.get_config("smoke"), {"predictions.png", "forecast.png"}),
        (xor.get_config("smoke"), set()),
        (seq2seq.get_config("smoke"), {"attention_heatmaps.png"}),
    ],
)
def test_smoke_run_writes_every_file(config, extra_files, tmp_path):
    results = train_and_evaluate(config, tmp_path / "run")
    workdir = tmp_path / "run"
    assert {p.name for p in workdir.iterdir()} == RUN_FILES | extra_files
    assert run_folder.read_json(workdir / "config.json") == json.loads(config.to_json())
    records = run_folder.read_metrics(workdir)
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[-1]["step"] == results["steps"]
    saved = run_folder.read_json(workdir / "results.json")
    assert saved == json.loads(json.dumps(results))
    for split in ("train", "val", "test"):
        assert np.isfinite(saved["final"][split]["loss"])
    if config.data.name == "sine":  # the reference predictors' MSE on the run's own data
        data = prepare_run(config).data
        assert saved["references"] == task_sine.reference_mse(data, config.data.frequency)
        # Against the noise-free sine: the model's own predictions, as saved, and the fitted
        # references.
        arrays = np.load(workdir / "predictions.npz")
        model = {split: arrays[f"{split}_prediction"] for split in ("train", "val", "test")}
        references = task_sine.reference_predictions(data, config.data.frequency)
        del references["noise_free"]
        truth = saved["noise_free_error"]
        assert truth == task_sine.prediction_mse(
            data, {"model": model, **references}, against="noise_free"
        )
        clean = data.series["clean"].astype(np.float64)
        for split, predictions in model.items():
            error = predictions - clean[arrays[f"{split}_target_index"]]
            np.testing.assert_allclose(truth[split]["model"], np.mean(error**2), rtol=1e-6)
    else:
        assert "references" not in saved and "noise_free_error" not in saved
    assert saved["num_params"] > 0 and saved["steps_per_s"] > 0 and saved["wall_time_s"] > 0
    assert sorted(p.name for p in (workdir / "checkpoints" / "last").iterdir()) == ["1", "2"]
    best = min(records, key=lambda r: r["val_loss"])["epoch"]
    assert saved["best_epoch"] == best
    assert [p.name for p in (workdir / "checkpoints" / "best").iterdir()] == [str(best)]
    # The reported validation loss is that of the restored tested checkpoint: the best one,
    # or the last one where the config says so (the sine config does).
    tested = {"best": best, "last": 2}[config.training.test_checkpoint]
    assert saved["tested_epoch"] == tested
    np.testing.assert_allclose(
        saved["final"]["val"]["loss"], records[tested - 1]["val_loss"], rtol=1e-5
    )


def test_one_train_step_changes_every_parameter():
    run = prepare_run(sine.get_config("smoke"))
    state = run.steps.init_state()
    before = jax.tree.map(np.array, state.params)
    state, metrics = run.steps.train_step(state, next(_train_batches(run)))
    changed = jax.tree.map(lambda a, b: not np.allclose(a, b), before, jax.device_get(state.params))
    assert all(jax.tree.leaves(changed))
    assert int(state.step) == 1
    assert set(metrics) == {"loss", "mae", "grad_norm"}


def test_loss_falls_and_steps_compile_once():
    config = sine.get_config("smoke")
    config.optimizer.learning_rate = 1e-2
    config.optimizer.schedule = "constant"
    run = prepare_run(config)
    state = run.steps.init_state()
    initial = loop.evaluate(run, state.params, run.splits["train"])["loss"]
    for epoch in range(30):
        for batch in _train_batches(run, epoch):
            state, _ = run.steps.train_step(state, batch)
    final = loop.evaluate(run, state.params, run.splits["train"])
    loop.evaluate(run, state.params, run.splits["val"])
    assert int(state.step) == 30 * run.steps_per_epoch
    assert final["loss"] < 0.3 * initial
    # One compiled train step for all the steps; one eval step for splits of different sizes.
    assert run.steps.train_step._cache_size() == 1
    assert run.steps.eval_step._cache_size() == 1


def test_train_step_reports_the_global_gradient_norm_before_clipping():
    config = sine.get_config("smoke")
    config.optimizer.clip_norm = 1e-3
    run = prepare_run(config)
    state = run.steps.init_state()
    batch = next(_train_batches(run))
    model = run.steps.model_with(state.params)

    def loss(params):
        predictions = run.steps.model_with(params)(batch["inputs"])
        return jnp.mean((predictions - batch["targets"]) ** 2)

    from flax import nnx

    grads = jax.grad(loss)(nnx.state(model, nnx.Param))
    _, metrics = run.steps.train_step(state, batch)
    np.testing.assert_allclose(metrics["grad_norm"], optax.tree.norm(grads), rtol=1e-5)
    assert float(metrics["grad_norm"]) > 1e-3


def _params_of_last_checkpoint(config, workdir):
    run = prepare_run(config)
    last, _ = run_folder.checkpoint_managers(workdir, 2)
    return run_folder.restore_state(last, run.steps.init_state())


@pytest.mark.parametrize("task", ["xor", "seq2seq"])
def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(task, tmp_path, monkeypatch):
    config = {"xor": xor, "seq2seq": seq2seq}[task].get_config("smoke")
    config.training.num_epochs = 3
    if task == "xor":
        config.model.recurrent_dropout = 0.2  # dropout masks must also line up after a resume
    uninterrupted = train_and_evaluate(config, tmp_path / "a")

    original = loop.train_epoch
    calls = []

    def interrupted_epoch(run, state, epoch, progress):
        calls.append(epoch)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(run, state, epoch, progress)

    monkeypatch.setattr(loop, "train_epoch", interrupted_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_and_evaluate(config, tmp_path / "b")
    assert not (tmp_path / "b" / "results.json").exists()
    assert [r["epoch"] for r in run_folder.read_metrics(tmp_path / "b")] == [1]
    monkeypatch.setattr(loop, "train_epoch", original)
    resumed = train_and_evaluate(config, tmp_path / "b")

    a = _params_of_last_checkpoint(config, tmp_path / "a")
    b = _params_of_last_checkpoint(config, tmp_path / "b")
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, b)
    for split in ("train", "val", "test"):
        assert resumed["final"][split] == pytest.approx(uninterrupted["final"][split], rel=1e-5)

    def losses(workdir):
        records = run_folder.read_metrics(workdir)
        return [value for r in records for value in (r["epoch"], r["train_loss"], r["val_loss"])]

    assert losses(tmp_path / "b") == pytest.approx(losses(tmp_path / "a"), rel=1e-5)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    config = sine.get_config("smoke")
    config.training.num_epochs = 3
    original = datasets.shuffled_batches
    calls = []

    def poisoned(split, batch_size, key):
        calls.append(None)
        for batch in original(split, batch_size, key):
            if len(calls) == 2:
                batch = {**batch, "inputs": np.full_like(batch["inputs"], np.nan)}
            yield batch

    monkeypatch.setattr(datasets, "shuffled_batches", poisoned)
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite .* epoch 2; .*checkpoints/last' keeps .*epoch 1\)"
    ):
        train_and_evaluate(config, tmp_path / "run")
    workdir = tmp_path / "run"
    assert not (workdir / "results.json").exists()
    assert [r["epoch"] for r in run_folder.read_metrics(workdir)] == [1]
    assert sorted(p.name for p in (workdir / "checkpoints" / "last").iterdir()) == ["1"]
    state = _params_of_last_checkpoint(config, workdir)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(state))
    # In the first epoch there is no checkpoint to name.
    calls.clear()
    calls.append(None)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1; .* no epoch finished, so there is no"):
        train_and_evaluate(config, tmp_path / "first")


def _with(config, **changes):
    config = config.copy_and_resolve_references()
    for dotted, value in changes.items():
        section, name = dotted.split("__")
        config[section][name] = value
    return config


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (
            _with(xor.get_config("smoke"), model__cell="lsmt"),
            r"config\.model\.cell must be registered cell names .*'lsmt'",
        ),
        (_with(xor.get_config("smoke"), model__hidden_sizes=(0,)), r"hidden_size\[0\] must be"),
        (_with(xor.get_config("smoke"), data__length=0), "length"),
        (_with(sine.get_config("smoke"), data__window=-5), "window"),
        (_with(xor.get_config("smoke"), training__batch_size=10_000), "larger than the training"),
        (_with(xor.get_config("smoke"), training__num_epochs=0), "num_epochs must be a positive"),
        (_with(xor.get_config("smoke"), model__kind="transformer"), "config.model.kind"),
        (_with(xor.get_config("smoke"), optimizer__name="adagrad"), "optimizer.name"),
        (_with(xor.get_config("smoke"), data__name="mnist"), "config.data.name must be a regi"),
        (_with(xor.get_config("smoke"), data__lenght=50), "config.data.lenght is not an option"),
        (_with(sine.get_config("smoke"), training__num_epoch=1), "config.training.num_epoch is"),
        (_with(sine.get_config("smoke"), optimizer__lr=0.1), "config.optimizer.lr is not a fie"),
        (
            _with(sine.get_config("smoke"), training__eval_batch_size=0),
            "config.training.eval_batch_size must be a positive int",
        ),
        (
            _with(
                sine.get_config("smoke"),
                optimizer__schedule="warmup_cosine",
                optimizer__warmup_steps=-3,
            ),
            r"optimizer.warmup_steps must be an int >= 0",
        ),
        (
            _with(seq2seq.get_config("smoke"), optimizer__learning_rate=float("nan")),
            "learning_rate must be a finite positive number",
        ),
        (_with(xor.get_config("smoke"), training__test_checkpoint="worst"), "test_checkpoint"),
        (
            _with(xor.get_config("smoke"), training__bucket_width=-8),
            "training.bucket_width must be a non",
        ),
        (_with(sine.get_config("smoke"), training__bucket_width=8), "bucket_width needs a task"),
        (
            _with(xor.get_config("smoke"), optimizer__clip_norm=-1.0),
            r"config\.optimizer\.clip_norm must be None, 0 \(no clipping\) or a finite positive",
        ),
        (_with(xor.get_config("smoke"), optimizer__clip_norm=float("nan")), "clip_norm must be"),
        (
            _with(xor.get_config("smoke"), optimizer__learning_rate=float("nan")),
            r"config\.optimizer\.learning_rate must be a finite positive number; got nan",
        ),
        (_with(xor.get_config("smoke"), optimizer__learning_rate=0.0), "learning_rate must be"),
        (_with(xor.get_config("smoke"), optimizer__learning_rate=-1e-3), "learning_rate must be"),
    ],
)
def test_bad_config_fails_before_any_file_is_written(config, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        train_and_evaluate(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_unwritable_workdir_and_changed_config(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match=r"cannot be created: .*file\.txt' is a file, not a"):
        train_and_evaluate(xor.get_config("smoke"), blocker / "run")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        train_and_evaluate(xor.get_config("smoke"), blocker)
    config = xor.get_config("smoke")
    config.training.num_epochs = 1
    train_and_evaluate(config, tmp_path / "run")
    before = (tmp_path / "run" / "results.json").read_text()
    config.model.cell = "gru"
    config.training.num_epochs = 2
    with pytest.raises(ValueError, match=r"different config \(model\.cell: 'lstm' -> 'gru'; "
                       r"training\.num_epochs: 1 -> 2\)"):  # fmt: skip
        train_and_evaluate(config, tmp_path / "run")
    assert (tmp_path / "run" / "results.json").read_text() == before


def test_check_same_config_accepts_its_own_json_and_refuses_another(tmp_path):
    config = sine.get_config("smoke")  # hidden_sizes is a tuple; JSON gives it back as a list
    settings = run_folder.check_same_config(tmp_path, config)
    assert list(tmp_path.iterdir()) == []  # writes nothing
    assert settings["model"]["hidden_sizes"] == [8]
    run_folder.write_json(tmp_path / "config.json", settings)
    assert run_folder.check_same_config(tmp_path, config) == settings
    # A folder written before configs had `imports` holds the same config as imports=().
    assert settings["imports"] == []
    legacy = {key: value for key, value in settings.items() if key != "imports"}
    run_folder.write_json(tmp_path / "config.json", legacy)
    assert run_folder.check_same_config(tmp_path, config) == settings
    config.imports = ("json",)
    with pytest.raises(ValueError, match=r"different config \(imports: \(absent\) -> \['json'\]\)"):
        run_folder.check_same_config(tmp_path, config)
    config.imports = ()
    config.model.hidden_sizes = (16,)
    with pytest.raises(ValueError, match="holds a study with a different config"):
        run_folder.check_same_config(tmp_path, config, "study")


def test_objectives_match_numpy():
    predictions = np.array([[0.5], [-1.0], [2.0]], np.float32)
    batch = {"targets": np.array([[1.0], [0.0], [1.0]], np.float32)}
    targets = batch["targets"]
    regression = get_objective("regression")
    np.testing.assert_allclose(regression.loss(predictions, batch), [0.25, 1.0, 1.0])
    np.testing.assert_allclose(regression.metric(predictions, batch), [0.5, 1.0, 1.0])
    binary = get_objective("binary_classification")
    p = 1 / (1 + np.exp(-predictions[:, 0]))
    expected = -(targets[:, 0] * np.log(p) + (1 - targets[:, 0]) * np.log(1 - p))
    np.testing.assert_allclose(binary.loss(predictions, batch), expected, rtol=1e-6)
    np.testing.assert_array_equal(binary.metric(predictions, batch), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(binary.metric(-predictions, batch), [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="objective must be one of"):
        get_objective("ranking")


def test_classification_and_sequence_objectives_match_numpy(rng):
    logits = rng.normal(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 2])
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    classification = get_objective("classification")
    batch = {"targets": labels}
    np.testing.assert_allclose(
        classification.loss(logits, batch), -log_softmax[np.arange(4), labels], rtol=1e-5
    )
    np.testing.assert_array_equal(
        classification.metric(logits, batch), (logits.argmax(axis=1) == labels).astype(float)
    )
    # Token level: each sequence's mean over its valid steps; the rest never counts.
    logits = rng.normal(size=(2, 4, 5)).astype(np.float32)
    targets = np.array([[1, 2, 0, 0], [3, 4, 1, 0]])
    batch = {"targets": targets, "target_lengths": np.array([2, 3])}
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    token_losses = -np.take_along_axis(log_softmax, targets[..., None], axis=-1)[..., 0]
    sequence = get_objective("sequence")
    tokens = targets.copy()
    tokens[0, 3] = 4  # after the first sequence's end: still an exact match
    tokens[1, 1] = 0  # inside the second one: not
    predictions = {"logits": logits, "tokens": tokens}
    np.testing.assert_allclose(
        sequence.loss(predictions, batch),
        [token_losses[0, :2].mean(), token_losses[1, :3].mean()],
        rtol=1e-5,
    )
    changed = {"logits": logits.copy(), "tokens": tokens}
    changed["logits"][0, 2:] = 50.0
    np.testing.assert_allclose(
        sequence.loss(changed, batch), sequence.loss(predictions, batch), rtol=1e-6
    )
    np.testing.assert_array_equal(sequence.metric(predictions, batch), [1.0, 0.0])


def test_optimizer_clips_by_global_norm_and_follows_the_schedule():
    config = sine.get_config().optimizer
    config.name, config.learning_rate, config.clip_norm = "sgd", 0.1, 1.0
    params = {"w": jnp.zeros(4)}
    grads = {"w": jnp.full(4, 10.0)}  # global norm 20
    optimizer = make_optimizer(config, total_steps=100)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    np.testing.assert_allclose(updates["w"], -0.1 * 10.0 / 20.0 * np.ones(4), rtol=1e-5)
    config.clip_norm = None
    optimizer = make_optimizer(config, total_steps=100)
    state = optimizer.init(params)
    for _ in range(51):  # cosine decay: the 51st update (count 50 of 100) uses half the peak
        updates, state = optimizer.update(grads, state, params)
    np.testing.assert_allclose(updates["w"], -0.05 * 10.0 * np.ones(4), rtol=1e-5)


@pytest.mark.parametrize(
    ("script", "config", "args", "run"),
    [
        ("sine.py", "sine.py:smoke", ["--cells=gru", "--config.model.hidden_sizes=(4,)"], "gru"),
        ("xor.py", "xor.py:smoke", ["--cells=rnn", "--lengths=4,5"], "rnn_L5"),
    ],
)
def test_experiment_scripts_with_overrides(script, config, args, run, tmp_path):
    command = [
        sys.executable, str(ROOT / "experiments" / script),
        f"--config={ROOT / 'gru_lstm_jax' / 'configs' / config}", f"--workdir={tmp_path}", *args,
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = run_folder.read_json(tmp_path / run / "results.json")
    assert str(tmp_path / run) in completed.stdout
    assert results["cell"] == args[0].split("=")[1]
    if script == "sine.py":
        reference = results["references"]["test"]
        assert f"noise-free sine {reference['noise_free']:.4f}" in completed.stdout
        assert f"per-window phase fit {reference['phase_fit']:.4f}" in completed.stdout
        truth = results["noise_free_error"]["test"]
        assert f"against the noise-free sine: gru {truth['model']:.5f}" in completed.stdout
        assert run_folder.read_json(tmp_path / run / "config.json")["model"]["hidden_sizes"] == [4]
    else:
        assert (tmp_path / "accuracy_vs_length.png").exists()
        assert [r["length"] for r in run_folder.read_json(tmp_path / "sweep.json")] == [4, 5]
