"""A serving signature: its inputs and outputs as TensorFlow Serving describes them, and calls with checked inputs."""

import base64

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2


class BadRequest(ValueError):
    """A request the server cannot answer as sent (HTTP 400, gRPC INVALID_ARGUMENT)."""


class TooLarge(BadRequest):
    """A request over one of the server's limits (HTTP 413, gRPC RESOURCE_EXHAUSTED)."""


def _tensor_info(spec):
    shape = {"dim": [{"size": str(-1 if d is None else d), "name": ""} for d in spec.shape]} if spec.shape.rank is not None \
        else {"unknown_rank": True}
    return {"dtype": types_pb2.DataType.Name(spec.dtype.as_datatype_enum), "tensor_shape": shape, "name": spec.name or ""}


class Signature:
    """One signature of a loaded SavedModel (a concrete function taking named tensors)."""

    def __init__(self, name, function, method_name="tensorflow/serving/predict"):
        self.name = name
        self.function = function
        self.method_name = method_name
        self.inputs = dict(function.structured_input_signature[1])
        self.outputs = {key: tf.TensorSpec(value.shape, value.dtype, key) for key, value in function.structured_outputs.items()}

    def metadata(self):
        """The signature as TensorFlow Serving's ``SignatureDef`` JSON: inputs and outputs with dtypes and shapes."""
        return {
            "inputs": {key: _tensor_info(spec) for key, spec in sorted(self.inputs.items())},
            "outputs": {key: _tensor_info(spec) for key, spec in sorted(self.outputs.items())},
            "method_name": self.method_name,
        }

    def check_names(self, columns):
        """Raises BadRequest naming an input of ``columns`` the signature does not take, or one it takes that is missing."""
        unknown = sorted(set(columns) - set(self.inputs))
        if unknown:
            raise BadRequest(f"input {unknown[0]!r} is not an input of signature {self.name!r}; its inputs: {sorted(self.inputs)}")
        missing = sorted(set(self.inputs) - set(columns))
        if missing:
            raise BadRequest(f"input {missing[0]!r} is missing; signature {self.name!r} takes {sorted(self.inputs)}")

    def arrays(self, columns, max_rows=None, may_hold_booleans=True):
        """``{input: values}`` (a list per input, a row per value) as numpy arrays of the inputs' dtypes; and the rows.

        Raises BadRequest naming the input that is missing, unknown, of the
        wrong type (a JSON ``true`` is no number, as in TensorFlow Serving;
        ``may_hold_booleans`` False skips looking for one), or of another
        length than the others; TooLarge for more than ``max_rows`` rows,
        before any array is made.
        """
        self.check_names(columns)
        for key, values in columns.items():
            if max_rows is not None and isinstance(values, (list, np.ndarray)):
                check_rows(key, len(values), max_rows)
        arrays, rows = {}, None
        for key, spec in self.inputs.items():
            arrays[key] = _array(key, columns[key], spec, may_hold_booleans)
            if spec.shape.rank and arrays[key].ndim != spec.shape.rank:
                raise BadRequest(f"input {key!r}: expected values of rank {spec.shape.rank} (shape {spec.shape}), "
                                 f"got shape {list(arrays[key].shape)}")
            if rows is None:
                rows = len(arrays[key]) if arrays[key].ndim else 1
            elif arrays[key].ndim and len(arrays[key]) != rows:
                raise BadRequest(f"inputs have different numbers of rows: {len(arrays[key])} for {key!r}, {rows} for "
                                 f"{next(iter(arrays))!r}")
        return arrays, rows

    def __call__(self, arrays):
        """Runs the signature on ``arrays``; returns ``{output: numpy array}``."""
        results = self.function(**{key: tf.constant(value, self.inputs[key].dtype) for key, value in arrays.items()})
        return {key: value.numpy() for key, value in results.items()}


def model_error(error):
    """What a TensorFlow error raised by a signature says, without where in the graph it was raised.

    Example:

    >>> import tensorflow as tf
    >>> model_error(tf.errors.InvalidArgumentError(None, None, "Graph execution error:\\n\\nDetected at node P defined at "
    ...     "(most recent call last):\\n<stack traces unavailable>\\nKey: age, Index: 0.  Data types don't match.\\n\\t [[{{node P}}]]"))
    "Key: age, Index: 0.  Data types don't match."
    """
    lines = [line for line in error.message.splitlines() if line.strip() and not line.startswith(
        ("Graph execution error:", "Detected at node", "<stack traces unavailable>", "\t [[{{"))]
    return " ".join(lines) or error.message


def check_rows(key, rows, max_rows):
    """Raises TooLarge if input ``key`` has more than ``max_rows`` rows (``--max-rows``)."""
    if rows > max_rows:
        raise TooLarge(f"input {key!r} has {rows} rows; this server takes at most {max_rows} a request (--max-rows)")


def _array(key, values, spec, may_hold_booleans=True):
    """``values`` (JSON lists, or a numpy array from a gRPC tensor) as an array of the input's dtype."""
    if spec.dtype == tf.string:
        try:
            return np.array(_as_bytes(values.tolist() if isinstance(values, np.ndarray) else values), dtype=object)
        except (TypeError, ValueError) as error:
            raise BadRequest(f"input {key!r}: expected strings, {error}") from None
    try:
        array = np.asarray(values)
    except ValueError as error:  # nested lists of different lengths
        raise BadRequest(f"input {key!r}: {error}") from None
    if spec.dtype != tf.bool and (array.dtype.kind == "b" or (
            may_hold_booleans and array.dtype.kind in "iuf" and _holds_boolean(values))):  # as TensorFlow Serving
        raise BadRequest(f"input {key!r}: expected {spec.dtype.name} numbers, got true or false")
    if array.dtype.kind not in "biuf":  # a string, null, object or b64 among the numbers, or an integer too large
        found = _first_not_number(values)
        raise BadRequest(f"input {key!r}: expected {spec.dtype.name} numbers, " +
                         ("got a number too large for any numeric type" if found is _NUMBERS_ONLY else f"got {found!r}"))
    try:
        return array.astype(spec.dtype.as_numpy_dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise BadRequest(f"input {key!r}: expected {spec.dtype.name} values, {error}") from None


_NUMBERS_ONLY = object()


def _holds_boolean(values):
    """Whether (nested) list ``values`` holds a boolean (numpy makes ``[1.5, true]`` floats)."""
    if isinstance(values, list):
        return any(_holds_boolean(value) for value in values)
    return isinstance(values, bool)


def _first_not_number(values):
    """The first value of ``values`` (a value, or nested lists of them) that is not a number, for the error message."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if not isinstance(values, list):
        return _NUMBERS_ONLY if isinstance(values, (int, float)) else values
    for value in values:
        found = _first_not_number(value)
        if found is not _NUMBERS_ONLY:
            return found
    return _NUMBERS_ONLY


def _as_bytes(values):
    """Strings as bytes, ``{"b64": ...}`` decoded (TensorFlow Serving's JSON for binary values), nested lists kept."""
    if isinstance(values, list):
        return [_as_bytes(v) for v in values]
    if isinstance(values, dict) and set(values) == {"b64"}:
        try:
            return base64.b64decode(values["b64"], validate=True)
        except (ValueError, TypeError):
            raise ValueError(f"not base64: {values['b64']!r}") from None
    if isinstance(values, str):
        return values.encode("utf-8")
    if isinstance(values, bytes):
        return values
    raise ValueError(f"got {values!r}")


def to_json(value):
    """A numpy output as JSON values: numbers, lists, strings (UTF-8, else ``{"b64": ...}``)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [to_json(v) for v in value.tolist()] if value.ndim else to_json(value.item())
        return value.tolist()
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value.item() if isinstance(value, np.generic) else value
