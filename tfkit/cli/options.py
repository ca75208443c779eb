"""What the commands share: exit statuses, the config arguments, the metrics line."""

EXIT_CLUSTER_FAILURE = 1
EXIT_NO_TRIAL_COMPLETED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def with_config(parent, name, help_text):
    """A command taking a config file, ``--set`` overrides and ``--job-dir``."""
    command = parent.add_parser(name, help=help_text, description=help_text)
    command.add_argument("config", help="YAML or JSON run config")
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a config key, e.g. --set train.epochs=5 (repeatable)")
    command.add_argument("--job-dir", help="run directory (default: the config's job_dir)")
    return command


def load_config(args):
    """The config of a command made by :func:`with_config`, its ``--job-dir`` applied."""
    from tfkit import config as config_lib

    config = config_lib.load(args.config, args.set)
    if args.job_dir:
        config["job_dir"] = args.job_dir
    return config


def command_line(args):
    """The command as a lock file records who holds a job directory."""
    return " ".join(["tfkit", args.command, args.config, *(f"--set {override}" for override in args.set)])


def print_metrics(results):
    for split in ("validation", "test"):
        if split in results:
            line = "  ".join(f"{k}={v:.4f}" for k, v in sorted(results[split].items()))
            print(f"{split}: {line}")
