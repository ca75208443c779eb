"""TensorFlow Serving's REST API on Starlette: predict, model status and metadata.

* ``POST /v1/models/NAME[/versions/N]:predict`` with ``{"instances": [...]}`` or
  ``{"inputs": ...}`` (and ``"signature_name"``), answered with
  ``{"predictions": ...}`` or ``{"outputs": ...}``;
* ``GET /v1/models/NAME[/versions/N]``: the versions and their state;
* ``POST /v1/models/NAME[/versions/N]:classify`` (``:regress``) with
  ``{"examples": [{feature: value}], "context": {...}}`` and a classify
  (regress) signature, answered with ``{"results": [[[label, score], ...]]}``
  (``{"results": [value, ...]}``), see :mod:`tfkit.serve.examples`;
* ``GET /v1/models/NAME[/versions/N]/metadata``: the signatures' inputs and outputs.

Errors are ``{"error": "..."}``: 400 for a bad request, 404 for an unknown
model, version or signature, 408 for a body sent too slowly, 413 for a
request over a limit (body bytes, rows), 503 for a version that cannot be
loaded. Paths are matched exactly: no redirect is ever made (a redirect would
echo the request's ``Host`` header).
"""

import asyncio
import contextlib
import json
import re

import tensorflow as tf
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.routing import Route

from tfkit.serve import examples
from tfkit.serve.batching import Batcher
from tfkit.serve.protocol import columns_of, parse_body, parse_object, response
from tfkit.serve.signatures import BadRequest, TooLarge, model_error
from tfkit.serve.versions import NotFound, Unavailable

_PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                   r"(?P<tail>/metadata|:predict|:classify|:regress)?$")


class _JSON(JSONResponse):
    """JSON as TensorFlow Serving writes it: UTF-8, and NaN and Infinity for non-finite numbers (a model's output may
    hold them); text that is not valid Unicode (a lone surrogate sent back in an error message) escaped."""

    def render(self, content):
        try:
            return json.dumps(content, ensure_ascii=False, allow_nan=True, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=True, separators=(",", ":")).encode("ascii")


def _error(status, message):
    return _JSON({"error": message}, status_code=status)


# TensorFlow's errors from a signature, as HTTP statuses: a request's values the model refuses are the client's.
_OP_ERROR_STATUS = {tf.errors.INVALID_ARGUMENT: 400, tf.errors.OUT_OF_RANGE: 400, tf.errors.FAILED_PRECONDITION: 400,
                    tf.errors.RESOURCE_EXHAUSTED: 413}


class RestApi:
    """The REST endpoints over ``models`` (``{name: ModelVersions}``)."""

    def __init__(self, models, max_batch_size=64, batch_timeout_ms=0.0, max_body_bytes=16 << 20, max_rows=10_000,
                 body_timeout_seconds=30.0):
        self.models = models
        self.max_batch_size = max_batch_size
        self.batch_timeout_ms = batch_timeout_ms
        self.max_body_bytes = max_body_bytes
        self.max_rows = max_rows
        self.body_timeout_seconds = body_timeout_seconds
        self._batchers = {}
        self.on_startup = []  # called in the event loop once it runs
        self.app = Starlette(routes=[Route("/v1/models/{path:path}", self.handle, methods=["GET", "POST"])],
                             exception_handlers={404: _no_route, 405: _no_route}, lifespan=self._lifespan)
        self.app.router.redirect_slashes = False

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
            if match["label"] is not None:
                raise NotFound(f"version labels are not served: ask for /v1/models/{name}/versions/N (versions: {model.loaded})")
            if version is not None and len(version) > 18:  # versions are int64s, as TensorFlow Serving's
                raise NotFound(f"Servable not found for request: Specific({name}, {version[:20]}...): no such version")
            version = int(version) if version is not None else None
            if tail in (":predict", ":classify", ":regress"):
                if request.method != "POST":
                    return _error(405, f"{tail[1:]} takes POST")
                answer = self._predict if tail == ":predict" else self._classify_or_regress
                return _JSON(await answer(model, version, await self._body(request), tail[1:]))
            if request.method != "GET":
                return _error(405, f"{request.url.path} takes GET")
            loaded = await _version(model, version)
            return _JSON(self._metadata(model, loaded) if tail == "/metadata" else self._status(model, loaded, version))
        except TooLarge as error:
            return _error(413, str(error))
        except BadRequest as error:
            return _error(400, str(error))
        except NotFound as error:
            return _error(404, str(error))
        except Unavailable as error:
            return _error(503, str(error))
        except ClientDisconnect:  # gone before its body arrived: nobody to answer, nothing to log
            return _error(400, "the client closed the connection before its request body arrived")
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            return _error(408, f"the request body did not arrive within {self.body_timeout_seconds}s "
                               "(--request-timeout-seconds)")
        except tf.errors.OpError as error:
            return _error(_OP_ERROR_STATUS.get(error.error_code, 500), model_error(error))

    async def _body(self, request):
        too_large = f"the request body is larger than {self.max_body_bytes} bytes (--max-body-bytes)"
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise BadRequest(f"Content-Length must be a number of bytes; got {declared[:40]!r}")
            if int(declared) > self.max_body_bytes:
                raise TooLarge(too_large)  # refused before reading any of it
        return await asyncio.wait_for(self._read(request, too_large), self.body_timeout_seconds)

    async def _read(self, request, too_large):
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise TooLarge(too_large)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _predict(self, model, version, body, _):
        request = parse_body(body)
        loaded = await _version(model, version)
        signature = loaded.signature(request.get("signature_name"))
        columns, row_format = columns_of(request, signature)
        # A JSON true among numbers is refused; looking for one is only worth it where the body has one.
        arrays, rows = signature.arrays(columns, self.max_rows, may_hold_booleans=b"true" in body or b"false" in body)
        return response(await self.batcher(model.name, loaded.number, signature)(arrays, rows), row_format)

    async def _classify_or_regress(self, model, version, body, api):
        request = parse_object(body, "\"examples\"")
        loaded = await _version(model, version)
        signature = examples.signature_for(loaded, request.get("signature_name"), api)
        inputs = examples.examples_of_json(request, self.max_rows)
        outputs = await self.batcher(model.name, loaded.number, signature)({"inputs": inputs}, len(inputs))
        if api == examples.CLASSIFY:
            return {"results": [[[label, examples.shortest(score)] for label, score in classes]
                                for classes in examples.classifications(outputs, len(inputs))]}
        return {"results": [examples.shortest(value) for value in examples.regressions(outputs, len(inputs))]}

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
