"""Batch prediction with an exported SavedModel: JSON instances or CSV rows in, JSON lines out.

Like the old ``gcloud ml-engine predict --json-instances``: one JSON object of
raw features per input line, one JSON object of predictions per output line,
in the same order. Only TensorFlow is used to load and run the export.

``null`` is a missing value, as an empty cell of a training CSV file is: for
a string feature it is the empty string (the missing category), for a float
feature NaN, which the model replaces with the column's ``default_value``.
Every feature the model reads must be present in each object (``null`` if
unknown); features it does not read are ignored.
"""

import json
import os
import re
import sys

import numpy as np
import tensorflow as tf

from tfkit.data import CsvSchema, data_errors, expand_files, read_csv
from tfkit.io import faults
from tfkit.errors import DataError, TfkitError
from tfkit.export import latest_export
from tfkit.io.files import replacing


def signature_name(name):
    """The name a raw feature has in a serving signature (tf.function sanitizes ``-`` and the like)."""
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


def load_signature(export_dir):
    """The ``serving_default`` function of a SavedModel (or of the newest version in a folder)."""
    path = export_dir
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        path = latest_export(export_dir)
        if path is None:
            raise TfkitError(f"{export_dir} is neither a SavedModel nor a folder of exported versions.")
    signature = tf.saved_model.load(path).signatures["serving_default"]
    return signature, signature.structured_input_signature[1]


def _json_batches(path, specs, batch_size):
    batch = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                instance = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}, line {number}: not valid JSON: {error.msg}.") from None
            if not isinstance(instance, dict):
                raise DataError(f"{path}, line {number}: expected a JSON object of features, received {type(instance).__name__}.")
            instance = {signature_name(k): v for k, v in instance.items()}
            missing = sorted(set(specs) - set(instance))
            if missing:
                raise DataError(f"{path}, line {number}: missing feature(s) {', '.join(missing)}; the model reads {', '.join(sorted(specs))}.")
            batch.append((number, instance))
            if len(batch) == batch_size:
                yield _to_tensors(path, batch, specs)
                batch = []
    if batch:
        yield _to_tensors(path, batch, specs)


def _to_tensors(path, batch, specs):
    tensors = {}
    for key, spec in specs.items():
        width = spec.shape[1:].as_list()  # [] for one value per example, [n] for n
        rows = []
        for number, instance in batch:
            try:
                row = _values(instance[key], spec.dtype, width)
            except (TypeError, ValueError, OverflowError):
                kind = "a string" if spec.dtype == tf.string else f"a number ({spec.dtype.name})"
                if width:
                    kind = f"a list of {width[0] or 'any number of'} values, each {kind}"
                raise DataError(f"{path}, line {number}: feature {key!r} must be {kind} or null; "
                                f"received {json.dumps(instance[key])[:80]}.") from None
            rows.append(row)
        array = np.array(rows, dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype)
        tensors[key] = tf.constant(array, dtype=spec.dtype)
    return tensors


def _values(value, dtype, width):
    """One instance's value of a feature, checked and converted (null: missing), with the signature's width."""
    if width:
        if not isinstance(value, list) or (width[0] is not None and len(value) != width[0]):
            raise ValueError
        return [_values(v, dtype, width[1:]) for v in value]
    if isinstance(value, (bool, list, dict)):
        raise TypeError
    if dtype == tf.string:
        return "" if value is None else str(value)
    if value is None:
        if not dtype.is_floating:
            raise ValueError  # an integer has no missing value
        return float("nan")
    number = float(value) if dtype.is_floating else int(value) if isinstance(value, int) else int(float(value))
    if not dtype.is_floating and (float(value) != number or not dtype.min <= number <= dtype.max):
        raise ValueError
    return number


def _csv_batches(csv, specs, batch_size):
    # Match the header to the signature the way the signature's names were made.
    names = {signature_name(n): n for n in CsvSchema(expand_files(csv)).names}
    missing = sorted(set(specs) - set(names))
    if missing:
        raise DataError(f"{csv}: no column for feature(s) {', '.join(missing)}; the model reads {', '.join(sorted(specs))}.")
    dataset = read_csv(
        csv, batch_size, select_columns=[names[k] for k in sorted(specs)],
        column_dtypes={names[k]: s.dtype.name for k, s in specs.items()},
    )
    return dataset.map(lambda features: {signature_name(k): v for k, v in features.items()})


def _rows(outputs):
    arrays = {k: v.numpy() for k, v in outputs.items()}
    size = len(next(iter(arrays.values())))
    for i in range(size):
        yield {k: _plain(v[i]) for k, v in sorted(arrays.items())}


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value.item() if isinstance(value, np.generic) else value


def predict_file(export_dir, json_instances=None, csv=None, output=None, batch_size=256):
    """Writes one JSON prediction per instance; returns how many were written.

    ``output`` is written whole or not at all: to a temporary name first,
    renamed into place when every instance has its prediction, so a failed
    or killed run leaves the previous file (or none) where it was.
    """
    if batch_size < 1:
        raise TfkitError(f"--batch-size: expected an integer >= 1, received {batch_size}.")
    if json_instances is not None and not os.path.isfile(json_instances):
        what = "is a folder" if os.path.isdir(json_instances) else "no such file"
        raise TfkitError(f"--json-instances {json_instances}: {what}.")
    if output is not None and os.path.isdir(output):
        raise TfkitError(f"--output {output} is a folder; give the path of the file to write.")
    if output is not None and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise TfkitError(f"--output {output}: folder {os.path.dirname(os.path.abspath(output))} does not exist.")
    signature, specs = load_signature(export_dir)
    if json_instances is not None:
        batches = _json_batches(json_instances, specs, batch_size)
    else:
        batches = _csv_batches(csv, specs, batch_size)
    if output is None:
        return _write_predictions(signature, batches, sys.stdout)
    with replacing(output) as temporary, open(temporary, "w", encoding="utf-8") as out:
        return _write_predictions(signature, batches, out)


def _write_predictions(signature, batches, out):
    count = 0
    with data_errors():
        for features in batches:
            for row in _rows(signature(**features)):
                out.write(json.dumps(row) + "\n")
                count += 1
            out.flush()
            faults.point("predictions-written")
    return count
