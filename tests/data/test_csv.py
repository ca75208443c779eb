"""The CSV reader on real files: types, missing values, labels, holdouts and located errors."""

import collections
import gzip

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import CENSUS_TEST, CENSUS_TRAIN
from tfkit.data import data_errors, explain, read_csv
from tfkit.errors import ConfigError, DataError

CENSUS_LABELS = dict(label="income", label_vocabulary=["<=50K", ">50K"], label_aliases={"<=50K.": "<=50K", ">50K.": ">50K"})


def collect(dataset):
    features, labels = {}, []
    for batch in dataset:
        batch_features, batch_labels = batch
        for key, value in batch_features.items():
            features.setdefault(key, []).extend(value.numpy().tolist())
        labels.extend(batch_labels.numpy().tolist())
    return features, labels


def error_of(dataset):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        collect(dataset)
    explained = explain(info.value)
    assert isinstance(explained, DataError)
    return str(explained)


def test_census_files_read_in_full_with_class_counts_from_the_source():
    features, labels = collect(read_csv(CENSUS_TRAIN, 1024, **CENSUS_LABELS))
    assert len(labels) == 32_561 and sum(labels) == 7_841  # SOURCES.md: 24,720 <=50K, 7,841 >50K
    assert features["workclass"][0] == b"State-gov"  # leading space stripped
    assert b"" in features["workclass"]  # "?" became missing
    assert isinstance(features["age"][0], int)
    _, test_labels = collect(read_csv(CENSUS_TEST, 4096, **CENSUS_LABELS))
    assert len(test_labels) == 16_281  # test labels end in "." and are read through the aliases


def test_holdout_is_deterministic_disjoint_and_complete():
    def rows(part=None):
        holdout = None if part is None else (part, 0.1)
        features, labels = collect(read_csv(CENSUS_TRAIN, 4096, holdout=holdout, **CENSUS_LABELS))
        return list(zip(labels, *(features[name] for name in sorted(features))))  # whole rows

    train, validation = rows("train"), rows("validation")
    assert len(train) + len(validation) == 32_561
    assert 0.08 < len(validation) / 32_561 < 0.12
    assert rows("validation") == validation
    # As multisets (the file repeats some rows): every row in exactly one part, none in both, none lost.
    assert collections.Counter(train) + collections.Counter(validation) == collections.Counter(rows())


def test_shuffle_changes_order_but_not_content(census_slice):
    plain, _ = collect(read_csv(census_slice[0], 64, **CENSUS_LABELS))
    shuffled, _ = collect(read_csv(census_slice[0], 64, shuffle=True, seed=3, **CENSUS_LABELS))
    assert plain["fnlwgt"] != shuffled["fnlwgt"]
    assert sorted(plain["fnlwgt"]) == sorted(shuffled["fnlwgt"])


def test_column_names_dtypes_defaults_and_selection(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1, a ,2.5,x\n?,b,NA,y\n")
    dataset = read_csv(
        str(path), 8, header=False, column_names=["n", "s", "f", "y"], label="y", label_vocabulary=["x", "y"],
        column_dtypes={"n": "float32"}, column_defaults={"n": -1.0, "f": 9.0}, na_values=["?", "NA"],
        select_columns=["n", "s", "f"],
    )
    features, labels = collect(dataset)
    assert features == {"n": [1.0, -1.0], "s": [b"a", b"b"], "f": [2.5, 9.0]}
    assert labels == [0, 1]


def test_gzip_and_globs_of_several_files(tmp_path):
    for i in range(3):
        with gzip.open(tmp_path / f"part-{i}.csv.gz", "wt") as f:
            f.write("x,y\n" + "".join(f"{i * 10 + j},{j % 2}\n" for j in range(5)))
    features, labels = collect(read_csv(str(tmp_path / "part-*.csv.gz"), 4, label="y"))
    assert sorted(features["x"]) == [i * 10 + j for i in range(3) for j in range(5)]
    assert all(isinstance(v, float) for v in labels)  # no vocabulary: a numeric label


@pytest.mark.parametrize("cache", ["memory", "none"])
def test_shards_are_read_once_each_per_pass_in_an_order_the_seed_repeats(tmp_path, cache):
    # Shards of different sizes, some larger than a parse batch (4,096 lines), read in parallel.
    sizes = [5000, 10, 4100, 0, 700, 9000]
    start = 0
    for index, size in enumerate(sizes):
        with gzip.open(tmp_path / f"part-{index}.csv.gz", "wt") as f:
            f.write("x,y\n" + "".join(f"{start + j},{j % 2}\n" for j in range(size)))
        start += size
    pattern = str(tmp_path / "part-*.csv.gz")

    def passes(**options):
        dataset = read_csv(pattern, 256, label="y", cache=cache, **options)
        return [[int(x) for features, _ in dataset for x in features["x"].numpy()] for _ in range(2)]

    in_order = passes()
    assert sorted(in_order[0]) == list(range(start)) and in_order[1] == in_order[0] == passes()[0]
    # Interleaved a parse batch at a time: the second shard's rows come before the first's 4,097th.
    assert in_order[0].index(5000) < in_order[0].index(4096)
    shuffled = passes(shuffle=True, seed=4)
    assert all(sorted(rows) == list(range(start)) for rows in shuffled)  # every row once a pass
    assert shuffled[0] != shuffled[1] and shuffled == passes(shuffle=True, seed=4)
    assert passes(shuffle=True, seed=5)[0] != shuffled[0]


def test_batches_the_quick_check_passes_and_batches_it_does_not_parse_alike(tmp_path):
    # One regular expression per line lets a batch of well-formed lines skip the checks that name a bad cell; a
    # quoted field (which may hold the delimiter) or an odd space sends its batch the checked way, same values.
    rows = [f"{i}, w{i % 5} ,{i / 4}, {'?' if i % 7 == 0 else i % 3},{'yes' if i % 2 else 'no'}" for i in range(50)]
    plain, odd = tmp_path / "plain.csv", tmp_path / "odd.csv"
    plain.write_text("n,s,f,k,y\n" + "\n".join(rows) + "\n")
    odd.write_text("n,s,f,k,y\n" + "\n".join(rows[:10] + ['10," w0 ",2.5, 1\v,no'] + rows[11:]) + "\n")
    read = [collect(read_csv(str(path), 16, label="y", label_vocabulary=["no", "yes"])) for path in (plain, odd)]
    assert read[0] == read[1]
    features, labels = read[0]
    assert features["s"][:2] == [b"w0", b"w1"] and features["k"][:3] == [0, 1, 2] and features["f"][1] == 0.25
    assert labels[:2] == [0, 1]


def test_cells_the_quick_check_must_not_let_through_are_named(tmp_path):
    # A missing label, and an empty number where "" is not a missing value, are errors with their line.
    path = tmp_path / "labels.csv"
    path.write_text("a,y\n1,0.5\n2,?\n")
    assert error_of(read_csv(str(path), 8, label="y")) == f"{path}, line 3: label 'y': value '?' is not a number"
    path.write_text("a,y\n1,0\n,1\n")
    assert error_of(read_csv(str(path), 8, label="y", na_values=("?",), column_dtypes={"a": "float32"})) == f"{path}, line 3: column 'a': value '' is not a number"


def test_wrong_number_of_fields_names_the_file_and_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text('a,b,y\n1,"x, with comma",0\n2,y\n')
    assert error_of(read_csv(str(path), 8, label="y")) == f"{path}, line 3: expected 3 fields, found 2"


def test_label_outside_the_vocabulary_names_the_value(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("a,y\n1,yes\n2,no\n3,maybe\n")
    message = error_of(read_csv(str(path), 2, label="y", label_vocabulary=["no", "yes"]))
    assert message == f"{path}, line 4: label 'y': value 'maybe' is not in label_vocabulary ['no', 'yes']"


def test_text_in_a_numeric_column_names_the_column(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("a,y\n1,0\nabc,1\n")
    message = error_of(read_csv(str(path), 8, label="y", column_dtypes={"a": "float32"}))
    assert message == f"{path}, line 3: column 'a': value 'abc' is not a number"
    labels = tmp_path / "labels.csv"
    labels.write_text("a,y\n1,0.5\n2,high\n")
    assert error_of(read_csv(str(labels), 8, label="y")) == f"{labels}, line 3: label 'y': value 'high' is not a number"


def test_missing_files_and_columns_are_reported_before_reading(tmp_path):
    with pytest.raises(DataError, match="No data file matches"):
        read_csv(str(tmp_path / "nothing-*.csv"))
    path = tmp_path / "h.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no label column 'y'"):
        read_csv(str(path), label="y")
    with pytest.raises(DataError, match="no column named 'c'"):
        read_csv(str(path), select_columns=["c"])
    other = tmp_path / "h2.csv"
    other.write_text("a,c\n1,2\n")
    with pytest.raises(DataError, match="differs from the header"):
        read_csv([str(path), str(other)])


def test_integer_columns_accept_float_spelling(tmp_path):
    path = tmp_path / "ints.csv"
    path.write_text("a\n3.0\n4\n")
    features = next(iter(read_csv(str(path), 2, column_dtypes={"a": "int64"})))
    assert features["a"].dtype == tf.int64 and features["a"].numpy().tolist() == [3, 4]
    assert np.issubdtype(features["a"].numpy().dtype, np.integer)


def test_a_threshold_makes_a_numeric_label_binary(tmp_path):
    from tfkit.config import validate

    path = tmp_path / "ratings.csv"
    path.write_text("words,rating\ngreat,5\nfine,4\nmeh,3.5\nbad,1\n")
    _, labels = next(iter(read_csv(str(path), 4, label="rating", label_threshold=4)))
    assert labels.numpy().tolist() == [1, 1, 0, 0]
    path.write_text("words,rating\ngreat,five\n")
    with pytest.raises(DataError, match=r"ratings.csv, line 2: label 'rating': value 'five' is not a number"):
        with data_errors():
            list(read_csv(str(path), 4, label="rating", label_threshold=4))
    base = {"data": {"train": "x.csv", "label": "rating", "label_threshold": 4}, "model": {"name": "wide_deep"}}
    assert validate(base)["data"]["label_vocabulary"] == ["< 4", ">= 4"]
    for extra, message in (({"label_vocabulary": ["a", "b", "c"]}, "makes two classes"),
                           ({"label_aliases": {"x": "y"}}, "cannot be used with data.label_aliases")):
        with pytest.raises(ConfigError, match=message):
            validate({**base, "data": {**base["data"], **extra}})


def test_labels_mapped_from_raw_values_and_a_numeric_label_taken_unchanged(tmp_path):
    from tfkit.config import validate

    path = tmp_path / "ratings.csv"
    path.write_text("words,stars\ngreat,5\nbad,1\nfine,4\nawful,2\nok,3\n")
    base = {"train": "x.csv", "label": "stars", "label_vocabulary": ["neg", "mixed", "pos"]}
    # YAML reads {1: neg} with integer keys: they are the cells' spellings.
    data = validate({"data": {**base, "label_aliases": {1: "neg", 2: "neg", 3: "mixed", 4: "pos", 5: "pos"}},
                     "model": {"name": "wide_deep"}})["data"]
    _, labels = next(iter(read_csv(str(path), 5, label="stars", label_vocabulary=data["label_vocabulary"],
                                   label_aliases=data["label_aliases"])))
    assert labels.numpy().tolist() == [2, 0, 2, 0, 1]
    for aliases, message in (({5: "great"}, r"data.label_aliases.5: maps to 'great', which is not in data.label_vocabulary"),):
        with pytest.raises(ConfigError, match=message):
            validate({"data": {**base, "label_aliases": aliases}, "model": {"name": "wide_deep"}})
    with pytest.raises(ConfigError, match="data.label_aliases: maps raw values to labels of data.label_vocabulary, which is not given"):
        validate({"data": {"train": "x.csv", "label": "stars", "label_aliases": {1: "neg"}}, "model": {"name": "wide_deep"}})
    # Without a vocabulary the label is a number for regression, as written.
    _, values = next(iter(read_csv(str(path), 5, label="stars")))
    assert values.dtype == tf.float32 and values.numpy().tolist() == [5.0, 1.0, 4.0, 2.0, 3.0]


@pytest.mark.parametrize("name", ["table.csv", "table.csv.gz", "members.csv.gz"])
def test_lines_read_in_process_are_the_lines_text_line_dataset_reads_numbered_alike(tmp_path, monkeypatch, name):
    from tfkit.data import lines as lines_lib

    text = (b"h1,h2\r\n1,a\r\n\r\n  \n2,b\rc\n" + b"3," + b"x" * 40 + b"\n" + b"4,\xc3\xa9\n\n5,last")
    path = tmp_path / name
    if name == "members.csv.gz":  # gzip members one after another (cat a.gz b.gz), zero padding after them
        path.write_bytes(gzip.compress(text[:30]) + gzip.compress(text[30:]) + b"\0" * 9)
    else:
        (gzip.open if name.endswith(".gz") else open)(path, "wb").write(text)

    def lines(in_process, first):
        batches = lines_lib.numbered_lines(str(path), first, in_process=in_process)
        return [(path.numpy().decode(), int(n), line) for path, numbers, text in batches
                for n, line in zip(numbers.numpy(), text.numpy())]

    expected = [(str(path), 2, b"1,a"), (str(path), 5, b"2,bc"), (str(path), 6, b"3," + b"x" * 40),
                (str(path), 7, b"4,\xc3\xa9"), (str(path), 9, b"5,last")]
    for chunk in (1 << 20, 16, 1):  # a chunk of several lines; chunks ending inside lines, or each line longer
        monkeypatch.setattr(lines_lib, "CHUNK_BYTES", chunk)
        assert lines(True, 2) == expected
        assert lines(True, 1) == [(str(path), 1, b"h1,h2")] + expected
        if name != "members.csv.gz":
            assert lines(False, 2) == expected and lines(False, 1) == lines(True, 1)


def test_a_truncated_gzip_file_read_in_process_is_named(tmp_path):
    from tfkit.data.lines import numbered_lines

    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress("".join(f"{i},{i * i}\n" for i in range(10_000)).encode())[:-100])
    with pytest.raises(DataError, match=f"{path}: cannot read it .*; the file is truncated or corrupt"):
        with data_errors():
            for _ in numbered_lines(str(path), in_process=True):
                pass


@pytest.mark.parametrize("in_process", [False, True])
def test_blank_lines_are_no_rows_whether_or_not_their_batch_passes_the_quick_check(tmp_path, in_process):
    from tfkit.data.csv import csv_examples

    # With several columns a blank line fails the check of every line, and is dropped only in a batch that fails
    # it; 5,000 of them in a row make batches of blank lines only (4,096 lines a batch from TextLineDataset).
    wide = tmp_path / "wide.csv"
    wide.write_text("n,word\n1,a\n\n  \n2,b\n" + "\n" * 5000 + "3,c\n\t\n")
    # With one, a blank line would pass it (one empty field): it is dropped as the lines are read.
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("word\na\n\n \nb\n")

    def rows(path, **columns):
        batches = csv_examples(str(path), column_dtypes=columns, in_process=in_process)
        return [tuple(row) for batch in batches for row in zip(*(batch[name].numpy().tolist() for name in columns))]

    assert rows(wide, n="int64", word="string") == [(1, b"a"), (2, b"b"), (3, b"c")]
    assert rows(narrow, word="string") == [(b"a",), (b"b",)]
    bad = tmp_path / "bad.csv"
    bad.write_text("n,word\n1,a\n\n" + "\n" * 5000 + "x,b\n")
    with pytest.raises(DataError, match=f"{bad}, line 5004: column 'n': value 'x' is not a number"):
        with data_errors():
            rows(bad, n="int64", word="string")
