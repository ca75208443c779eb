"""ResNet from the command line: CIFAR-10 batches and TFRecords through tfkit train, and the digits proof."""

import json
import os

import numpy as np
import pytest

from tests.conftest import ROOT, run_python, run_tfkit
from tests.data.test_images import CLASSES, write_cifar_python

CIFAR10_CONFIG = os.path.join(ROOT, "configs", "cifar10_resnet.yaml")
DIGITS_CONFIG = os.path.join(ROOT, "configs", "digits_resnet.yaml")
SMALL = ["--set", "model.depth=8", "--set", "train.epochs=2", "--set", "train.steps_per_epoch=3",
         "--set", "data.batch_size=8", "--set", "train.verbose=0"]


@pytest.fixture(scope="module")
def cifar_folder(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py")
    write_cifar_python(folder, per_batch=16)
    return folder


def test_cifar10_config_trains_from_tfrecords_written_by_tfkit(cifar_folder, tmp_path):
    prefix = str(tmp_path / "records")
    for split, shards in (("train", 2), ("test", 1)):
        result = run_tfkit("to-tfrecords", cifar_folder, f"{prefix}/{split}", "--format", "cifar10", "--split", split,
                           "--shards", str(shards))
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"Wrote {80 if split == 'train' else 16} images (32x32x3) to {shards} file(s)" in result.stdout
        assert str(CLASSES) in result.stdout
    job_dir = tmp_path / "job"
    result = run_tfkit("train", CIFAR10_CONFIG, "--job-dir", str(job_dir), *SMALL,
                       "--set", "data.format=tfrecord", "--set", f"data.train={prefix}/train-*.tfrecord",
                       "--set", f"data.test={prefix}/test-*.tfrecord")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((job_dir / "metrics.json").read_text())
    assert metrics["steps"] == 6 and set(metrics) >= {"validation", "test", "export"}

    # The export takes raw uint8 images and answers with CIFAR's class names, with TensorFlow alone.
    code = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "spec = serve.structured_input_signature[1]['image']\n"
        "images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype='uint8')\n"
        "out = serve(image=tf.constant(images))\n"
        "print(json.dumps({'spec': [spec.dtype.name, spec.shape.as_list()], 'keys': sorted(out),\n"
        "                  'sums': out['probabilities'].numpy().sum(axis=1).tolist(),\n"
        "                  'classes': [c.decode() for c in out['classes'].numpy().ravel()]}))\n"
        "print('tfkit' in sys.modules)\n"
    )
    served = run_python(code, metrics["export"])
    assert served.returncode == 0, served.stderr[-2000:]
    report = json.loads(served.stdout.splitlines()[0])
    assert report["spec"] == ["uint8", [None, 32, 32, 3]]
    assert report["keys"] == ["class_ids", "classes", "logits", "probabilities"]
    np.testing.assert_allclose(report["sums"], 1.0, atol=1e-5)
    assert set(report["classes"]) <= set(CLASSES)
    assert served.stdout.splitlines()[1] == "False"

    # tfkit predict: JSON instances holding images as nested lists of pixels.
    instances = tmp_path / "instances.jsonl"
    images = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3)).tolist()
    instances.write_text("".join(json.dumps({"image": image}) + "\n" for image in images))
    predicted = run_tfkit("predict", metrics["export"], "--json-instances", str(instances))
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    lines = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(lines) == 2 and all(line["classes"][0] in CLASSES for line in lines)


def test_cifar10_config_trains_from_the_python_batches(cifar_folder, tmp_path):
    result = run_tfkit("train", CIFAR10_CONFIG, "--job-dir", str(tmp_path / "job"), *SMALL,
                       "--set", f"data.train={cifar_folder}", "--set", f"data.test={cifar_folder}",
                       "--set", "model.data_format=channels_first")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test: accuracy=" in result.stdout


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--set", "data.format=cifar100"], "data.format: expected one of csv, text, cifar10, image_folder, numpy, tfrecord"),
        (["--set", "data.label=income"], "data.label: only csv data has columns"),
        (["--set", "model.depth=21"], "depth must be 6n + 2"),
        (["--set", "model.image_shape=[28, 28, 1]"], "The images are [32, 32, 3] (height, width, channels) but the model takes [28, 28, 1]"),
        (["--set", "train.learning_rate_schedule.name=step"], "train.learning_rate_schedule.name: expected one of piecewise_constant"),
    ],
)
def test_bad_image_configs_exit_2_naming_the_key(cifar_folder, tmp_path, extra, message):
    result = run_tfkit("train", CIFAR10_CONFIG, "--job-dir", str(tmp_path / "job"), *SMALL,
                       "--set", f"data.train={cifar_folder}", "--set", f"data.test={cifar_folder}", *extra)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_truncated_cifar_batch_stops_training_with_the_file_named(tmp_path):
    folder = str(tmp_path / "cifar")
    write_cifar_python(folder)
    path = os.path.join(folder, "data_batch_5")
    content = open(path, "rb").read()
    open(path, "wb").write(content[:-500])
    result = run_tfkit("train", CIFAR10_CONFIG, "--job-dir", str(tmp_path / "job"), *SMALL,
                       "--set", f"data.train={folder}", "--set", f"data.test={folder}")
    assert result.returncode == 2
    assert f"{path}: not a CIFAR-10 python batch; the file is truncated or corrupt" in result.stderr
    assert not (tmp_path / "job" / "checkpoints").exists()


@pytest.mark.slow
def test_resnet20_learns_the_digits_with_the_cifar_recipe(tmp_path):
    result = run_tfkit("train", DIGITS_CONFIG, "--job-dir", str(tmp_path), "--set", "train.verbose=0", timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.97, metrics["test"]
    assert metrics["epochs"] == 20 and metrics["steps_per_epoch"] == 11
