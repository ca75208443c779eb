"""``tfkit train``, ``evaluate`` and ``export``: a config's run in its job directory (:mod:`tfkit.jobs`)."""

import os
import sys

from tfkit.cli.options import command_line, load_config, print_metrics, with_config


def add_parsers(commands):
    with_config(commands, "train", "Train a model (resuming from the job directory's last checkpoint), evaluate it and "
                                   "export it.").set_defaults(run=train, resumes=True)
    with_config(commands, "evaluate", "Evaluate the latest checkpoint of a run on its validation and test data."
                ).set_defaults(run=evaluate)
    export_command = with_config(commands, "export", "Export the latest checkpoint of a run as a SavedModel taking raw "
                                                     "features.")
    export_command.add_argument("--export-dir", help="where to write the versioned SavedModel (default: JOB_DIR/export)")
    export_command.set_defaults(run=export)


def train(args):
    config = load_config(args)
    from tfkit.distribute import cluster

    task = cluster.from_tf_config()
    cluster.serve_if_only_serving(task, config["job_dir"])
    if task is not None and task.type == "evaluator":
        from tfkit.jobs.evaluator import evaluate_continuously

        evaluate_continuously(config, task)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # tf.data's thread pools can block interpreter shutdown; everything is written
    from tfkit.jobs.directory import job_lock
    from tfkit.jobs.run import Run

    run = Run(config, task)
    if not run.is_chief:
        run.train()
        return
    from tfkit.distribute.lost_workers import on_the_chief

    with job_lock(config["job_dir"], command_line(args)), on_the_chief(task):
        summary = run.train()
    _report(summary, config)
    if task is not None:
        # Last: once marked, the other tasks exit, and the coordinator's threads would only
        # report them gone while this process shuts down.
        sys.stdout.flush()
        cluster.mark_chief_done(config["job_dir"])
        os._exit(0)


def _report(summary, config):
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
    print_metrics(summary)
    if summary.get("export_reused"):
        print(f"SavedModel up to date (nothing trained since): {summary['export']}; `tfkit export` writes a new version.")
    elif "export" in summary:
        print(f"Exported SavedModel: {summary['export']}")


def evaluate(args):
    from tfkit.jobs.run import Run

    print_metrics(Run(load_config(args)).evaluate())


def export(args):
    from tfkit.jobs.directory import job_lock
    from tfkit.jobs.run import Run

    config = load_config(args)
    with job_lock(config["job_dir"], command_line(args)):
        print(f"Exported SavedModel: {Run(config).export(args.export_dir)}")
