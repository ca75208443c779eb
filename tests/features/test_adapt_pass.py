"""The adapt pass on the real census file: what it learns equals a plain count of the file, whichever way it reads."""

import csv
import gzip

import numpy as np
import pytest

from tests.conftest import CENSUS_TRAIN
from tfkit.data import read_csv
from tfkit.features import CategoricalColumn, NumericColumn, TextColumn, adapt
from tfkit.jobs.progress import RowProgress

CATEGORIES = ["workclass", "education", "occupation", "native-country"]
NUMBERS = ["age", "hours-per-week", "capital-gain"]


def census_rows():
    with gzip.open(CENSUS_TRAIN, "rt", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f, skipinitialspace=True) if row]


def census(batch_size):
    return read_csv(CENSUS_TRAIN, batch_size, label="income", label_vocabulary=["<=50K", ">50K"],
                    column_dtypes={name: "float32" for name in NUMBERS})


def columns():
    return ([CategoricalColumn(name, max_tokens=20 if name == "native-country" else None) for name in CATEGORIES]
            + [NumericColumn(name, normalize=True) for name in NUMBERS])


def test_vocabularies_and_moments_equal_a_plain_count_of_the_file_read_either_way():
    rows = census_rows()
    # In TensorFlow: values counted in the input pipeline (a summary of each batch).
    in_pipeline = columns()
    adapt(in_pipeline, census(4096))
    # In numpy: every batch's cells handed to each column.
    in_numpy = columns()
    accumulators = [column.adapt_accumulator() for column in in_numpy]
    for batch, _ in census(1000).as_numpy_iterator():
        for column, accumulator in zip(in_numpy, accumulators):
            column.adapt_update(accumulator, batch)
    for column, accumulator in zip(in_numpy, accumulators):
        column.adapt_finish(accumulator)

    for name, learned, numpy_learned in zip(CATEGORIES, in_pipeline, in_numpy):
        counts = {}
        for row in rows:
            if row[name] not in ("?", ""):
                counts[row[name]] = counts.get(row[name], 0) + 1
        expected = [value for value, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        expected = expected[:20] if name == "native-country" else expected
        assert learned.vocabulary == numpy_learned.vocabulary == expected, name
    for name, learned, numpy_learned in zip(NUMBERS, in_pipeline[len(CATEGORIES):], in_numpy[len(CATEGORIES):]):
        values = np.array([float(row[name]) for row in rows])
        for learned_mean, learned_variance in ((learned.mean, learned.variance), (numpy_learned.mean, numpy_learned.variance)):
            np.testing.assert_allclose(learned_mean, [values.mean()], rtol=1e-12)
            np.testing.assert_allclose(learned_variance, [values.var()], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["string", "int64"])
def test_multi_valued_cells_are_counted_the_same_in_the_pipeline_and_in_numpy(dtype):
    cells = np.array(["3|4", "4", "", "4|7|3", "4|"], dtype=object)
    batches = [{"genres": cells[:2]}, {"genres": cells[2:]}]
    in_pipeline, in_numpy = (CategoricalColumn("genres", dtype=dtype, delimiter="|") for _ in range(2))
    adapt([in_pipeline], batches)
    accumulator = in_numpy.adapt_accumulator()
    for batch in batches:
        in_numpy.adapt_update(accumulator, batch)
    in_numpy.adapt_finish(accumulator)
    expected = [4, 3, 7] if dtype == "int64" else ["4", "3", "7"]  # most frequent first, missing ones left out
    assert in_pipeline.vocabulary == in_numpy.vocabulary == expected


def test_a_text_vocabulary_is_counted_in_the_pipeline(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review\na fine film\nfilm noir\nfine film a\n")
    text = TextColumn("review", max_tokens=3)
    adapt([text], read_csv(str(path), 2))
    assert text.vocabulary == ["film", "a", "fine"]  # most frequent first, ties in word order


def test_progress_says_rows_read_rate_and_time_left(capsys):
    progress = RowProgress(total=4_000, every=0)
    progress(1_000)
    line = capsys.readouterr().out.strip()
    assert line.startswith("1,000 of about 4,000 rows read (25%), ") and line.endswith("s left") and "rows/s" in line
    RowProgress(every=0)(2_500)
    assert capsys.readouterr().out.strip().startswith("2,500 rows read, ")
    quiet = RowProgress(every=3600)
    quiet(10)
    assert capsys.readouterr().out == ""


def test_the_pass_over_lines_read_in_process_learns_what_the_pass_over_text_line_dataset_learns(monkeypatch):
    from tfkit.data import lines as lines_lib
    from tfkit.data.cache import batches
    from tfkit.data.csv import csv_examples

    opened, chunks = [], lines_lib._chunks

    def counted(path):
        opened.append(path)
        yield from chunks(path)

    monkeypatch.setattr(lines_lib, "_chunks", counted)

    def read(in_process):
        examples = csv_examples(CENSUS_TRAIN, label="income", label_vocabulary=["<=50K", ">50K"], holdout=("train", 0.1),
                                column_dtypes={name: "float32" for name in NUMBERS}, in_process=in_process)
        return batches(examples, 4096, "none")

    rows = {}
    for in_process in (False, True):
        rows[in_process] = [np.concatenate(column) for column in zip(*(
            [batch[0][name] for name in CATEGORIES + NUMBERS] + [batch[1]] for batch in read(in_process).as_numpy_iterator()))]
        assert len(opened) == (1 if in_process else 0)  # Python read the file, or TextLineDataset did
    assert len(rows[True][0]) == len(rows[False][0]) > 29_000  # the train part of 32,561 rows
    for fast, plain in zip(rows[True], rows[False]):
        np.testing.assert_array_equal(fast, plain)
    learned = {}
    for in_process in (False, True):
        learned[in_process] = columns()
        adapt(learned[in_process], read(in_process))
    for fast, plain in zip(learned[True], learned[False]):
        assert fast.get_config() == plain.get_config(), fast.name


def test_the_pass_runs_without_tf_data_autotuning_which_misjudged_its_parallelism():
    # bench/scale.py: census x100's pass took 11.5 s in three runs of three with autotuning, 5.7-7.4 s without.
    import tensorflow as tf

    from tfkit.features.adapt import Adapter

    data = tf.data.Dataset.from_tensor_slices({"hours": [38.0, 42.0]}).batch(2)
    summarized = Adapter([NumericColumn("hours", normalize=True)]).summarized(data)
    assert data.options().autotune.enabled is None and summarized.options().autotune.enabled is False
