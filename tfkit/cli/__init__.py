"""The ``tfkit`` command: train, evaluate, export and predict from a config; serve, tune, convert image sets; train
word vectors; launch clusters.

One module a command group, each only parsing its arguments and calling the
layer below (:mod:`tfkit.jobs`, :mod:`tfkit.config`, :mod:`tfkit.serve`,
:mod:`tfkit.tune`, ...); here the parser, and what every command's errors
become: bad input (config, data, columns) exits with status 2 and a
one-paragraph message, no traceback. TensorFlow is imported only inside a
command that needs it, so ``--help`` answers at once.
"""

import argparse
import contextlib
import sys

from tfkit.cli import config, launch, plot, predict, serve, tfrecords, train, tune, word2vec
from tfkit.cli.options import (EXIT_BAD_INPUT, EXIT_CLUSTER_FAILURE, EXIT_INTERRUPTED, EXIT_NO_TRIAL_COMPLETED,
                               EXIT_TERMINATED)
from tfkit.cli.quiet import quiet_tensorflow
from tfkit.io.versions import version_line

__all__ = ["EXIT_BAD_INPUT", "EXIT_CLUSTER_FAILURE", "EXIT_INTERRUPTED", "EXIT_NO_TRIAL_COMPLETED", "EXIT_TERMINATED",
           "main", "quiet_tensorflow"]

# In the order of `tfkit --help`.
_COMMAND_GROUPS = (train, tune, config, plot, predict, tfrecords, word2vec, serve, launch)


class _Version(argparse.Action):
    """``--version``, printed as it is (argparse's own version action rewraps the text)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_line())
        parser.exit()


def _parser():
    parser = argparse.ArgumentParser(
        prog="tfkit",
        description="Train, evaluate, export and serve tfkit models from a config file.",
    )
    parser.add_argument("--version", action=_Version, help="print the versions of tfkit, TensorFlow, Keras and Python and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in _COMMAND_GROUPS:
        group.add_parsers(commands)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    # launch runs commands that quiet their own TensorFlow, and stops its tasks on SIGTERM itself.
    launching = args.command == "launch"
    if not launching:
        quiet_tensorflow()
    status = _run(args, launching)
    if not launching:
        from tfkit.distribute.cluster import exit_if_parameter_server_task

        exit_if_parameter_server_task(status)
    return status


def _run(args, launching):
    """Runs the command; its exit status (bad input, interrupts and cluster failures are reported here)."""
    from tfkit.errors import ClusterError, TfkitError
    from tfkit.jobs.directory import Terminated, terminate_as_interrupt

    try:
        with contextlib.ExitStack() as stack:
            if not launching:
                stack.enter_context(terminate_as_interrupt())
            status = args.run(args)
    except ClusterError as error:
        print(f"tfkit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_CLUSTER_FAILURE
    except TfkitError as error:
        print(f"tfkit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        if error.filename is None:
            raise
        # A path the user gave (or a folder they own) cannot be written or read: not a bug of tfkit's.
        print(f"tfkit {args.command}: error: {error.filename}: {error.strerror}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        how = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"tfkit {args.command}: {how}." + (" Checkpoints already written are intact; run the same command again "
                                                 "to resume." if getattr(args, "resumes", False) else ""), file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
    return status or 0
