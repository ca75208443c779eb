"""``tfkit launch``: a command run as every task of a cluster of local processes (:mod:`tfkit.distribute.launch`)."""

import argparse


def add_parsers(commands):
    launch = commands.add_parser(
        "launch",
        help="Run a command as every task of a cluster of local processes (TF_CONFIG set for each).",
        description="Start a chief, workers, parameter servers and optionally an evaluator on free localhost ports, "
                    "each running COMMAND with its TF_CONFIG; exit with the chief's status. "
                    "Example: tfkit launch --workers 2 --ps 1 -- tfkit train configs/census.yaml",
    )
    launch.add_argument("--workers", type=int, default=2, help="worker tasks besides the chief (default: 2)")
    launch.add_argument("--ps", type=int, default=0, help="parameter-server tasks (default: 0: multi-worker mirrored)")
    launch.add_argument("--evaluator", action="store_true", help="also start an evaluator task (sidecar evaluation)")
    launch.add_argument("cluster_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                        help="the command every task runs, after --")
    launch.set_defaults(run=run)


def run(args):
    from tfkit.distribute.launch import launch
    from tfkit.errors import TfkitError

    command = args.cluster_command[1:] if args.cluster_command[:1] == ["--"] else args.cluster_command
    if not command:
        raise TfkitError("launch needs the command each task runs, after --: tfkit launch --ps 1 -- tfkit train config.yaml")
    if args.workers < 0 or args.ps < 0:
        raise TfkitError(f"--workers and --ps count tasks and cannot be negative. Received: {args.workers}, {args.ps}.")
    return launch(command, num_workers=args.workers, num_ps=args.ps, evaluator=args.evaluator)
