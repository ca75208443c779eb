"""TensorFlow Serving's gRPC ``PredictionService`` (``Predict``, ``GetModelMetadata``), with the protos of ``tensorflow-serving-api``.

Requests are checked as REST requests are (:class:`tfkit.serve.signatures.Signature`)
and go through the same batchers: a gRPC call waits on the REST server's event
loop for its batch. Bad requests end with ``INVALID_ARGUMENT``, unknown models,
versions and signatures with ``NOT_FOUND``.
"""

import asyncio
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow.core.framework import tensor_shape_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from tfkit.serve.signatures import BadRequest
from tfkit.serve.versions import NotFound


def _tensor_info(spec):
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else d)
                                                   for d in spec.shape])
    return meta_graph_pb2.TensorInfo(name=spec.name or "", dtype=spec.dtype.as_datatype_enum, tensor_shape=shape)


def signature_def(signature):
    """A ``SignatureDef`` proto of a :class:`~tfkit.serve.signatures.Signature`."""
    return meta_graph_pb2.SignatureDef(
        inputs={key: _tensor_info(spec) for key, spec in signature.inputs.items()},
        outputs={key: _tensor_info(spec) for key, spec in signature.outputs.items()},
        method_name="tensorflow/serving/predict")


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """``Predict`` and ``GetModelMetadata`` over ``models`` (``{name: ModelVersions}``), batched by ``api`` (a RestApi)."""

    def __init__(self, models, api):
        self.models = models
        self.api = api
        self.loop = None  # the REST server's event loop, set once it runs

    def _version(self, spec):
        if spec.name not in self.models:
            raise NotFound(f"Servable not found for request: Latest({spec.name}); this server serves {sorted(self.models)}")
        return self.models[spec.name], self.models[spec.name].get(spec.version.value if spec.HasField("version") else None)

    def Predict(self, request, context):  # noqa: N802 (the service's method names)
        try:
            model, loaded = self._version(request.model_spec)
            signature = loaded.signature(request.model_spec.signature_name)
            columns = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            arrays, rows = signature.arrays(columns)
            batcher = self.api.batcher(model.name, loaded.number, signature)
            if self.loop is not None:
                outputs = asyncio.run_coroutine_threadsafe(batcher(arrays, rows), self.loop).result()
            else:
                outputs = signature(arrays)
        except BadRequest as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except NotFound as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except tf.errors.InvalidArgumentError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = model.name
        response.model_spec.version.value = loaded.number
        response.model_spec.signature_name = signature.name
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "metadata_field must be [\"signature_def\"], the only metadata served")
        try:
            model, loaded = self._version(request.model_spec)
        except NotFound as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
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
    port = server.add_insecure_port(f"{host}:{port}")
    server.start()
    api.on_startup.append(lambda: setattr(service, "loop", asyncio.get_running_loop()))
    return server, port
