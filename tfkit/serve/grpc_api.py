"""TensorFlow Serving's gRPC ``PredictionService`` (``Predict``, ``Classify``, ``Regress``, ``GetModelMetadata``), with
the protos of ``tensorflow-serving-api``.

Requests are checked as REST requests are (:class:`tfkit.serve.signatures.Signature`)
and go through the same batchers: a gRPC call waits on the REST server's event
loop for its batch. Bad requests end with ``INVALID_ARGUMENT``, unknown models,
versions and signatures with ``NOT_FOUND``, requests over a limit with
``RESOURCE_EXHAUSTED``, versions that cannot be loaded with ``UNAVAILABLE``.
"""

import asyncio
import functools
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow.core.framework import tensor_shape_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc,
                                     regression_pb2)

from tfkit.serve import examples
from tfkit.serve.signatures import BadRequest, TooLarge, check_rows, model_error
from tfkit.serve.versions import NotFound, Unavailable

# The TensorProto field holding each dtype's values (when not packed in tensor_content).
_VALUES = {tf.float32: "float_val", tf.float64: "double_val", tf.int32: "int_val", tf.int16: "int_val",
           tf.int8: "int_val", tf.uint8: "int_val", tf.uint16: "int_val", tf.int64: "int64_val", tf.bool: "bool_val",
           tf.string: "string_val", tf.float16: "half_val", tf.bfloat16: "half_val", tf.uint32: "uint32_val",
           tf.uint64: "uint64_val"}
# Values a row may hold in dimensions the signature leaves open (a curve's points, say).
MAX_VALUES_PER_OPEN_ROW = 100_000


def _tensor_info(spec):
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d)
                                                   for d in spec.shape])
    return meta_graph_pb2.TensorInfo(name=spec.name or "", dtype=spec.dtype.as_datatype_enum, tensor_shape=shape)


def signature_def(signature):
    """A ``SignatureDef`` proto of a :class:`~tfkit.serve.signatures.Signature`."""
    return meta_graph_pb2.SignatureDef(
        inputs={key: _tensor_info(spec) for key, spec in signature.inputs.items()},
        outputs={key: _tensor_info(spec) for key, spec in signature.outputs.items()},
        method_name=signature.method_name)


def tensor_of(key, proto, spec, max_rows):
    """The numpy array of input ``key``'s ``TensorProto``, checked against ``spec`` before anything is allocated.

    As TensorFlow Serving, the dtype must be the input's; the shape must have
    the input's rank and known dimensions, at most ``max_rows`` rows (else
    TooLarge) and at most :data:`MAX_VALUES_PER_OPEN_ROW` values a row in
    dimensions the signature leaves open; the values must fill the shape
    (packed ``tensor_content`` of exactly its size, or a value field with one
    value, to repeat, or one per element).
    """
    if proto.dtype != spec.dtype.as_datatype_enum:
        try:
            received = tf.dtypes.as_dtype(proto.dtype).name
        except TypeError:
            received = f"unknown dtype {proto.dtype}"
        raise BadRequest(f"input {key!r}: expects {spec.dtype.name} values, but {received} is provided")
    dims = [dim.size for dim in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or any(size < 0 for size in dims):
        raise BadRequest(f"input {key!r}: a tensor's shape must be known and not negative; got {dims}")
    if spec.shape.rank is not None and len(dims) != spec.shape.rank:
        raise BadRequest(f"input {key!r}: expected rank {spec.shape.rank} (shape {spec.shape}), got shape {dims}")
    check_rows(key, dims[0] if dims else 1, max_rows)
    per_row, open_row = 1, 1
    for index, size in enumerate(dims[1:], start=1):
        expected = spec.shape[index] if spec.shape.rank is not None else None
        if expected is not None and size != expected:
            raise BadRequest(f"input {key!r}: expected shape {spec.shape}, got {dims}")
        per_row *= size
        open_row *= size if expected is None else 1
    if open_row > MAX_VALUES_PER_OPEN_ROW:
        raise TooLarge(f"input {key!r}: {open_row} values a row in its open dimensions; at most {MAX_VALUES_PER_OPEN_ROW}")
    elements = (dims[0] if dims else 1) * per_row
    if spec.dtype not in _VALUES:
        raise BadRequest(f"input {key!r}: {spec.dtype.name} tensors are not served")
    if proto.tensor_content:
        if spec.dtype == tf.string or len(proto.tensor_content) != elements * spec.dtype.size:
            raise BadRequest(f"input {key!r}: tensor_content holds {len(proto.tensor_content)} bytes; shape {dims} of "
                             f"{spec.dtype.name} takes {elements * spec.dtype.size}")
    else:
        count = len(getattr(proto, _VALUES[spec.dtype]))
        if count > elements or (count == 0 and elements):
            raise BadRequest(f"input {key!r}: {count} values for shape {dims} ({elements} elements)")
    return tf.make_ndarray(proto)


# TensorFlow's errors from a signature, as gRPC statuses (the same canonical codes).
_OP_ERROR_CODES = {tf.errors.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT, tf.errors.OUT_OF_RANGE: grpc.StatusCode.OUT_OF_RANGE,
                   tf.errors.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
                   tf.errors.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED}


def _answers(method):
    """Ends a call whose request fails with the gRPC status TensorFlow Serving gives (see the module's docstring)."""

    @functools.wraps(method)
    def call(self, request, context):
        try:
            return method(self, request, context)
        except TooLarge as error:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        except BadRequest as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotFound as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except Unavailable as error:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        except tf.errors.OpError as error:
            context.abort(_OP_ERROR_CODES.get(error.error_code, grpc.StatusCode.INTERNAL), model_error(error))

    return call


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """TensorFlow Serving's calls over ``models`` (``{name: ModelVersions}``), batched by ``api`` (a RestApi)."""

    def __init__(self, models, api):
        self.models = models
        self.api = api
        self.loop = None  # the REST server's event loop, set once it runs

    def _version(self, spec):
        if spec.name not in self.models:
            raise NotFound(f"Servable not found for request: Latest({spec.name}); this server serves {sorted(self.models)}")
        return self.models[spec.name], self.models[spec.name].get(spec.version.value if spec.HasField("version") else None)

    def _run(self, model, loaded, signature, arrays, rows):
        """The signature's outputs, computed in a batch on the REST server's event loop once it runs."""
        if self.loop is None:
            return signature(arrays)
        batcher = self.api.batcher(model.name, loaded.number, signature)
        return asyncio.run_coroutine_threadsafe(batcher(arrays, rows), self.loop).result()

    @staticmethod
    def _spec(response, model, loaded, signature):
        response.model_spec.name = model.name
        response.model_spec.version.value = loaded.number
        response.model_spec.signature_name = signature.name
        return response

    @_answers
    def Predict(self, request, context):  # noqa: N802 (the service's method names)
        model, loaded = self._version(request.model_spec)
        signature = loaded.signature(request.model_spec.signature_name)
        signature.check_names(request.inputs)
        columns = {key: tensor_of(key, proto, signature.inputs[key], self.api.max_rows)
                   for key, proto in request.inputs.items()}
        arrays, rows = signature.arrays(columns, may_hold_booleans=False)
        outputs = self._run(model, loaded, signature, arrays, rows)
        response = self._spec(predict_pb2.PredictResponse(), model, loaded, signature)
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    @_answers
    def Classify(self, request, context):  # noqa: N802
        model, loaded, signature, outputs, rows = self._examples(request, examples.CLASSIFY)
        response = self._spec(classification_pb2.ClassificationResponse(), model, loaded, signature)
        for classes in examples.classifications(outputs, rows):
            response.result.classifications.add().classes.extend(
                classification_pb2.Class(label=label, score=score) for label, score in classes)
        return response

    @_answers
    def Regress(self, request, context):  # noqa: N802
        model, loaded, signature, outputs, rows = self._examples(request, examples.REGRESS)
        response = self._spec(regression_pb2.RegressionResponse(), model, loaded, signature)
        response.result.regressions.extend(regression_pb2.Regression(value=value)
                                           for value in examples.regressions(outputs, rows))
        return response

    def _examples(self, request, api):
        model, loaded = self._version(request.model_spec)
        signature = examples.signature_for(loaded, request.model_spec.signature_name, api)
        inputs = examples.examples_of_input(request.input, self.api.max_rows)
        return model, loaded, signature, self._run(model, loaded, signature, {"inputs": inputs}, len(inputs)), len(inputs)

    @_answers
    def GetModelMetadata(self, request, context):  # noqa: N802
        if list(request.metadata_field) != ["signature_def"]:
            raise BadRequest("metadata_field must be [\"signature_def\"], the only metadata served")
        model, loaded = self._version(request.model_spec)
        definitions = get_model_metadata_pb2.SignatureDefMap()
        for name, signature in loaded.signatures.items():
            definitions.signature_def[name].CopyFrom(signature_def(signature))
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = model.name
        response.model_spec.version.value = loaded.number
        response.metadata["signature_def"].Pack(definitions)
        return response


def start_grpc(models, host, port, api, threads=16):
    """Starts the gRPC server; returns it and its port (``port`` 0 picks a free one)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    service = PredictionService(models, api)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    port = server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")  # IPv6 in brackets
    server.start()
    api.on_startup.append(lambda: setattr(service, "loop", asyncio.get_running_loop()))
    return server, port
