"""The tfkit command end to end on a slice of the real census data, in real processes."""

import glob
import json
import os
import platform
import re

import keras
import pytest

from tests.conftest import CENSUS_CONFIG, majority_rate, run_python, run_tfkit


def small_run(census_slice, job_dir, *extra):
    train, test = census_slice
    return [
        CENSUS_CONFIG, "--job-dir", str(job_dir),
        "--set", f"data.train={train}", "--set", f"data.test={test}",
        "--set", "data.batch_size=128", "--set", "train.verbose=0", *extra,
    ]


@pytest.fixture(scope="module")
def trained(census_slice, tmp_path_factory):
    job_dir = tmp_path_factory.mktemp("job")
    result = run_tfkit("train", *small_run(census_slice, job_dir, "--set", "train.epochs=2"))
    assert result.returncode == 0, result.stderr
    return job_dir, result


def test_help_answers_without_importing_tensorflow():
    code = "import sys, tfkit.cli as c\ntry: c.main(['train', '--help'])\nexcept SystemExit: pass\nprint('tensorflow' in sys.modules)"
    result = run_python(code)
    assert result.returncode == 0 and result.stdout.strip().endswith("False")
    assert "--set KEY=VALUE" in result.stdout


def test_train_writes_the_job_directory(trained, census_slice):
    job_dir, result = trained
    assert "test: accuracy=" in result.stdout and "Exported SavedModel:" in result.stdout
    # How data.cache: auto keeps train, and why, said before training.
    assert re.search(r"^data\.cache is auto: the data's parsed size \(about 1 MB\) fits in a quarter of the [\d.]+ GB "
                     r"of memory available, so it is kept in memory after the first pass\.$", result.stdout, re.M)
    metrics = json.loads((job_dir / "metrics.json").read_text())
    # A constant answer scores the majority rate (0.77 here) and an AUC of 0.5: the model must beat both.
    assert metrics["epochs"] == 2 and metrics["test"]["accuracy"] > majority_rate(census_slice[1]) + 0.02
    assert metrics["test"]["auc"] > 0.8, metrics["test"]
    assert {"validation", "test", "export"} <= set(metrics)
    assert len(metrics["history"]["loss"]) == 2
    assert (job_dir / "config.yaml").exists() and (job_dir / "model.json").exists()
    assert sorted(os.listdir(job_dir / "checkpoints"))[0] == "checkpoint"
    assert glob.glob(str(job_dir / "logs" / "train" / "events.out.tfevents.*"))
    assert glob.glob(str(job_dir / "logs" / "validation" / "events.out.tfevents.*"))
    assert os.path.isfile(os.path.join(metrics["export"], "saved_model.pb"))
    assert not glob.glob(str(job_dir / "export" / ".tmp-*"))
    # What wrote them: in metrics.json and in the export itself.
    import tensorflow as tf
    import tfkit
    from tfkit.export import export_versions

    expected = {"tfkit": tfkit.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
                "python": platform.python_version()}
    assert metrics["versions"] == expected and export_versions(metrics["export"]) == expected


def test_each_epoch_counts_the_steps_it_took(trained, census_slice):
    # Keras' fit adds a phantom step to the optimizer's count at the end of each pass over a dataset
    # of unknown length (a filtered CSV); tfkit's training datasets state their length.
    import yaml

    from tfkit.data import read_csv

    job_dir, _ = trained
    data = yaml.safe_load((job_dir / "config.yaml").read_text())["data"]
    batches = sum(1 for _ in read_csv(census_slice[0], 128, label=data["label"], label_vocabulary=data["label_vocabulary"],
                                      column_names=data["column_names"], holdout=("train", data["validation_split"])))
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["steps_per_epoch"] == batches and metrics["steps"] == 2 * batches


def test_tensorboard_logs_hold_loss_metrics_and_learning_rates(trained):
    job_dir, _ = trained
    code = (
        "import glob, sys, tensorflow as tf\n"
        "tags = set()\n"
        "for path in glob.glob(sys.argv[1] + '/logs/train/events*'):\n"
        "    for event in tf.compat.v1.train.summary_iterator(path):\n"
        "        tags.update(v.tag for v in event.summary.value)\n"
        "print(sorted(tags))"
    )
    tags = run_python(code, str(job_dir)).stdout
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_auc", "epoch_learning_rate_wide", "epoch_learning_rate_deep"):
        assert tag in tags


def test_predict_json_instances_from_the_export_with_tensorflow_only(trained, tmp_path):
    job_dir, _ = trained
    instances = tmp_path / "instances.json"
    rows = [
        {"age": 25, "workclass": "Private", "education": "11th", "education_num": 7, "marital_status": "Never-married",
         "occupation": "Machine-op-inspct", "relationship": "Own-child", "race": "Black", "sex": "Male",
         "capital_gain": 0, "capital_loss": 0, "hours_per_week": 40, "native_country": "United-States"},
        {"age": 52, "workclass": "Self-emp-inc", "education": "Doctorate", "education_num": 16,
         "marital_status": "Married-civ-spouse", "occupation": "Exec-managerial", "relationship": "Husband",
         "race": "White", "sex": "Male", "capital_gain": 15024, "capital_loss": 0, "hours_per_week": 60,
         "native_country": "United-States"},
    ]
    instances.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_tfkit("predict", str(job_dir / "export"), "--json-instances", str(instances))
    assert result.returncode == 0, result.stderr
    predictions = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(predictions) == 2
    for p in predictions:
        assert set(p) == {"class_ids", "classes", "logistic", "logits", "probabilities"}
        assert sum(p["probabilities"]) == pytest.approx(1.0, abs=1e-5)
        assert p["classes"][0] in ("<=50K", ">50K")
    assert predictions[1]["logistic"][0] > predictions[0]["logistic"][0]  # the doctor with capital gains earns more

    # The SavedModel serves without tfkit: block its import in a fresh interpreter.
    code = (
        "import sys; sys.modules['tfkit'] = None\n"
        "import tensorflow as tf\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "import json; row = json.loads(open(sys.argv[2]).readline())\n"
        "spec = f.structured_input_signature[1]\n"
        "out = f(**{k: tf.constant([row[k]], s.dtype) for k, s in spec.items()})\n"
        "print(float(out['logistic'][0, 0]))"
    )
    metrics = json.loads((job_dir / "metrics.json").read_text())
    served = run_python(code, metrics["export"], str(instances))
    assert served.returncode == 0, served.stderr
    assert float(served.stdout.strip()) == pytest.approx(predictions[0]["logistic"][0], abs=1e-5)


def test_batch_prediction_of_a_csv_to_json_lines(trained, census_slice, tmp_path):
    job_dir, _ = trained
    output = tmp_path / "predictions.jsonl"
    result = run_tfkit("predict", str(job_dir / "export"), "--csv", census_slice[1], "--output", str(output))
    assert result.returncode == 0, result.stderr
    lines = output.read_text().splitlines()
    assert len(lines) == 500  # every row of the test slice, header excluded
    assert all(json.loads(line)["classes"][0] in ("<=50K", ">50K") for line in lines)


def test_evaluate_and_export_use_the_latest_checkpoint(trained, census_slice, tmp_path):
    job_dir, _ = trained
    metrics = json.loads((job_dir / "metrics.json").read_text())
    evaluated = run_tfkit("evaluate", *small_run(census_slice, job_dir, "--set", "train.epochs=2"))
    assert evaluated.returncode == 0, evaluated.stderr
    accuracy = float(evaluated.stdout.split("test: accuracy=")[1].split()[0])
    assert accuracy == pytest.approx(metrics["test"]["accuracy"], abs=1e-4)
    exported = run_tfkit("export", *small_run(census_slice, job_dir, "--set", "train.epochs=2"), "--export-dir", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    assert os.path.isfile(os.path.join(exported.stdout.split(": ")[-1].strip(), "saved_model.pb"))


def test_checkpoints_are_numbered_by_step_and_taken_every_checkpoint_steps(census_slice, tmp_path):
    job_dir = tmp_path / "job"
    result = run_tfkit("train", *small_run(census_slice, job_dir, "--set", "train.epochs=2",
                                           "--set", "train.checkpoint_steps=7", "--set", "export=false"))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((job_dir / "metrics.json").read_text())
    per_epoch = metrics["steps_per_epoch"]
    assert metrics["steps"] == 2 * per_epoch
    saved = sorted(set(range(7, 2 * per_epoch + 1, 7)) | {per_epoch, 2 * per_epoch})
    state = (job_dir / "checkpoints" / "checkpoint").read_text()
    kept = [int(n) for n in re.findall(r'all_model_checkpoint_paths: "ckpt-(\d+)"', state)]
    assert kept == saved[-3:]  # train.keep_checkpoints
    # Each holds the epochs completed by its step, also where a step save and an epoch's end coincide.
    import tensorflow as tf

    for step in kept:
        reader = tf.train.load_checkpoint(str(job_dir / "checkpoints" / f"ckpt-{step}"))
        assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == step // per_epoch


def test_a_changed_model_is_refused_in_an_old_job_dir(trained, census_slice):
    job_dir, _ = trained
    result = run_tfkit("train", *small_run(census_slice, job_dir, "--set", "model.num_layers=2"))
    assert result.returncode == 2
    assert "holds a run whose model differs from this config" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "train.epoch=3"], "train.epoch: unknown key"),
        (["--set", "model.name=wide_and_deep"], "Unknown model 'wide_and_deep'"),
        (["--set", "data.batch_size=big"], "data.batch_size: expected an integer"),
        (["--set", "model.wide_columns=[educaton]"], "model.wide_columns[0]: column 'educaton' is not defined"),
        (["--set", "data.label_vocabulary=[low, high]", "--set", "data.label_aliases=null"],
         "label 'income_bracket': value '<=50K' is not in label_vocabulary ['low', 'high']"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(census_slice, tmp_path, extra, message):
    result = run_tfkit("train", *small_run(census_slice, tmp_path / "job", *extra))
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_malformed_csv_row_is_reported_with_file_and_line(census_slice, tmp_path):
    broken = tmp_path / "broken.csv"
    lines = open(census_slice[0]).read().splitlines(keepends=True)
    lines[41] = "39, State-gov, 77516\n"
    broken.write_text("".join(lines))
    result = run_tfkit("train", *small_run(census_slice, tmp_path / "job", "--set", f"data.train={broken}"))
    assert result.returncode == 2
    assert f"{broken}, line 42: expected 15 fields, found 3" in result.stderr
    assert "Traceback" not in result.stderr
