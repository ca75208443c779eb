"""Neural processes from the command line: the bundled configs, the exact-GP baseline, exports, plots, bad configs."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT, run_tfkit
from tfkit import cli
from tfkit.data import GPCurves

CNP_CONFIG = os.path.join(ROOT, "configs", "gp_cnp.yaml")
ANP_CONFIG = os.path.join(ROOT, "configs", "gp_anp.yaml")
FEW_STEPS = ["--set", "train.epochs=2", "--set", "train.steps_per_epoch=20", "--set", "train.verbose=0"]


@pytest.fixture(scope="module")
def cnp_run(tmp_path_factory):
    job_dir = tmp_path_factory.mktemp("cnp")
    result = run_tfkit("train", CNP_CONFIG, "--job-dir", str(job_dir), *FEW_STEPS, "--set", "data.test.num_batches=2")
    assert result.returncode == 0, result.stderr
    return job_dir, result.stdout


def test_cnp_config_trains_and_reports_the_exact_gp_next_to_it(cnp_run):
    job_dir, stdout = cnp_run
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["steps"] == 40
    for split in ("validation", "test"):
        assert set(metrics[split]) == {"loss", "nll", "exact_gp_nll"}
        # 40 steps of a CNP are far from the Bayes-optimal answer on the same curves.
        assert metrics[split]["exact_gp_nll"] < metrics[split]["nll"] - 0.3
    assert "test: exact_gp_nll=" in stdout


def test_the_export_serves_mean_and_stddev_from_raw_points(cnp_run):
    job_dir, _ = cnp_run
    export = os.path.join(job_dir, "export", sorted(os.listdir(job_dir / "export"))[-1])
    serving = tf.saved_model.load(export).signatures["serving_default"]
    assert sorted(serving.structured_input_signature[1]) == ["context_x", "context_y", "target_x"]
    features, _ = next(iter(GPCurves(batch_size=3, testing=True, seed=4).dataset()))
    served = serving(**features)
    assert served["mean"].shape == served["stddev"].shape == (3, 400, 1)
    assert float(tf.reduce_min(served["stddev"])) >= 0.1
    # Fewer context points in another call: the signature takes any number of points.
    fewer = serving(context_x=features["context_x"][:, :2], context_y=features["context_y"][:, :2],
                    target_x=features["target_x"][:, :5])
    assert fewer["mean"].shape == (3, 5, 1)


def test_plot_writes_a_png_of_the_test_curves(cnp_run, tmp_path, capsys):
    job_dir, _ = cnp_run
    output = tmp_path / "curves.png"
    status = cli.main(["plot", CNP_CONFIG, "--job-dir", str(job_dir), "--output", str(output), "--num-curves", "2",
                       "--set", "data.test.num_batches=2"])
    assert status == 0
    assert output.read_bytes()[:4] == b"\x89PNG" and output.stat().st_size > 20_000
    said = re.search(rf"Wrote {re.escape(str(output))} \(NLL per target point of its test batch: "
                     r"(\w+) (-?[\d.]+), exact GP (-?[\d.]+)\)", capsys.readouterr().out)
    assert said, "the model's and the exact GP's NLL are printed"
    assert said.group(1) == "conditional_neural_process" and float(said.group(3)) < float(said.group(2))  # a few steps' CNP: far from the oracle
    assert not [name for name in os.listdir(tmp_path) if name != "curves.png"]  # no temporary left behind


def test_a_curves_figure_draws_the_exact_gp_beside_the_model_with_labelled_axes():
    from tfkit.jobs.plots import curves_figure

    x = np.array([[[1.0], [-1.0], [0.0]]])  # unsorted: drawn by x
    figure = curves_figure(x, x, x[:, :1], x[:, :1], 2 * x, np.full_like(x, 0.1), title="cnp; NLL per target point",
                           oracle=(3 * x, np.full_like(x, 0.2)))
    axis = figure.axes[0]
    lines = {line.get_label(): line.get_ydata().tolist() for line in axis.get_lines()}
    assert lines["model mean"] == [-2.0, 0.0, 2.0] and lines["exact GP mean"] == [-3.0, 0.0, 3.0]
    bands = {band.get_label(): band.get_paths()[0].vertices[:, 1] for band in axis.collections}
    assert np.isclose(bands["exact GP ±2σ"].min(), -3.4) and np.isclose(bands["model ±2σ"].max(), 2.2)  # two σ wide
    assert (axis.get_xlabel(), axis.get_ylabel(), axis.get_title()) == ("x", "y", "cnp; NLL per target point")
    assert "exact GP mean" not in [line.get_label() for line in curves_figure(x, x, x, x, x, x).axes[0].get_lines()]


def test_anp_config_trains_with_random_kernels_and_no_gp_baseline(tmp_path, capsys):
    status = cli.main(["train", ANP_CONFIG, "--job-dir", str(tmp_path), "--set", "train.epochs=1",
                       "--set", "train.steps_per_epoch=5", "--set", "train.verbose=0", "--set", "data.test.num_batches=1",
                       "--set", "data.validation.num_batches=1", "--set", "model.num_samples=2"])
    assert status == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # Each curve has its own kernel: no single GP is the Bayes-optimal answer, so none is reported.
    assert set(metrics["test"]) == {"loss", "nll"} and np.isfinite(metrics["test"]["nll"])
    assert json.loads((tmp_path / "model.json").read_text())["class_name"] == "AttentiveNeuralProcess"


@pytest.mark.parametrize("config, model_class, smaller", [
    ("gp_convcnp.yaml", "ConvCNP", ["--set", "model.points_per_unit=16", "--set", "model.unet_channels=[8, 8, 16]"]),
    ("gp_tnp.yaml", "TransformerNeuralProcess", ["--set", "model.num_layers=2"]),
])
def test_generalisation_configs_report_the_length_scale_averaged_gp_and_plot(config, model_class, smaller, tmp_path,
                                                                             capsys):
    path = os.path.join(ROOT, "configs", config)
    few = ["--job-dir", str(tmp_path), "--set", "train.epochs=1", "--set", "train.steps_per_epoch=10",
           "--set", "train.verbose=0", "--set", "data.test.num_batches=2", "--set", "data.validation.num_batches=2",
           *smaller]
    assert cli.main(["train", path, *few]) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert json.loads((tmp_path / "model.json").read_text())["class_name"] == model_class
    for split in ("validation", "test"):
        # The curves' length scale varies; the GP averaged over its range is reported and is far ahead of 10 steps.
        assert metrics[split]["exact_gp_nll"] < metrics[split]["nll"] - 0.3, metrics
    # The test targets reach [-4, 4) from context on [-2, 2): half of them far from every context point, where
    # even the exact GP can only give the prior.
    assert metrics["test"]["exact_gp_nll"] > metrics["validation"]["exact_gp_nll"] + 0.3, metrics
    capsys.readouterr()
    assert cli.main(["plot", path, *few, "--output", str(tmp_path / "curves.png"), "--num-curves", "1"]) == 0
    assert "exact GP" in capsys.readouterr().out and (tmp_path / "curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("overrides, message", [
    (["--set", "data.train.l1_scal=0.5"], "data.train.l1_scal: unknown key. Expected one of: max_num_context, x_size"),
    (["--set", "data.train.batch_size=8"], "data.train.batch_size: unknown key (data.batch_size sets it)"),
    (["--set", "train.steps_per_epoch=null"], "train.steps_per_epoch: missing; gp_curves training data has no end"),
    (["--set", "data.test=curves.csv"], "data.test: gp_curves data is drawn, not read"),
    (["--set", "data.validation_split=0.1"], "data.validation_split: not used by gp_curves data"),
    (["--set", "data.train.kernel=rbf"], "Unknown kernel 'rbf'"),
    (["--set", "data.train.x_size=2"], "data.train: the curves have x_size=2 but the model reads context_x=1; "
                                       "set model.x_size to match"),
])
def test_bad_curve_configs_exit_2_naming_the_key(overrides, message, tmp_path, capsys):
    status = cli.main(["train", CNP_CONFIG, "--job-dir", str(tmp_path), *FEW_STEPS, *overrides])
    assert status == 2
    assert message in capsys.readouterr().err


def test_plot_refuses_data_that_are_not_curves(tmp_path, capsys):
    status = cli.main(["plot", os.path.join(ROOT, "configs", "census.yaml"), "--job-dir", str(tmp_path)])
    assert status == 2
    assert "tfkit plot draws curves; it needs gp_curves data" in capsys.readouterr().err
