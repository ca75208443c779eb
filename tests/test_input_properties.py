"""Property tests of the readers of user files on generated malformed input: a CSV file (training data, or rows
to predict) and ``--json-instances`` lines either read, or fail with a :class:`DataError` naming the file and a
line the file has; never another exception."""

import json
import re

import tensorflow as tf
from hypothesis import example, given
from hypothesis import strategies as st

from tfkit.data import data_errors, read_csv
from tfkit.errors import DataError
from tfkit.jobs.predict import _json_batches

HEADER = b"age,job,income\n"

cells = st.one_of(
    st.integers(-10**6, 10**6).map(lambda n: str(n).encode()),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: repr(x).encode()),
    st.sampled_from([b"", b"?", b" clerk ", b"yes", b"no", b"maybe", b'"quoted, with comma"', b'"un', b'a"b',
                     b"caf\xc3\xa9", b"caf\xe9", b"\xff\xfe", b"1e400", b"0x10", b" 12 "]),
    st.text(max_size=6).map(lambda text: text.encode("utf-8")),
)
rows = st.lists(cells, min_size=0, max_size=5).map(lambda row: b",".join(row))


def located(error, path, lines):
    """The error names ``path`` and one of its lines (1 is the header)."""
    match = re.match(re.escape(path) + r", line (\d+): ", str(error))
    return match is not None and 2 <= int(match.group(1)) <= lines


@given(st.lists(rows, min_size=1, max_size=8))
@example([b"39,clerk,no", b"", b"52, cook ,yes", b"  ", b"18,,no", b"7,pilot,yes"])  # reads: 4 rows, 2 blank lines
@example([b""])  # a file of blank lines: no batch of them reaches the checks (an empty batch failed their argmax)
def test_csv_rows_read_or_fail_naming_file_and_line(tmp_path_factory, generated):
    path = str(tmp_path_factory.mktemp("csv") / "rows.csv")
    with open(path, "wb") as f:
        f.write(HEADER + b"\n".join(generated) + b"\n")
    lines = 1 + sum(row.count(b"\n") + 1 for row in generated)
    # A row per line that is not blank (whitespace around a row is no row); the reader skips blank lines.
    expected_rows = sum(1 for line in b"\n".join(generated).split(b"\n") if line.strip())
    read = 0
    try:
        with data_errors():
            for features, labels in read_csv(path, 3, label="income", label_vocabulary=["no", "yes"],
                                             column_dtypes={"age": "float32", "job": "string"}):
                assert features["age"].dtype == tf.float32 and labels.dtype == tf.int32
                assert len(features["age"]) == len(features["job"]) == len(labels)
                read += len(labels)
    except DataError as error:
        assert located(error, path, lines), str(error)
    else:
        assert read == expected_rows  # every row read: none dropped, none made up


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)
instances = st.one_of(
    st.fixed_dictionaries({"age": json_values, "job": json_values, "count": json_values, "scores": json_values}),
    st.dictionaries(st.sampled_from(["age", "job", "count", "scores", "other"]), json_values),
).map(json.dumps)
json_lines = st.one_of(instances, json_values.map(json.dumps), st.text(max_size=10).filter(lambda t: "\n" not in t))
SPECS = {"age": tf.TensorSpec([None], tf.float32), "job": tf.TensorSpec([None], tf.string),
         "count": tf.TensorSpec([None], tf.int64), "scores": tf.TensorSpec([None, 2], tf.float32)}


@given(st.lists(json_lines, min_size=1, max_size=8))
@example([json.dumps({"age": 30 + i, "job": "clerk", "count": i, "scores": [0.5, i]}) for i in range(4)] + [" "])
def test_json_instances_read_or_fail_naming_file_and_line(tmp_path_factory, generated):
    path = str(tmp_path_factory.mktemp("json") / "instances.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(generated) + "\n")
    with open(path, encoding="utf-8") as f:  # an instance per line that is not blank, as Python reads text lines
        expected_rows = sum(1 for line in f if line.strip())
    read = 0
    try:
        for batch in _json_batches(path, SPECS, 3):
            assert batch["scores"].shape[1:] == (2,) and batch["count"].dtype == tf.int64
            assert {len(value) for value in batch.values()} == {len(batch["age"])}
            read += len(batch["age"])
    except DataError as error:
        match = re.match(re.escape(path) + r", line (\d+): ", str(error))
        assert match and 1 <= int(match.group(1)) <= len(generated), str(error)
    else:
        assert read == expected_rows  # every instance read: none dropped
