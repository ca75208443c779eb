"""One trial of a study, run as its own process by :mod:`tfkit.tune.study`: ``tfkit train`` plus reporting.

``python -m tfkit.tune.trial TRIAL_DIR/config.yaml --study JOB_DIR --number N``
trains the trial's config (resuming from its checkpoints), reports the
validation metric after every epoch to the study, stops when the study's
pruner says the trial is not promising, and writes ``TRIAL_DIR/trial.json``:
``{"state": "COMPLETE" | "PRUNED", "value": ..., "epochs": ...}``.
"""

import argparse
import os
import sys

import keras

from tfkit import config as config_lib
from tfkit.errors import ConfigError, TfkitError
from tfkit.io.files import write_json
from tfkit.tune import study as study_lib


class Reporter(keras.callbacks.Callback):
    """Reports ``val_<metric>`` after each epoch to an Optuna trial; stops training when the trial should stop."""

    def __init__(self, trial, metric):
        super().__init__()
        self.trial, self.metric = trial, metric
        self.pruned_after, self.last_value = None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(f"val_{self.metric}")
        if value is None:
            raise ConfigError(f"tuning.metric: the run reports no validation {self.metric!r}; it reports: "
                              f"{', '.join(k[4:] for k in sorted(logs or {}) if k.startswith('val_'))}.")
        self.last_value = float(value)
        self.trial.report(self.last_value, epoch)
        if self.trial.should_prune():
            self.pruned_after = epoch + 1
            self.model.stop_training = True


def metric_value(summary, metric):
    """The trial's score: the final validation metric, or its mean over cross-validation folds."""
    if "cross_validation" in summary:
        return summary["cross_validation"]["validation"][metric]["mean"]
    return summary["validation"][metric]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tfkit.tune.trial")
    parser.add_argument("config")
    parser.add_argument("--study", required=True, help="the study's job directory")
    parser.add_argument("--number", type=int, required=True, help="the trial's number in the study")
    args = parser.parse_args(argv)
    from tfkit.jobs.run import Run

    optuna = study_lib.import_optuna()
    try:
        config = config_lib.load(args.config)
        study, spec = study_lib.load_study(args.study)
        frozen = study.get_trials(deepcopy=False)[args.number]
        reporter = Reporter(optuna.trial.Trial(study, frozen._trial_id), spec["metric"])
        summary = Run(config, callbacks=[reporter]).train()
    except TfkitError as error:
        print(f"trial {args.number}: error: {error}", file=sys.stderr)
        return 2
    pruned = reporter.pruned_after is not None
    result = {"state": "PRUNED" if pruned else "COMPLETE", "epochs": summary.get("epochs"),
              "value": reporter.last_value if pruned else metric_value(summary, spec["metric"])}
    write_json(os.path.join(config["job_dir"], "trial.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
