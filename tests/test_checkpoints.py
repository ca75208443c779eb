"""Checkpoints are found from their files: the newest complete one, whatever the pointer file says; what killed
writes leave is removed."""

import os

import tensorflow as tf

from tests.conftest import run_python
from tfkit.jobs.checkpoints import CheckpointFiles, complete_checkpoints, latest_checkpoint, write_pointer


def saved(directory, steps, keep=3):
    weight = tf.Variable(0.0)
    files = CheckpointFiles(tf.train.Checkpoint(weight=weight), str(directory), keep)
    for step in steps:
        weight.assign(float(step))
        files.save(step)
    return files


def test_the_newest_complete_checkpoint_wins_over_a_stale_pointer_and_leftovers_are_removed(tmp_path):
    files = saved(tmp_path, [10, 20, 30])
    # What kills leave: the pointer rewritten back to an older checkpoint (its update never landed), a 0-byte
    # temporary pointer, TensorFlow's temporary shard folder, data shards whose index was never written, and an
    # index cut short.
    write_pointer(str(tmp_path), ["ckpt-10"])
    (tmp_path / "checkpoint.tmp5f3a").write_bytes(b"")
    (tmp_path / "ckpt-40_temp").mkdir()
    (tmp_path / "ckpt-40_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    (tmp_path / "ckpt-50.data-00000-of-00001").write_bytes(b"x")
    (tmp_path / "ckpt-60.data-00000-of-00001").write_bytes(b"x")
    (tmp_path / "ckpt-60.index").write_bytes(b"\x00\x01")

    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-10")  # what TensorFlow's own lookup says
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-30")
    assert files.clean() == ["checkpoint.tmp5f3a", "ckpt-40_temp", "ckpt-50.data-00000-of-00001"]
    assert tf.train.load_checkpoint(latest_checkpoint(str(tmp_path))).get_tensor("weight/.ATTRIBUTES/VARIABLE_VALUE") == 30


def test_only_the_newest_checkpoints_are_kept_and_the_pointer_names_them(tmp_path):
    saved(tmp_path, [1, 2, 3, 4, 5], keep=2)
    assert complete_checkpoints(str(tmp_path)) == [str(tmp_path / "ckpt-4"), str(tmp_path / "ckpt-5")]
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == str(tmp_path / "ckpt-5")
    assert list(state.all_model_checkpoint_paths) == [str(tmp_path / "ckpt-4"), str(tmp_path / "ckpt-5")]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "ckpt-4.data-00000-of-00001", "ckpt-4.index",
                                            "ckpt-5.data-00000-of-00001", "ckpt-5.index"]


def test_saving_calls_no_deprecated_tensorflow_api(tmp_path):
    # In a process of its own: TensorFlow says that an API is deprecated once per process.
    code = f"""
import tensorflow as tf
from tests.test_checkpoints import saved
saved({str(tmp_path)!r}, [1, 2, 3], keep=2)
print(tf.train.latest_checkpoint({str(tmp_path)!r}))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ckpt-3")
    assert "WARNING:tensorflow" not in result.stderr and "deprecated" not in result.stderr, result.stderr
