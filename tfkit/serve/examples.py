"""TensorFlow Serving's classify and regress APIs: tf.Examples in, ``[label, score]`` pairs or values out.

A classify or regress signature takes one input, ``inputs``, a batch of
serialized ``tf.train.Example`` protos, and returns ``classes`` and/or ``scores``
(``[examples, classes]``) or ``outputs`` (``[examples]`` or ``[examples, 1]``),
as estimators exported them. As TensorFlow Serving (by default), a signature
is taken for what its inputs and outputs are; its ``method_name`` is shown in
the metadata.

REST requests give the examples as JSON (``{"examples": [{feature: value or
list}], "context": {...}}``), gRPC requests as protos (an ``Input`` of an
example list, with or without a context). Context features go into every
example; an example's own feature of the same name wins.
"""

import base64

import numpy as np
import tensorflow as tf

from tfkit.serve.signatures import BadRequest, TooLarge

CLASSIFY, REGRESS = "classify", "regress"
_INT64 = (-(1 << 63), (1 << 63) - 1)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def kind(signature):
    """``"classify"``, ``"regress"`` or ``"predict"``: which API a signature can answer, by its inputs and outputs.

    As TensorFlow Serving checks them: one input, ``inputs``, of strings; one
    or two outputs among which ``classes`` or ``scores`` (the others ignored),
    or one output, ``outputs``.
    """
    if set(signature.inputs) != {"inputs"} or signature.inputs["inputs"].dtype != tf.string:
        return "predict"
    outputs = set(signature.outputs)
    if len(outputs) in (1, 2) and outputs & {"classes", "scores"}:
        return CLASSIFY
    return REGRESS if outputs == {"outputs"} else "predict"


def signature_for(loaded, name, api):
    """The signature ``name`` (default ``serving_default``) of a loaded version, checked to answer ``api``.

    BadRequest (as TensorFlow Serving: INVALID_ARGUMENT) for a name the version
    does not have or a signature that cannot answer ``api``, naming those that can.
    """
    name = name or "serving_default"
    if name not in loaded.signatures:
        raise BadRequest(f"No signature was found with the name: {name!r}; the model has {sorted(loaded.signatures)}")
    signature = loaded.signatures[name]
    if kind(signature) == api:
        return signature
    able = sorted(other for other, candidate in loaded.signatures.items() if kind(candidate) == api)
    what = {CLASSIFY: "classification", REGRESS: "regression"}[api]
    hint = (f"this model's {what} signatures: {able} (give \"signature_name\")" if able else
            f"this model has no {what} signature; its signatures: "
            f"{', '.join(f'{key} ({kind(value)})' for key, value in sorted(loaded.signatures.items()))}")
    raise BadRequest(f"signature {signature.name!r} is not a {what} signature (one input 'inputs' of serialized "
                     f"tf.Examples; outputs " + ("'classes' and/or 'scores')" if api == CLASSIFY else "'outputs')") +
                     f"; {hint}")


# -- requests ------------------------------------------------------------------------------------------------------

def examples_of_json(request, max_rows):
    """The serialized tf.Examples of a REST classify/regress request (``examples`` and optional ``context``).

    Example:

    >>> import tensorflow as tf
    >>> serialized = examples_of_json({"context": {"country": "Peru"}, "examples": [{"age": 39.0, "jobs": [1, 2]}]}, 10)
    >>> features = tf.train.Example.FromString(serialized[0]).features.feature
    >>> features["age"].float_list.value, features["jobs"].int64_list.value, features["country"].bytes_list.value
    ([39.0], [1, 2], [b'Peru'])
    """
    examples = request.get("examples")
    if not isinstance(examples, list) or not examples:
        raise BadRequest("a classify or regress request holds \"examples\", a non-empty list of objects"
                         + ("" if "examples" in request else "; this one has none"))
    if len(examples) > max_rows:
        raise TooLarge(f"{len(examples)} examples; this server takes at most {max_rows} a request (--max-rows)")
    context = _example(request["context"], "\"context\"").SerializeToString() if "context" in request else b""
    # As TensorFlow Serving: the context's bytes, then the example's, parse as the two merged.
    return np.array([context + _example(features, f"example {index}").SerializeToString()
                     for index, features in enumerate(examples)], dtype=object)


def examples_of_input(input_proto, max_rows):
    """The serialized tf.Examples of a gRPC ``Input`` (an example list, or one with a context)."""
    which = input_proto.WhichOneof("kind")
    if which == "example_list":
        examples, context = input_proto.example_list.examples, b""
    elif which == "example_list_with_context":
        examples = input_proto.example_list_with_context.examples
        context = input_proto.example_list_with_context.context.SerializeToString()
    else:
        raise BadRequest("Input is empty: give an example_list or an example_list_with_context")
    if not examples:
        raise BadRequest("Input is empty: the example list holds no examples")
    if len(examples) > max_rows:
        raise TooLarge(f"{len(examples)} examples; this server takes at most {max_rows} a request (--max-rows)")
    return np.array([context + example.SerializeToString() for example in examples], dtype=object)


def _example(features, where):
    if not isinstance(features, dict):
        raise BadRequest(f"{where} must be a JSON object of features; got {type(features).__name__}")
    example = tf.train.Example()
    for name, values in features.items():
        try:
            feature = example.features.feature[name]
        except (ValueError, TypeError):  # not valid Unicode (a lone surrogate), which a proto's string cannot hold
            raise BadRequest(f"{where}: feature name {name!r} is not valid Unicode") from None
        for value in values if isinstance(values, list) else [values]:
            _add(feature, name, value)
    return example


def _add(feature, name, value):
    """Adds one JSON value to a feature as TensorFlow Serving does: floats, integers (and booleans), strings."""
    if isinstance(value, int):  # booleans too, as 1 and 0
        kind_, values = "int64_list", int(value)
        if not _INT64[0] <= values <= _INT64[1]:
            raise BadRequest(f"feature {name!r}: {value} does not fit an int64")
    elif isinstance(value, float):
        kind_, values = "float_list", value
        if abs(value) > _FLOAT32_MAX and np.isfinite(value):
            raise BadRequest(f"feature {name!r}: {value} does not fit a float without loss")
    elif isinstance(value, str):
        kind_ = "bytes_list"
        try:
            values = value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(f"feature {name!r}: {value[:40]!r} is not valid Unicode; send bytes as {{\"b64\": ...}}") from None
    elif isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        kind_ = "bytes_list"
        try:
            values = base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise BadRequest(f"feature {name!r}: not base64: {value['b64'][:40]!r}") from None
    else:
        raise BadRequest(f"feature {name!r}: a feature's values are numbers, strings or {{\"b64\": ...}}; got "
                         f"{'null' if value is None else type(value).__name__}")
    held = feature.WhichOneof("kind")
    if held not in (None, kind_):
        raise BadRequest(f"feature {name!r}: mixes {held.split('_')[0]} and {kind_.split('_')[0]} values (a feature's "
                         "values are all floats, all integers or all strings)")
    getattr(feature, kind_).value.append(values)


# -- results -------------------------------------------------------------------------------------------------------

def classifications(outputs, rows):
    """``[[(label, score), ...] per example]`` of a classify signature's outputs, checked as TensorFlow Serving checks them."""
    classes, scores = outputs.get("classes"), outputs.get("scores")
    for key, value, dtype in (("classes", classes, object), ("scores", scores, np.float32)):
        if value is None:
            continue
        if value.ndim != 2 or len(value) != rows or value.dtype != dtype:
            raise BadRequest(f"the signature's {key!r} output is {value.dtype} of shape {list(value.shape)}; expected "
                             f"{'strings' if key == 'classes' else 'float32'} of shape [{rows}, classes]")
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise BadRequest(f"the signature's classes and scores differ in number: {classes.shape[1]} and {scores.shape[1]}")
    count = (classes if classes is not None else scores).shape[1]
    return [[(classes[i, c].decode("utf-8", "replace") if classes is not None else "",
              float(scores[i, c]) if scores is not None else 0.0) for c in range(count)] for i in range(rows)]


def regressions(outputs, rows):
    """One float per example of a regress signature's ``outputs`` (``[examples]`` or ``[examples, 1]``)."""
    values = outputs["outputs"]
    if values.dtype != np.float32 or values.ndim not in (1, 2) or len(values) != rows or values.size != rows:
        raise BadRequest(f"the signature's 'outputs' is {values.dtype} of shape {list(values.shape)}; expected float32 "
                         f"of shape [{rows}] or [{rows}, 1]")
    return values.reshape(-1).tolist()


def shortest(value):
    """A float32 score or value as the shortest decimal that reads back as it (``0.9248``, not
    ``0.9247999787330627``), as TensorFlow Serving writes them.

    Example:

    >>> shortest(0.9247999787330627), shortest(float("nan"))
    (0.9248, nan)
    """
    return float(str(np.float32(value)))
