import dataclasses
import json
import math
import textwrap

import numpy as np
import pytest

from gru_lstm_jax.analysis import compare
from gru_lstm_jax.analysis.compare_report import write_report
from gru_lstm_jax.studies import run_study, study_configs
from gru_lstm_jax.tasks import base

ACCURACY = {"metric": "accuracy", "higher_is_better": True}
MAE = {"metric": "mae", "higher_is_better": False}


def _records(task, cell, tests, num_params=100, speed=10.0, metric=ACCURACY):
    return [
        {"task": task, "cell": cell, "seed": seed, **metric, "num_params": num_params,
         "test": value, "val": value + 0.01, "steps_per_s": speed + seed,
         "seconds_per_epoch": 2.0 + seed,
         "curve": {"epoch": [1, 2, 3], "val_loss": [1.0, 0.5 + seed, 0.2]}}
        for seed, value in enumerate(tests)
    ]  # fmt: skip


def test_summarize_gives_mean_and_sample_std_per_task_and_cell():
    records = _records("xor_L20", "lstm", [0.5, 0.7, 0.9]) + _records("xor_L20", "gru", [1.0])
    summary = compare.summarize(records)
    lstm, gru = summary["xor_L20"]["lstm"], summary["xor_L20"]["gru"]
    assert lstm["seeds"] == 3 and gru["seeds"] == 1
    assert lstm["metric"] == "accuracy" and lstm["higher_is_better"] is True
    assert lstm["test_mean"] == pytest.approx(0.7)
    assert lstm["test_std"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))
    assert lstm["val_mean"] == pytest.approx(0.71)
    assert lstm["steps_per_s_mean"] == pytest.approx(11.0)
    assert lstm["steps_per_s_std"] == pytest.approx(1.0)
    assert gru["test_std"] == 0.0


def test_metric_labels_and_formats_come_from_the_metric():
    assert compare.metric_label("mae") == "MAE"
    assert compare.metric_label("exact_match") == "exact match"
    assert compare.metric_label("accuracy") == "accuracy"
    assert compare.shown_in_percent(True, [0.5, 1.0])
    assert not compare.shown_in_percent(False, [0.5])  # an error, not a score
    assert not compare.shown_in_percent(True, [0.5, 3.0])  # a score beyond [0, 1]
    assert compare.format_mean_std(0.995, 0.003, percent=True) == "99.5 ± 0.3%"
    assert compare.format_mean_std(0.0834, 0.0012, percent=False) == "0.0834 ± 0.0012"


def test_choice_follows_the_numbers_and_the_metric_direction():
    records = (
        _records("xor_L50", "lstm", [0.50, 0.52, 0.51], num_params=400)
        + _records("xor_L50", "gru", [0.99, 1.00, 0.98], num_params=300)
        # MAE: lower is better, and the LSTM is lower by far more than the spread.
        + _records("sine", "lstm", [0.010, 0.011, 0.012], num_params=400, metric=MAE)
        + _records("sine", "gru", [0.050, 0.051, 0.052], num_params=300, metric=MAE)
        + _records("seq2seq", "lstm", [0.90, 0.99, 0.80], num_params=400)
        + _records("seq2seq", "gru", [0.91, 0.85, 0.95], num_params=300)
    )
    lines = compare.choose_between_lstm_and_gru(compare.summarize(records))
    text = "\n".join(lines)
    xor_line = next(line for line in lines if line.startswith("- `xor_L50`"))
    sine_line = next(line for line in lines if line.startswith("- `sine`"))
    seq_line = next(line for line in lines if line.startswith("- `seq2seq`"))
    assert "**GRU** is better" in xor_line and "0.75x the LSTM's parameters" in xor_line
    assert "**LSTM** is better" in sine_line and "(MAE, 3 seeds)" in sine_line
    assert "LSTM 0.0110 ± 0.0010" in sine_line
    assert "**tie**" in seq_line
    # Standard error of the xor difference: sqrt(2 * 0.01**2 / 3); the text gives the multiple.
    multiple = (0.99 - 0.51) / math.sqrt(2 * 0.01**2 / 3)
    assert f"by {multiple:.1f} standard errors" in xor_line
    assert "GRU better on 1, LSTM better on 1, tied on 1" in text
    assert "Neither cell dominates" in text


def test_choice_needs_both_cells_and_reports_a_clean_sweep():
    only_rnn = compare.summarize(_records("sine", "rnn", [0.1, 0.2], metric=MAE))
    assert "needs both" in compare.choose_between_lstm_and_gru(only_rnn)[0]
    sweep = compare.summarize(
        _records("xor_L20", "lstm", [0.5, 0.5]) + _records("xor_L20", "gru", [0.9, 0.9])
    )
    text = "\n".join(compare.choose_between_lstm_and_gru(sweep))
    assert "one seed or no spread" in text and "better default" in text


def test_report_labels_each_task_by_its_objective_metric(tmp_path):
    records = (
        _records("sine", "lstm", [0.08, 0.09], metric=MAE)
        + _records("sine", "gru", [0.07, 0.08], metric=MAE)
        + _records("xor_L20", "lstm", [0.9, 0.95])
        + _records("xor_L20", "gru", [0.97, 0.98])
    )
    study = {
        "settings": {"mode": "smoke", "cells": ["lstm", "gru"], "imports": [], "seeds": [0, 1],
                     "tasks": ["sine", "xor_L20"], "date": "2025-01-01 00:00", "machine": "cpu",
                     "jax": "0"},
        "notes": ["IMDB left out: not prepared."], "records": records,
        "summary": compare.summarize(records), "gradient_flow": None, "wall_time_s": 60.0,
    }  # fmt: skip
    report = write_report(study, tmp_path).read_text()
    assert "| cell | parameters | test MAE (lower is better) | validation MAE |" in report
    assert "| lstm | 100 | 0.0850 ± 0.0071 | 0.0950 ± 0.0071 |" in report
    assert "test accuracy (higher is better)" in report and "| gru | 100 | 97.5 ± 0.7% |" in report
    assert "MAE (lower is better) on `sine`; accuracy (higher is better) on `xor_L20`" in report
    assert "- IMDB left out: not prepared." in report
    assert "## Gradient flow" not in report and not (tmp_path / "gradient_flow.png").exists()
    for name in ("learning_curves.png", "metric_vs_params.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_study_configs_come_from_the_registered_tasks():
    full = study_configs(("sine", "xor", "seq2seq"), lengths={"xor": (20, 100)})
    assert list(full) == ["sine", "xor_L20", "xor_L100", "seq2seq"]
    assert full["xor_L100"].data.length == 100 and full["sine"].training.num_epochs == 100
    assert not any(config.training.progress for config in full.values())
    quick = study_configs(("sine", "xor", "imdb", "seq2seq"), mode="quick",
                          overrides={"imdb": {"data.data_dir": "/data/tfds"}})  # fmt: skip
    assert quick["sine"].training.num_epochs == 20 and quick["xor"].training.num_epochs == 5
    assert quick["imdb"].data.maxlen == 64 and quick["imdb"].data.data_dir == "/data/tfds"
    assert quick["seq2seq"].data.max_length == 6
    smoke = study_configs(("xor",), mode="smoke")
    assert smoke["xor"].data.length == 6


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"tasks": ("mnist",)}, "tasks must be a registered task"),
        ({"tasks": ("xor", "xor")}, "tasks must be distinct"),
        ({"mode": "fast"}, "mode must be one of"),
        ({"lengths": {"xor": (0,)}}, r"lengths\['xor'\] must be positive ints"),
        ({"lengths": {"adding": (10,)}}, "lengths names tasks .'adding'. that are not in tasks"),
        ({"lengths": {"sine": (10,)}}, r"lengths\['sine'\]: task 'sine'.s config has no data"),
        ({"overrides": {"xor": {"data.lenght": 3}}}, "'data.lenght' is not a field"),
        ({"overrides": {"xor": {"data.length": "long"}}}, "'data.length' cannot be set"),
    ],
)
def test_study_configs_reject_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        study_configs(**{"tasks": ("sine", "xor"), **arguments})


def test_a_task_without_a_config_cannot_join_a_study(monkeypatch):
    bare = dataclasses.replace(base.get_task("xor"), name="bare", config=None)
    monkeypatch.setitem(base._REGISTRY, "bare", bare)
    with pytest.raises(ValueError, match="task 'bare' has no config"):
        study_configs(("bare",))


def test_run_study_checks_its_arguments_before_writing(tmp_path):
    with pytest.raises(ValueError, match="cells must be registered"):
        run_study(tmp_path / "study", cells=("lstm", "transformer"))
    with pytest.raises(ValueError, match="tasks must be a registered task"):
        run_study(tmp_path / "study", tasks=("sine", "mnist"))
    assert not (tmp_path / "study").exists()


USER_TASK = """
import dataclasses

from gru_lstm_jax.configs import xor
from gru_lstm_jax.tasks import get_task, register_task


def get_config(variant=""):
    config = xor.get_config(variant)
    config.data.name = "user_xor"
    config.data.length = 9
    return config


register_task(dataclasses.replace(get_task("xor"), name="user_xor", config=get_config))
"""


def test_smoke_study_of_a_user_task_writes_a_report_from_its_run_folders(tmp_path, monkeypatch):
    # A task of one's own joins the study by name, from an imported module; the registry is
    # restored afterwards.
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    (tmp_path / "study_user_task.py").write_text(textwrap.dedent(USER_TASK))
    monkeypatch.syspath_prepend(str(tmp_path))
    lines = []
    study = run_study(
        tmp_path / "study", cells=("lstm", "gru"), seeds=(0,), mode="smoke",
        tasks=("xor", "user_xor"), lengths={"xor": (6,)}, gradient_batch=8,
        progress=lines.append, imports=("study_user_task",),
    )  # fmt: skip
    workdir = tmp_path / "study"
    assert study["settings"]["tasks"] == ["xor_L6", "user_xor"]
    assert len(lines) == 4 and "xor_L6 lstm seed 0: test accuracy" in lines[0]
    saved = json.loads((workdir / "study.json").read_text())
    assert saved["summary"] == study["summary"]
    for name in ("report.md", "learning_curves.png", "metric_vs_params.png", "gradient_flow.png"):
        assert (workdir / name).stat().st_size > 0
    report = (workdir / "report.md").read_text()
    for cell in ("lstm", "gru"):
        results = json.loads(
            (workdir / "runs" / "user_xor" / cell / "seed0" / "results.json").read_text()
        )
        entry = study["summary"]["user_xor"][cell]
        assert entry["test_mean"] == results["final"]["test"]["accuracy"]
        assert entry["num_params"] == results["num_params"]
        assert f"| {cell} | {results['num_params']:,} | " in report
        record = next(r for r in study["records"] if r["task"] == "user_xor" and r["cell"] == cell)
        assert record["curve"]["epoch"] == [1, 2] and len(record["curve"]["val_loss"]) == 2
        # The gradient flow runs on the longest one-layer last-step classifier: the user's task.
        flow = study["gradient_flow"]["cells"][cell]
        assert len(flow["init"]) == 1 and len(flow["init"][0]) == 9
        assert all(v > 0 for v in flow["trained"][0])
    assert study["gradient_flow"]["task"] == "user_xor"
    assert "## Choosing between LSTM and GRU" in report and "`xor_L6`" in report
