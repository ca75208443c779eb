"""``tfkit predict``: an export's predictions for JSON instances or CSV rows (:mod:`tfkit.jobs.predict`)."""

import sys


def add_parsers(commands):
    predict = commands.add_parser(
        "predict",
        help="Predict with an exported SavedModel (needs TensorFlow only).",
        description="Predict with an exported SavedModel: JSON instances or CSV rows in, one JSON prediction per line out.",
    )
    predict.add_argument("export_dir", help="a SavedModel, or an export folder whose newest version is used")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--json-instances", metavar="FILE", help="one JSON object of raw features per line")
    source.add_argument("--csv", metavar="FILE", help="CSV file(s) with a header; columns the model does not read are ignored")
    predict.add_argument("--output", metavar="FILE", help="write JSON lines here (default: standard output)")
    predict.add_argument("--batch-size", type=int, default=256, help="examples per call (default: 256)")
    predict.set_defaults(run=run)


def run(args):
    from tfkit.jobs.predict import predict_file

    count = predict_file(args.export_dir, json_instances=args.json_instances, csv=args.csv,
                         output=args.output, batch_size=args.batch_size)
    if args.output:
        print(f"Wrote {count} predictions to {args.output}", file=sys.stderr)
