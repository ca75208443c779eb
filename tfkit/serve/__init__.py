"""``tfkit serve``: TensorFlow Serving's REST (and gRPC) predict APIs for the versions of an export folder.

Needs the ``serve`` extra: ``pip install "tfkit-estimator[serve]"`` (Starlette and
uvicorn for REST, grpcio and tensorflow-serving-api for gRPC). Clients
written for TensorFlow Serving work unchanged; see docs/serving.rst.
"""

import logging
import os

DEFAULT_PORT = 8501  # TensorFlow Serving's REST port
DEFAULT_GRPC_PORT = 8500


def serve(export_dir, model_name=None, host="127.0.0.1", port=DEFAULT_PORT, grpc_port=None, max_batch_size=64,
          batch_timeout_ms=0.0, poll_seconds=1.0, max_body_bytes=16 << 20, max_rows=10_000, request_timeout_seconds=30.0,
          keep_alive_seconds=5.0, max_connections=1000):
    """Serves the SavedModel versions under ``export_dir`` until interrupted.

    ``model_name`` defaults to the name of the export folder's parent (a job
    directory: ``runs/census/export`` is ``census``). ``max_batch_size`` of 1
    turns server-side batching off. ``host`` 127.0.0.1 serves this machine
    only (the server has no authentication); ``0.0.0.0`` or ``::`` exposes it.
    The limits are those of ``tfkit serve --help``.
    """
    try:
        import uvicorn
    except ImportError:
        from tfkit.errors import TfkitError
        from tfkit.io.versions import extra_requirement

        raise TfkitError(f'tfkit serve needs the serve extra: pip install "{extra_requirement("serve")}"') from None
    from tfkit.errors import TfkitError
    from tfkit.serve.connections import h11_protocol
    from tfkit.serve.rest import RestApi
    from tfkit.serve.versions import ModelVersions, NotFound

    for name, value in (("max_rows", max_rows), ("max_body_bytes", max_body_bytes), ("max_connections", max_connections),
                        ("request_timeout_seconds", request_timeout_seconds), ("keep_alive_seconds", keep_alive_seconds)):
        if value <= 0:
            raise TfkitError(f"tfkit serve: --{name.replace('_', '-')} must be positive. Received: {value}")
    export_dir = os.path.abspath(export_dir)
    model_name = model_name or default_model_name(export_dir)
    try:
        models = {model_name: ModelVersions(model_name, export_dir, poll_seconds)}
    except NotFound as error:
        raise TfkitError(str(error)) from None
    api = RestApi(models, max_batch_size=max_batch_size, batch_timeout_ms=batch_timeout_ms, max_body_bytes=max_body_bytes,
                  max_rows=max_rows, body_timeout_seconds=request_timeout_seconds)
    grpc_server = None
    if grpc_port is not None:
        from tfkit.serve.grpc_api import start_grpc

        grpc_server, grpc_port = start_grpc(models, host, grpc_port, api)
    config = uvicorn.Config(api.app, host=host, port=port, log_level="warning", access_log=False,
                            http=h11_protocol(request_timeout_seconds), timeout_keep_alive=keep_alive_seconds,
                            limit_concurrency=max_connections)
    server = uvicorn.Server(config)
    logging.getLogger("tfkit.serve").setLevel(logging.INFO)
    print(f"Serving {model_name} (versions {models[model_name].loaded}) from {export_dir}: REST on {host}:{port}"
          + (f", gRPC on {host}:{grpc_port}" if grpc_server else "") + ".", flush=True)
    try:
        server.run()
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=1)
        models[model_name].close()


def default_model_name(export_dir):
    """``runs/census/export`` → ``census``; any other folder → its own name.

    Example:

    >>> default_model_name("runs/census/export"), default_model_name("/models/wide_deep")
    ('census', 'wide_deep')
    """
    export_dir = os.path.abspath(export_dir)
    base = os.path.basename(export_dir)
    return os.path.basename(os.path.dirname(export_dir)) if base == "export" else base
