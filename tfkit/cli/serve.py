"""``tfkit serve``: TensorFlow Serving's REST and gRPC APIs over an export folder (:mod:`tfkit.serve`)."""

from tfkit.io.versions import extra_requirement


def add_parsers(commands):
    from tfkit.serve import command

    serve = commands.add_parser(
        "serve",
        help="Serve the versions of an export folder with TensorFlow Serving's REST (and gRPC) API.",
        description="Serve EXPORT_DIR (numbered SavedModel versions, as tfkit exports them) at /v1/models/NAME: "
                    "predict, classify, regress, status and metadata as TensorFlow Serving answers them; new versions "
                    f"are picked up as they appear. Needs pip install \"{extra_requirement('serve')}\". Example: tfkit serve "
                    "runs/census/export. " + command.LIMITS,
    )
    command.add_arguments(serve)
    serve.set_defaults(run=run)


def run(args):
    from tfkit.serve import command

    command.run(args)
