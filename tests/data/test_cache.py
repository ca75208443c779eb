"""Parse once: cached readers, shuffling after the cache, one parse shared by a run's datasets."""

import glob
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tfkit import data
from tfkit.data import cache as cache_lib
from tfkit.errors import DataError
from tfkit.features.base import RawInput


def _table(tmp_path, rows=300):
    path = tmp_path / "table.csv"
    lines = ["id,word,label"] + [f"{i},w{i % 7},{'yes' if i % 3 == 0 else 'no'}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _ids(dataset):
    return [int(i) for features, _ in dataset for i in features["id"].numpy()]


def _read(path, **kwargs):
    return data.read_csv(path, 32, label="label", label_vocabulary=["no", "yes"], **kwargs)


def test_a_memory_cache_parses_the_file_once(tmp_path):
    path = _table(tmp_path)
    cached, uncached = _read(path, cache="memory"), _read(path, cache="none")
    assert _ids(cached) == _ids(uncached) == list(range(300))
    os.remove(path)  # a second pass reads the cache, not the file
    assert _ids(cached) == list(range(300))
    with pytest.raises(tf.errors.NotFoundError):
        _ids(uncached)


def test_a_file_cache_is_written_under_its_prefix_and_read_back(tmp_path):
    path, prefix = _table(tmp_path), str(tmp_path / "cache" / "table")
    with pytest.raises(DataError, match="does not exist"):
        _read(path, cache=prefix)
    os.makedirs(tmp_path / "cache")
    dataset = _read(path, cache=prefix, shuffle=True, seed=3)
    first = _ids(dataset)
    assert glob.glob(prefix + "*")
    os.remove(path)
    second = _ids(dataset)
    assert sorted(first) == sorted(second) == list(range(300)) and first != second


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_file_cache_the_memory_cache_and_no_cache_give_the_same_rows_in_the_same_batches(tmp_path, shuffle):
    path = _table(tmp_path, rows=1000)
    os.makedirs(tmp_path / "cache")
    modes = {"memory": "memory", "file": str(tmp_path / "cache" / "table"), "none": "none"}
    passes = {}
    for name, cache in modes.items():
        dataset = _read(path, cache=cache, shuffle=shuffle, seed=5, shuffle_buffer_size=100)
        passes[name] = [[[int(i) for i in features["id"].numpy()] for features, _ in dataset] for _ in range(2)]
        again = _read(path, cache=cache, shuffle=shuffle, seed=5, shuffle_buffer_size=100)
        assert [[int(i) for i in features["id"].numpy()] for features, _ in again] == passes[name][0], name
        for batches in passes[name]:  # every row once a pass, in batches of 32 and a last one of 8
            assert [len(batch) for batch in batches] == [32] * 31 + [8], name
            assert sorted(sum(batches, [])) == list(range(1000)), name
    assert glob.glob(modes["file"] + "*")
    if not shuffle:  # the files' order, whatever keeps the rows
        assert passes["memory"] == passes["file"] == passes["none"] == [[list(range(i, min(i + 32, 1000))) for i in range(0, 1000, 32)]] * 2
    else:  # a file cache and none shuffle through the same seeded buffer; memory draws a whole permutation
        assert passes["file"] == passes["none"] and passes["file"][0] != passes["file"][1]
        assert passes["memory"][0] != passes["memory"][1] != passes["file"][1]


def test_cached_shuffling_is_a_new_permutation_every_pass_and_seeded(tmp_path):
    path = _table(tmp_path)
    dataset = _read(path, shuffle=True, seed=7)
    passes = [_ids(dataset) for _ in range(3)]
    assert all(sorted(p) == list(range(300)) for p in passes)
    assert len({tuple(p) for p in passes}) == 3
    # A full permutation, not a buffer's worth: the last rows can come first.
    assert min(passes[0][:32]) < 100 and max(passes[0][:32]) >= 200
    again = _read(path, shuffle=True, seed=7)
    assert [_ids(again) for _ in range(3)] == passes
    assert _ids(_read(path, shuffle=True, seed=8)) != passes[0]
    sizes = [len(f["id"]) for f, _ in _read(path, shuffle=True, seed=7, drop_remainder=True)]
    assert sizes == [32] * 9


def test_auto_caches_in_memory_when_the_data_fits(tmp_path, monkeypatch):
    path = _table(tmp_path)
    assert cache_lib.resolve("auto", [path]) == "memory"
    # Four times the text's bytes against a quarter of the memory available.
    monkeypatch.setattr(cache_lib, "available_memory", lambda: 16 * os.path.getsize(path) - 1)
    assert cache_lib.resolve("auto", [path]) == "none"
    assert cache_lib.describe("auto", [path]).endswith("does not fit in a quarter of the 0.0 GB of memory available, "
                                                       "so it is read from the files on every pass.")
    monkeypatch.setattr(cache_lib, "available_memory", lambda: 16 * os.path.getsize(path))
    assert cache_lib.resolve("auto", [path]) == "memory"
    assert cache_lib.describe("auto", [path]).endswith(" fits in a quarter of the 0.0 GB of memory available, so it "
                                                       "is kept in memory after the first pass.")
    assert cache_lib.describe("none", [path]) == "data.cache is none: read from the files on every pass."
    census = os.path.join(os.path.dirname(__file__), "..", "..", "data", "census", "adult.data.csv.gz")
    assert cache_lib.text_bytes([census]) > 3 * os.path.getsize(census)  # uncompressed, from the gzip trailer
    with pytest.raises(DataError, match="cache must be"):
        cache_lib.resolve("")


def test_a_runs_training_and_validation_parts_share_one_parse(tmp_path):
    path = _table(tmp_path, rows=1000)
    specs = {"id": RawInput("int64"), "word": RawInput("string")}
    section = {"format": "csv", "label": "label", "label_vocabulary": ["no", "yes"], "label_aliases": None,
               "column_names": None, "header": True, "na_values": ["?", ""], "field_delim": ",", "cache": "auto",
               "shuffle_buffer_size": 100, "batch_size": 32}
    source = data.DataSource(section, specs)
    train = source.dataset(path, "train", training=True, holdout=("train", 0.2), seed=1)
    validation = source.dataset(path, "train", holdout=("validation", 0.2))
    everything = source.dataset(path, "train", batch_size=4096)
    assert len(_ids(everything)) == 1000  # this pass fills the cache...
    os.remove(path)  # ...which both parts read
    train_ids, validation_ids = _ids(train), _ids(validation)
    assert sorted(train_ids + validation_ids) == list(range(1000)) and 150 < len(validation_ids) < 250
    # The same split as the reader's own line holdout.
    path = _table(tmp_path, rows=1000)
    expected = _ids(_read(path, holdout=("validation", 0.2), cache="none"))
    assert validation_ids == expected
    assert np.all(np.diff(validation_ids) > 0)  # evaluation keeps the files' order


def _counting_transform(counter):
    """A transform that doubles ids and counts the rows it saw in ``counter`` (a tf.Variable)."""
    def transform(features, labels):
        counter.assign_add(tf.shape(features["id"], out_type=tf.int64)[0])
        return {**features, "id": features["id"] * 2}, labels
    return transform


@pytest.mark.parametrize("cache", ["memory", "none"])
def test_a_transform_is_applied_once_in_memory_and_each_pass_otherwise(tmp_path, cache):
    path = _table(tmp_path)
    dataset = _read(path, cache=cache, shuffle=True, seed=5)
    counter = tf.Variable(0, dtype=tf.int64)
    transformed = cache_lib.with_transform(dataset, _counting_transform(counter))
    passes = [_ids(transformed) for _ in range(3)]
    # The same shuffled order as the dataset it was made from, pass after pass, with the transform applied.
    assert passes == [[2 * i for i in _ids(dataset)] for _ in range(3)]
    assert len({tuple(p) for p in passes}) == 3
    assert int(counter.numpy()) == (300 if cache == "memory" else 900)


def test_a_file_cache_keeps_the_parsed_rows_and_transforms_each_pass(tmp_path):
    path, prefix = _table(tmp_path), str(tmp_path / "table-cache")
    dataset = _read(path, cache=prefix)
    counter = tf.Variable(0, dtype=tf.int64)
    transformed = cache_lib.with_transform(dataset, _counting_transform(counter))
    assert _ids(transformed) == [2 * i for i in range(300)]
    assert _ids(dataset) == list(range(300))  # the file holds the rows as parsed, not as transformed
    assert _ids(transformed) == [2 * i for i in range(300)] and int(counter.numpy()) == 600


def test_only_the_readers_datasets_and_their_repeats_take_a_transform(tmp_path):
    path = _table(tmp_path)
    counter = tf.Variable(0, dtype=tf.int64)
    repeated = _read(path, num_epochs=2)
    assert _ids(cache_lib.with_transform(repeated, _counting_transform(counter))) == [2 * i for i in range(300)] * 2
    assert cache_lib.with_transform(_read(path).map(lambda f, y: (f, y)), _counting_transform(counter)) is None
    assert cache_lib.with_transform(tf.data.Dataset.range(3), _counting_transform(counter)) is None


def _section(cache, buffer=100):
    return {"format": "csv", "label": "label", "label_vocabulary": ["no", "yes"], "label_aliases": None,
            "column_names": None, "header": True, "na_values": ["?", ""], "field_delim": ",", "cache": cache,
            "shuffle_buffer_size": buffer, "batch_size": 32}


def test_a_job_dir_cache_keeps_the_transformed_values_of_the_first_pass_in_files(tmp_path):
    path, spill = _table(tmp_path, rows=1000), str(tmp_path / "job" / "data-cache")
    specs = {"id": RawInput("int64"), "word": RawInput("string")}
    passes = {}
    for name in ("first", "again"):  # a source as a run makes it, twice: the same seed, the same passes
        source = data.DataSource(_section("job_dir"), specs, spill=spill)
        dataset = source.dataset(path, "train", training=True, seed=4)
        counter = tf.Variable(0, dtype=tf.int64)
        transformed = cache_lib.with_transform(dataset, _counting_transform(counter))
        passes[name] = [_ids(transformed)]
        assert int(counter.numpy()) == 1000 and glob.glob(os.path.join(spill, "transformed-*.index"))
        if name == "first":
            os.rename(path, path + ".away")  # the passes after the first read the files of transformed values
        passes[name] += [_ids(transformed) for _ in range(2)]
        assert int(counter.numpy()) == 1000  # transformed once
        if name == "first":
            os.rename(path + ".away", path)
        shutil.rmtree(spill)
    first = passes["first"]
    assert first == passes["again"] and len({tuple(p) for p in first}) == 3
    assert all(sorted(p) == list(range(0, 2000, 2)) for p in first)  # every row once a pass, transformed
    # Shuffled in windows of shuffle_buffer_size rows: the first batch comes from the first 100.
    assert all(max(p[:32]) < 200 for p in first) and first[0][:32] != list(range(0, 64, 2))
    # Without a transform (the adapt pass, raw batches), nothing is kept: the files are read each pass.
    raw = data.DataSource(_section("job_dir"), specs, spill=spill).dataset(path, "train", seed=4)
    assert _ids(raw) == list(range(1000)) and not os.path.exists(spill)


def test_auto_keeps_transformed_values_in_the_job_dir_when_the_data_does_not_fit_in_memory(tmp_path, monkeypatch):
    path, spill = _table(tmp_path), str(tmp_path / "job" / "data-cache")
    assert not cache_lib.spills("auto", [path], spill)  # it fits in memory
    monkeypatch.setattr(cache_lib, "available_memory", lambda: 16 * os.path.getsize(path) - 1)
    assert cache_lib.resolve("auto", [path]) == "none"
    assert cache_lib.spills("auto", [path], spill) and not cache_lib.spills("auto", [path], None)
    assert cache_lib.describe("auto", [path], spill).endswith(
        "does not fit in a quarter of the 0.0 GB of memory available, so it is read from the files in the first "
        f"epoch, and the model's transformed values are cached in files under {spill} for the epochs after it.")
    assert not cache_lib.spills("none", [path], spill) and cache_lib.spills("job_dir", [path], spill)
    # Not on a disk without twice the text's bytes free: then read from the files on every pass.
    monkeypatch.setattr(cache_lib, "_SPILL_DISK_PER_TEXT_BYTE", shutil.disk_usage(tmp_path).free)
    assert not cache_lib.spills("auto", [path], spill)
    assert cache_lib.describe("auto", [path], spill).endswith("so it is read from the files on every pass.")
    assert cache_lib.resolve("job_dir", [path]) == "none"  # what is kept is transformed, never parsed


def test_a_run_with_a_job_dir_cache_trains_its_later_epochs_from_the_files_it_wrote(census_slice, tmp_path, capsys,
                                                                                      monkeypatch):
    import socket
    import subprocess
    import sys

    import keras

    from tests.conftest import CENSUS_CONFIG
    from tfkit import config as config_lib
    from tfkit.data import lines as lines_lib
    from tfkit.jobs.run import Run

    opened, chunks = [], lines_lib._chunks

    def counted(path):
        opened.append(os.fsdecode(path))
        yield from chunks(path)

    monkeypatch.setattr(lines_lib, "_chunks", counted)  # a run on one machine reads its lines in Python
    train, test = census_slice
    moved = str(tmp_path / "train-moved.csv")
    spill = tmp_path / "job" / "data-cache"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = spill / f"{socket.gethostname()}-{int(ended.stdout)}-0badf00d"  # a run of this host that is gone
    running = spill / f"{socket.gethostname()}-{os.getppid()}-0000beef"  # one still running (evaluating, say)
    for folder in (killed, running):
        folder.mkdir(parents=True)
        (folder / "transformed-0_0.lockfile").write_text("partial")
    seen = []

    class AfterTheFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            own, = set(os.listdir(spill)) - {running.name}
            seen.append(sorted(os.listdir(spill / own)))
            if epoch == 0:
                os.rename(train, moved)  # epochs 2 and 3 (and their validation) cannot read it

        def on_train_end(self, logs=None):
            os.rename(moved, train)  # the evaluation after training reads the test file and the validation rows

    config = config_lib.load(CENSUS_CONFIG, [f"data.train={train}", f"data.test={test}", f"job_dir={tmp_path / 'job'}",
                                             "train.epochs=3", "train.verbose=0", "export=false", "data.cache=job_dir"])
    summary = Run(config, callbacks=[AfterTheFirstEpoch()]).train()
    assert "data.cache is job_dir: read from the files in the first epoch, and the model's transformed values are " \
           f"cached in files under {spill} for the epochs after it." in capsys.readouterr().out
    assert summary["epochs"] == 3 and summary["test"]["accuracy"] > 0.8
    assert train in opened and test in opened
    # Train and validation each in files of their own, written in the first epoch.
    assert all(len([f for f in names if f.endswith(".index")]) == 2 for names in seen), seen
    # The run's own folder is removed with it, the gone run's too; the running one's is left alone.
    assert os.listdir(spill) == [running.name]
