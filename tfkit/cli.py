"""The ``tfkit`` command: train, evaluate, export and predict from a config; convert image sets; train word vectors;
launch clusters.

TensorFlow is imported only inside a command that needs it, so ``--help``
answers at once. Bad input (config, data, columns) exits with status 2 and a
one-paragraph message, no traceback.
"""

import argparse
import contextlib
import os
import re
import sys
import tempfile

EXIT_CLUSTER_FAILURE = 1
EXIT_NO_TRIAL_COMPLETED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _parser():
    parser = argparse.ArgumentParser(
        prog="tfkit",
        description="Train, evaluate, export and serve tfkit models from a config file.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def with_config(name, help_text, parent=commands):
        command = parent.add_parser(name, help=help_text, description=help_text)
        command.add_argument("config", help="YAML or JSON run config")
        command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                             help="override a config key, e.g. --set train.epochs=5 (repeatable)")
        command.add_argument("--job-dir", help="run directory (default: the config's job_dir)")
        return command

    with_config("train", "Train a model (resuming from the job directory's last checkpoint), evaluate it and export it.")
    with_config("evaluate", "Evaluate the latest checkpoint of a run on its validation and test data.")
    export = with_config("export", "Export the latest checkpoint of a run as a SavedModel taking raw features.")
    export.add_argument("--export-dir", help="where to write the versioned SavedModel (default: JOB_DIR/export)")

    tune = with_config("tune", "Search hyperparameters: run the trials of the config's tuning section (resumable).")
    tune.add_argument("--quiet", action="store_true", help="print only the results table, not a line per trial")

    config_command = commands.add_parser("config", help="Check a config, or show it resolved with every default.",
                                         description="Check a config, or show it resolved with every default.")
    config_actions = config_command.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (("check", "Validate a config: its keys, types, columns and model; exit 2 naming what is wrong."),
                              ("show", "Print the resolved config as YAML: paths resolved, defaults filled in.")):
        with_config(action, help_text, parent=config_actions)

    plot = with_config("plot", "Plot a trained neural process's predictions on test curves (needs matplotlib).")
    plot.add_argument("--output", default=None, help="the PNG to write (default: JOB_DIR/curves.png)")
    plot.add_argument("--num-curves", type=int, default=3, help="curves of the first test batch to draw (default: 3)")

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

    convert = commands.add_parser(
        "to-tfrecords",
        help="Write an image set (CIFAR-10, image folder, .npz) to sharded TFRecord files.",
        description="Write an image set to OUTPUT-0000i-of-0000n.tfrecord files that `data.format: tfrecord` trains "
                    "from. Example: tfkit to-tfrecords cifar-10-batches-py data/cifar10/train --format cifar10 --shards 8",
    )
    convert.add_argument("source", help="a CIFAR-10 folder or batch file, an image folder (one subfolder per class), an .npz file")
    convert.add_argument("output", help="path prefix of the shards, e.g. data/cifar10/train")
    convert.add_argument("--format", required=True, choices=["cifar10", "image_folder", "numpy"], help="what SOURCE is")
    convert.add_argument("--split", choices=["train", "test"], default="train",
                         help="which batches of a CIFAR-10 folder (default: train)")
    convert.add_argument("--shards", type=int, default=1, help="number of files (default: 1)")
    convert.add_argument("--image-size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                         help="resize the images of an image folder to this size")

    word2vec = commands.add_parser(
        "word2vec",
        help="Train word vectors on text files and write them in word2vec's format.",
        description="Train word2vec on CORPUS (text files, one sentence or paragraph per line, .gz allowed) and write "
                    "the vectors that TextCNN's `vectors` takes. Example: tfkit word2vec data/mr/rt-polarity.*.gz "
                    "--output mr-vectors.txt --standardize kim --min-count 1",
    )
    word2vec.add_argument("corpus", nargs="+", help="text files or globs")
    word2vec.add_argument("--output", required=True, metavar="FILE", help="vectors file to write")
    word2vec.add_argument("--binary", action="store_true", help="write word2vec's binary format (default: text)")
    word2vec.add_argument("--dimension", type=int, default=100, help="vector width (default: 100)")
    word2vec.add_argument("--mode", choices=["skip_gram", "cbow"], default="skip_gram", help="(default: skip_gram)")
    word2vec.add_argument("--loss", choices=["negative_sampling", "nce"], default="negative_sampling",
                          help="(default: negative_sampling)")
    word2vec.add_argument("--window", type=int, default=5, help="largest context distance (default: 5)")
    word2vec.add_argument("--num-negatives", type=int, default=5, help="noise words per pair (default: 5)")
    word2vec.add_argument("--subsample", type=float, default=1e-3, help="frequent-word subsampling threshold (default: 1e-3)")
    word2vec.add_argument("--min-count", type=int, default=5, help="drop rarer words (default: 5)")
    word2vec.add_argument("--standardize", choices=["lower", "kim", "lower_and_strip_punctuation", "none"], default="lower",
                          help="text standardisation (default: lower)")
    word2vec.add_argument("--encoding", default="utf-8", help="encoding of the files (default: utf-8)")
    word2vec.add_argument("--epochs", type=int, default=5, help="passes over the corpus (default: 5)")
    word2vec.add_argument("--batch-words", type=int, default=10_000, help="corpus words per step (default: 10,000)")
    word2vec.add_argument("--mix-steps", type=int, default=16,
                          help="each step's words are drawn at random from this many steps of lines (default: 16)")
    word2vec.add_argument("--seed", type=int, help="random seed")

    from tfkit.serve import command as serve_command

    serve = commands.add_parser(
        "serve",
        help="Serve the versions of an export folder with TensorFlow Serving's REST (and gRPC) API.",
        description="Serve EXPORT_DIR (numbered SavedModel versions, as tfkit exports them) at /v1/models/NAME: "
                    "predict, status and metadata as TensorFlow Serving answers them; new versions are picked up "
                    "as they appear. Needs pip install \"tfkit[serve]\". Example: tfkit serve runs/census/export. "
                    + serve_command.LIMITS,
    )
    serve_command.add_arguments(serve)

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
    return parser


def _load_config(args):
    from tfkit import config as config_lib

    config = config_lib.load(args.config, args.set)
    if args.job_dir:
        config["job_dir"] = args.job_dir
    return config


def _print_metrics(results):
    for split in ("validation", "test"):
        if split in results:
            line = "  ".join(f"{k}={v:.4f}" for k, v in sorted(results[split].items()))
            print(f"{split}: {line}")


def _train(args):
    config = _load_config(args)
    from tfkit.distribute import cluster

    task = cluster.from_tf_config()
    cluster.serve_if_only_serving(task, config["job_dir"])
    if task is not None and task.type == "evaluator":
        from tfkit.sidecar import evaluate_continuously

        evaluate_continuously(config, task)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # tf.data's thread pools can block interpreter shutdown; everything is written
    from tfkit.jobs import job_lock
    from tfkit.run import Run

    run = Run(config, task)
    if not run.is_chief:
        run.train()
        return
    from tfkit.distribute.lost_workers import on_the_chief

    with job_lock(config["job_dir"], _command_line(args)), on_the_chief(task):
        summary = run.train()
    if "cross_validation" in summary:
        print(f"Cross-validated {summary['folds']} folds of {summary['epochs']} epochs in {summary['train_seconds']}s; "
              f"job_dir: {config['job_dir']}")
        for split, metrics in summary["cross_validation"].items():
            for metric, spread in sorted(metrics.items()):
                print(f"{split} {metric}: mean {spread['mean']:.4f}  std {spread['std']:.4f}  "
                      f"(min {spread['min']:.4f}, max {spread['max']:.4f}, {summary['folds']} folds)")
        return
    print(f"Trained {summary['epochs']} epochs ({summary['steps']} steps) in {summary['train_seconds']}s; "
          f"job_dir: {config['job_dir']}")
    if "best_epoch" in summary:
        stopping = config["train"]["early_stopping"]
        stopped = (f"stopped training after epoch {summary['stopped_epoch']}" if "stopped_epoch" in summary
                   else "did not stop training")
        print(f"Early stopping {stopped}; the weights are those of epoch {summary['best_epoch']}, the best by "
              f"{stopping.get('monitor', 'val_loss')}.")
    _print_metrics(summary)
    if summary.get("export_reused"):
        print(f"SavedModel up to date (nothing trained since): {summary['export']}; `tfkit export` writes a new version.")
    elif "export" in summary:
        print(f"Exported SavedModel: {summary['export']}")
    if task is not None:
        # Last: once marked, the other tasks exit, and the coordinator's threads would only
        # report them gone while this process shuts down.
        sys.stdout.flush()
        cluster.mark_chief_done(config["job_dir"])
        os._exit(0)


def _evaluate(args):
    from tfkit.run import Run

    _print_metrics(Run(_load_config(args)).evaluate())


def _export(args):
    from tfkit.jobs import job_lock
    from tfkit.run import Run

    config = _load_config(args)
    with job_lock(config["job_dir"], _command_line(args)):
        print(f"Exported SavedModel: {Run(config).export(args.export_dir)}")


def _command_line(args):
    return " ".join(["tfkit", args.command, args.config, *(f"--set {override}" for override in args.set)])


def _config(args):
    from tfkit import config as config_lib

    config = _load_config(args)
    if args.action == "show":
        import yaml

        print(yaml.safe_dump(config_lib.with_model_defaults(config), sort_keys=False), end="")
        return
    from tfkit.data.checks import check_data_files

    columns, model = config_lib.check(config)
    check_data_files(config["data"], model.input_specs())
    if config["tuning"] is not None:
        from tfkit.tune.study import check

        check(args.config, args.set, config)
    print(f"{args.config}: OK ({type(model).__name__}, {len(columns)} feature column{'s' * (len(columns) != 1)}, "
          f"data.format {config['data']['format']})")


def _tune(args):
    from tfkit.tune.study import Study, format_table

    study = Study(args.config, args.set, args.job_dir)
    print(f"Tuning {len(study.params)} parameter(s) of {args.config}: {study.spec['goal'].lower()} validation "
          f"{study.metric}, {study.spec['max_trials']} trials, {study.spec['max_parallel_trials']} at a time; "
          f"job_dir: {study.job_dir}", flush=True)
    rows = study.run(out=(lambda line: None) if args.quiet else (lambda line: print(line, flush=True)))
    print(format_table(rows, study.metric, study.params))
    print(f"Results: {os.path.join(study.job_dir, 'results.csv')} and results.json")
    best = study.best(rows)
    if best is None:
        print("No trial completed.", file=sys.stderr)
        return EXIT_NO_TRIAL_COMPLETED
    values = ", ".join(f"{p.name}={best[p.name]!r}" for p in study.params)
    print(f"Best trial {best['trial']}: {study.metric}={best[study.metric]:.4f} with {values}; run: {best['job_dir']}")


def _plot(args):
    from tfkit.errors import ConfigError
    from tfkit.plots import plot_curves
    from tfkit.run import Run

    config = _load_config(args)
    if config["data"]["format"] != "gp_curves":
        raise ConfigError(f"data.format: tfkit plot draws curves; it needs gp_curves data, received {config['data']['format']!r}.")
    run = Run(config)
    run.restore_trained()
    dataset = run.test_dataset() or run.validation_dataset()
    features, target_y = next(iter(dataset.take(1) if dataset is not None else run.train_dataset(training=False)))
    predictions = run.model.predict(features, verbose=0)
    output = args.output or os.path.join(config["job_dir"], "curves.png")
    plot_curves(output, features["target_x"], target_y, features["context_x"], features["context_y"],
                predictions["mean"], predictions["stddev"], num_curves=args.num_curves,
                title=f"{run.model.name} after {int(run.epoch.numpy())} epochs")
    print(f"Wrote {output}")


def _predict(args):
    from tfkit.predict import predict_file

    count = predict_file(args.export_dir, json_instances=args.json_instances, csv=args.csv,
                         output=args.output, batch_size=args.batch_size)
    if args.output:
        print(f"Wrote {count} predictions to {args.output}", file=sys.stderr)


def _to_tfrecords(args):
    from tfkit import data

    images = data.read_images(args.source, args.format, args.split, args.image_size)
    files = data.write_tfrecords(images, args.output, num_shards=args.shards)
    height, width, channels = images.images.shape[1:]
    print(f"Wrote {len(images)} images ({height}x{width}x{channels}) to {len(files)} file(s): {files[0]}"
          + (f" ... {files[-1]}" if len(files) > 1 else ""))
    if images.class_names:
        print(f"Classes (label_vocabulary): {images.class_names}")


def _word2vec(args):
    from tfkit.word2vec_job import train_word_vectors

    train_word_vectors(args)


def _serve(args):
    from tfkit.serve import command

    command.run(args)


def _launch(args):
    from tfkit.distribute.launch import launch
    from tfkit.errors import TfkitError

    command = args.cluster_command[1:] if args.cluster_command[:1] == ["--"] else args.cluster_command
    if not command:
        raise TfkitError("launch needs the command each task runs, after --: tfkit launch --ps 1 -- tfkit train config.yaml")
    if args.workers < 0 or args.ps < 0:
        raise TfkitError(f"--workers and --ps count tasks and cannot be negative. Received: {args.workers}, {args.ps}.")
    return launch(command, num_workers=args.workers, num_ps=args.ps, evaluator=args.evaluator)


_COMMANDS = {"train": _train, "evaluate": _evaluate, "export": _export, "config": _config, "tune": _tune, "plot": _plot, "predict": _predict, "to-tfrecords": _to_tfrecords,
             "word2vec": _word2vec, "serve": _serve, "launch": _launch}


# TensorFlow's start-up lines: absl's banner, INFO and WARNING lines, the CUDA probe's error on a machine without a
# GPU, and the CPU-feature line's continuation. Written by C++ to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says.
_START_UP_LINES = re.compile(r"WARNING: All log messages before absl::InitializeLog|[IW]\d{4} \d\d:\d\d:|"
                             r"E\d{4} .*(cuInit|CUDA|cuda)|To enable the following instructions:")


def quiet_tensorflow():
    """Starts TensorFlow with its start-up lines kept off the terminal; anything else it (or Python) writes to
    stderr meanwhile is passed on. A user who set ``TF_CPP_MIN_LOG_LEVEL`` keeps their choice and every line."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the platforms' probes log here (no logical device is made)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode("utf-8", errors="replace").splitlines(keepends=True):
            if not _START_UP_LINES.match(line):
                sys.stderr.write(line)


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
    from tfkit.jobs import Terminated, terminate_as_interrupt

    try:
        with contextlib.ExitStack() as stack:
            if not launching:
                stack.enter_context(terminate_as_interrupt())
            status = _COMMANDS[args.command](args)
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
        print(f"tfkit {args.command}: {how}. Checkpoints already written are intact; "
              "run the same command again to resume.", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
