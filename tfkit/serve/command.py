"""``tfkit serve``'s flags and its start from them (imports nothing heavy: ``tfkit serve --help`` answers at once)."""

LIMITS = """Limits (each request is checked before any tensor is made): --max-rows rows a request, --max-body-bytes
of a REST body (a larger Content-Length is refused at once with 413), --request-timeout-seconds to send a request's
headers and body, --keep-alive-seconds an idle connection stays open, --max-connections at once (503 beyond)."""


def add_arguments(parser):
    parser.add_argument("export_dir", help="folder of numbered SavedModel versions")
    parser.add_argument("--model-name", help="the NAME in /v1/models/NAME (default: the job directory's name)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 or :: to expose it)")
    parser.add_argument("--port", type=int, default=8501, help="REST port (default: 8501, TensorFlow Serving's)")
    parser.add_argument("--grpc-port", type=int, help="also serve gRPC PredictionService on this port (8500 is TF Serving's)")
    parser.add_argument("--max-batch-size", type=int, default=64,
                        help="rows of concurrent requests run as one batch (default: 64; 1 turns batching off)")
    parser.add_argument("--batch-timeout-ms", type=float, default=0.0,
                        help="longest wait for more requests to batch with (default: 0: batch what waits)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions (default: 1)")
    parser.add_argument("--max-body-bytes", type=int, default=16 << 20, help="largest REST request body (default: 16 MiB)")
    parser.add_argument("--max-rows", type=int, default=10_000, help="most rows (examples) in one request (default: 10,000)")
    parser.add_argument("--request-timeout-seconds", type=float, default=30.0,
                        help="time a client has to send a request's headers, and then its body (default: 30)")
    parser.add_argument("--keep-alive-seconds", type=float, default=5.0,
                        help="an idle connection is closed after this long (default: 5)")
    parser.add_argument("--max-connections", type=int, default=1000,
                        help="connections served at once; more are answered 503 (default: 1,000)")


def run(args):
    from tfkit.serve import serve

    serve(args.export_dir, model_name=args.model_name, host=args.host, port=args.port, grpc_port=args.grpc_port,
          max_batch_size=args.max_batch_size, batch_timeout_ms=args.batch_timeout_ms, poll_seconds=args.poll_seconds,
          max_body_bytes=args.max_body_bytes, max_rows=args.max_rows, request_timeout_seconds=args.request_timeout_seconds,
          keep_alive_seconds=args.keep_alive_seconds, max_connections=args.max_connections)
