import json
import math

import numpy as np
import pytest

from gru_lstm_jax.analysis import compare


def _records(task, cell, tests, num_params=100, speed=10.0):
    return [
        {"task": task, "cell": cell, "seed": seed, "num_params": num_params, "test": value,
         "val": value + 0.01, "steps_per_s": speed + seed, "seconds_per_epoch": 2.0 + seed}
        for seed, value in enumerate(tests)
    ]  # fmt: skip


def test_summarize_gives_mean_and_sample_std_per_task_and_cell():
    records = _records("xor_L20", "lstm", [0.5, 0.7, 0.9]) + _records("xor_L20", "gru", [1.0])
    summary = compare.summarize(records)
    lstm, gru = summary["xor_L20"]["lstm"], summary["xor_L20"]["gru"]
    assert lstm["seeds"] == 3 and gru["seeds"] == 1
    assert lstm["test_mean"] == pytest.approx(0.7)
    assert lstm["test_std"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))
    assert lstm["val_mean"] == pytest.approx(0.71)
    assert lstm["steps_per_s_mean"] == pytest.approx(11.0)
    assert lstm["steps_per_s_std"] == pytest.approx(1.0)
    assert gru["test_std"] == 0.0


def test_choice_follows_the_numbers_and_the_metric_direction():
    records = (
        _records("xor_L50", "lstm", [0.50, 0.52, 0.51], num_params=400)
        + _records("xor_L50", "gru", [0.99, 1.00, 0.98], num_params=300)
        # MSE: lower is better, and the LSTM is lower by far more than the spread.
        + _records("sine", "lstm", [0.010, 0.011, 0.012], num_params=400)
        + _records("sine", "gru", [0.050, 0.051, 0.052], num_params=300)
        + _records("seq2seq", "lstm", [0.90, 0.99, 0.80], num_params=400)
        + _records("seq2seq", "gru", [0.91, 0.85, 0.95], num_params=300)
    )
    lines = compare.choose_between_lstm_and_gru(compare.summarize(records))
    text = "\n".join(lines)
    xor_line = next(line for line in lines if line.startswith("- `xor_L50`"))
    sine_line = next(line for line in lines if line.startswith("- `sine`"))
    seq_line = next(line for line in lines if line.startswith("- `seq2seq`"))
    assert "**GRU** is better" in xor_line and "0.75x the LSTM's parameters" in xor_line
    assert "**LSTM** is better" in sine_line
    assert "**tie**" in seq_line
    # Standard error of the xor difference: sqrt(2 * 0.01**2 / 3); the text gives the multiple.
    multiple = (0.99 - 0.51) / math.sqrt(2 * 0.01**2 / 3)
    assert f"by {multiple:.1f} standard errors" in xor_line
    assert "GRU better on 1, LSTM better on 1, tied on 1" in text
    assert "Neither cell dominates" in text


def test_choice_needs_both_cells_and_reports_a_clean_sweep():
    only_rnn = compare.summarize(_records("sine", "rnn", [0.1, 0.2]))
    assert "needs both" in compare.choose_between_lstm_and_gru(only_rnn)[0]
    sweep = compare.summarize(
        _records("xor_L20", "lstm", [0.5, 0.5]) + _records("xor_L20", "gru", [0.9, 0.9])
    )
    text = "\n".join(compare.choose_between_lstm_and_gru(sweep))
    assert "one seed or no spread" in text and "better default" in text


def test_study_configs_modes_and_errors(tmp_path):
    full, notes = compare.study_configs(mode="full", xor_lengths=(20, 100),
                                        imdb_data_dir=tmp_path / "no_data")  # fmt: skip
    assert list(full) == ["sine", "xor_L20", "xor_L100", "seq2seq"]
    assert full["xor_L100"].data.length == 100 and full["sine"].training.num_epochs == 100
    assert len(notes) == 1 and "IMDB left out" in notes[0]
    quick, _ = compare.study_configs(mode="quick", tasks=("sine", "seq2seq"))
    assert quick["sine"].training.num_epochs == 20 and quick["seq2seq"].training.steps == 300
    with pytest.raises(ValueError, match="tasks must be"):
        compare.study_configs(tasks=("mnist",))
    with pytest.raises(ValueError, match="mode must be"):
        compare.study_configs(mode="fast")
    with pytest.raises(ValueError, match="xor_lengths"):
        compare.study_configs(xor_lengths=(0,))
    with pytest.raises(ValueError, match="cells must be registered"):
        compare.run_study(tmp_path / "study", cells=("lstm", "transformer"))
    assert not (tmp_path / "study").exists()


def test_smoke_study_writes_a_report_from_its_run_folders(tmp_path):
    lines = []
    study = compare.run_study(
        tmp_path / "study", cells=("lstm", "gru"), seeds=(0,), mode="smoke", tasks=("xor",),
        xor_lengths=(6,), gradient_batch=8, progress=lines.append,
    )  # fmt: skip
    workdir = tmp_path / "study"
    assert len(lines) == 2 and all("xor_L6" in line for line in lines)
    saved = json.loads((workdir / "study.json").read_text())
    assert saved["summary"] == study["summary"]
    for name in ("report.md", "learning_curves.png", "metric_vs_params.png", "gradient_flow.png"):
        assert (workdir / name).stat().st_size > 0
    report = (workdir / "report.md").read_text()
    for cell in ("lstm", "gru"):
        results = json.loads(
            (workdir / "runs" / "xor_L6" / cell / "seed0" / "results.json").read_text()
        )
        entry = study["summary"]["xor_L6"][cell]
        assert entry["test_mean"] == results["final"]["test"]["accuracy"]
        assert entry["num_params"] == results["num_params"]
        assert f"| {cell} | {results['num_params']:,} | " in report
        flow = study["gradient_flow"]["cells"][cell]
        assert len(flow["init"]) == 1 and len(flow["init"][0]) == 6
        assert all(v > 0 for v in flow["trained"][0])
    assert "## Choosing between LSTM and GRU" in report and "`xor_L6`" in report
