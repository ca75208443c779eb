"""TensorFlow Serving's REST API on Starlette: predict, model status and metadata.

* ``POST /v1/models/NAME[/versions/N]:predict`` with ``{"instances": [...]}`` or
  ``{"inputs": ...}`` (and ``"signature_name"``), answered with
  ``{"predictions": ...}`` or ``{"outputs": ...}``;
* ``GET /v1/models/NAME[/versions/N]``: the versions and their state;
* ``GET /v1/models/NAME[/versions/N]/metadata``: the signatures' inputs and outputs.

Errors are ``{"error": "..."}``: 400 for a bad request, 404 for an unknown
model, version or signature.
"""

import asyncio
import contextlib
import re

import tensorflow as tf
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tfkit.serve.batching import Batcher
from tfkit.serve.protocol import columns_of, parse_body, response
from tfkit.serve.signatures import BadRequest
from tfkit.serve.versions import NotFound

_PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<tail>/metadata|:predict)?$")


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


class RestApi:
    """The REST endpoints over ``models`` (``{name: ModelVersions}``)."""

    def __init__(self, models, max_batch_size=64, batch_timeout_ms=0.0, max_body_bytes=16 << 20):
        self.models = models
        self.max_batch_size = max_batch_size
        self.batch_timeout_ms = batch_timeout_ms
        self.max_body_bytes = max_body_bytes
        self._batchers = {}
        self.on_startup = []  # called in the event loop once it runs
        self.app = Starlette(routes=[Route("/v1/models/{path:path}", self.handle, methods=["GET", "POST"])],
                             exception_handlers={404: _no_route, 405: _no_route}, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        for callback in self.on_startup:
            callback()
        yield

    def batcher(self, model_name, version, signature):
        """The batcher of one signature of one version (made on first use)."""
        key = (model_name, version, signature.name)
        if key not in self._batchers:
            self._batchers[key] = Batcher(signature, self.max_batch_size, self.batch_timeout_ms)
        return self._batchers[key]

    async def handle(self, request):
        match = _PATH.match(request.path_params["path"])
        if not match:
            return _error(404, f"Malformed request: {request.method} {request.url.path}")
        name, version, tail = match["name"], match["version"], match["tail"] or ""
        try:
            if name not in self.models:
                raise NotFound(f"Servable not found for request: Latest({name}); this server serves {sorted(self.models)}")
            model = self.models[name]
            version = int(version) if version is not None else None
            if tail == ":predict":
                if request.method != "POST":
                    return _error(405, "predict takes POST")
                return JSONResponse(await self._predict(model, version, await self._body(request)))
            if request.method != "GET":
                return _error(405, f"{request.url.path} takes GET")
            loaded = await _version(model, version)
            return JSONResponse(self._metadata(model, loaded) if tail == "/metadata" else self._status(model, loaded, version))
        except BadRequest as error:
            return _error(400, str(error))
        except NotFound as error:
            return _error(404, str(error))
        except tf.errors.InvalidArgumentError as error:
            return _error(400, error.message)

    async def _body(self, request):
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BadRequest(f"the request body is larger than {self.max_body_bytes} bytes (--max-body-bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _predict(self, model, version, body):
        request = parse_body(body)
        loaded = await _version(model, version)
        signature = loaded.signature(request.get("signature_name"))
        columns, row_format = columns_of(request, signature)
        arrays, rows = signature.arrays(columns)
        return response(await self.batcher(model.name, loaded.number, signature)(arrays, rows), row_format)

    @staticmethod
    def _status(model, loaded, version):
        numbers = [loaded.number] if version is not None else model.loaded
        return {"model_version_status": [{"version": str(n), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}} for n in numbers]}

    @staticmethod
    def _metadata(model, loaded):
        return {"model_spec": {"name": model.name, "signature_name": "", "version": str(loaded.number)},
                "metadata": {"signature_def": {"signature_def": {name: signature.metadata()
                                                                 for name, signature in sorted(loaded.signatures.items())}}}}


async def _version(model, version):
    if version is None or version in model.loaded:
        return model.get(version)
    # Loading a version from disk takes seconds: in a thread, so that the other requests go on meanwhile.
    return await asyncio.to_thread(model.get, version)


async def _no_route(request, exc):
    return _error(exc.status_code, f"Malformed request: {request.method} {request.url.path}")
