"""TensorFlow Serving's REST predict format: rows (``instances``) or columns (``inputs``) in, ``predictions`` or ``outputs`` out."""

import json

from tfkit.serve.signatures import BadRequest, to_json


def parse_object(body, holding):
    """The JSON object of a request body; BadRequest for malformed JSON, another value, or a signature name not a string.

    ``holding`` says what the object holds, for the message.
    """
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"malformed JSON in the request body: {error}") from None
    except RecursionError:
        raise BadRequest("malformed JSON in the request body: nested too deeply") from None
    if not isinstance(request, dict):
        raise BadRequest(f"the request body must be a JSON object with {holding}; got {type(request).__name__}")
    name = request.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise BadRequest(f"\"signature_name\" must be a string; got {type(name).__name__}")
    return request


def parse_body(body):
    """The request object of a predict body; BadRequest for malformed JSON or a body holding neither or both formats."""
    request = parse_object(body, "\"instances\" or \"inputs\"")
    if ("instances" in request) == ("inputs" in request):
        raise BadRequest("a request holds either \"instances\" (a list of rows) or \"inputs\" (columns), " +
                         ("not both" if "instances" in request else "and this one has neither"))
    return request


def columns_of(request, signature):
    """``({input: values}, row_format)`` of a parsed request for ``signature``.

    Example:

    >>> import tensorflow as tf
    >>> from tfkit.serve.signatures import Signature
    >>> function = tf.function(lambda age, job: {"n": tf.size(age)}).get_concrete_function(
    ...     age=tf.TensorSpec([None], tf.float32, "age"), job=tf.TensorSpec([None], tf.string, "job"))
    >>> columns_of({"instances": [{"age": 39, "job": "cook"}, {"age": 52, "job": {"b64": "cGlsb3Q="}}]}, Signature("s", function))
    ({'age': [39, 52], 'job': ['cook', {'b64': 'cGlsb3Q='}]}, True)
    """
    names = sorted(signature.inputs)
    if "instances" in request:
        rows = request["instances"]
        if not isinstance(rows, list) or not rows:
            raise BadRequest("\"instances\" must be a non-empty list of rows")
        if all(isinstance(row, dict) and not _is_b64(row) for row in rows):
            keys = sorted(rows[0])
            for index, row in enumerate(rows):
                if sorted(row) != keys:
                    raise BadRequest(f"instance {index} has the inputs {sorted(row)} where instance 0 has {keys}; "
                                     "every row must have the same inputs")
            return {key: [row[key] for row in rows] for key in keys}, True
        if len(names) != 1:
            raise BadRequest(f"each instance must be an object naming the signature's inputs {names}")
        return {names[0]: rows}, True
    inputs = request["inputs"]
    if isinstance(inputs, dict) and not _is_b64(inputs):
        return inputs, False
    if len(names) != 1:
        raise BadRequest(f"\"inputs\" must be an object naming the signature's inputs {names}")
    return {names[0]: inputs}, False


def response(outputs, row_format):
    """``{"predictions": [...]}`` (a row per example) or ``{"outputs": ...}`` (columns); one output is given bare.

    Example:

    >>> import numpy as np
    >>> outputs = {"classes": np.array([[b"<=50K"], [b">50K"]], dtype=object), "logistic": np.array([[0.25], [0.75]])}
    >>> response(outputs, row_format=True)
    {'predictions': [{'classes': ['<=50K'], 'logistic': [0.25]}, {'classes': ['>50K'], 'logistic': [0.75]}]}
    >>> response(outputs, row_format=False)["outputs"]["logistic"]
    [[0.25], [0.75]]
    """
    outputs = {key: to_json(value) for key, value in outputs.items()}
    if not row_format:
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    rows = len(next(iter(outputs.values())))
    return {"predictions": [{key: values[i] for key, values in outputs.items()} for i in range(rows)]}


def _is_b64(value):
    return isinstance(value, dict) and set(value) == {"b64"}
