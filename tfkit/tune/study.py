"""A hyperparameter study over a config: trials in parallel processes, recorded by Optuna, resumable.

Everything lives in the study's job directory::

    job_dir/
      study.journal          Optuna's record of every trial (parameters, per-epoch and final values, state)
      results.csv            the table: trial, status, metric, parameters, seconds, job_dir, message
      results.json           the same, with the goal, the metric and the best trial
      trials/<number>/       a trial's run: config.yaml (`tfkit train` on it reproduces the trial),
                             checkpoints, metrics.json, export, log.txt (its output), trial.json (its result)

Running the same command again continues the study: finished trials (complete,
stopped early or failed) are kept, trials that were running are restarted from
their last checkpoint, and new ones are drawn until ``max_trials``.
"""

import csv
import itertools
import json
import os
import random
import subprocess
import sys
import time

from tfkit import config as config_lib
from tfkit.errors import ConfigError, TfkitError
from tfkit.io.files import replacing, write_json
from tfkit.io.versions import extra_requirement
from tfkit.jobs.directory import job_lock, terminate_as_interrupt
from tfkit.tune import spec as tuning_spec

STUDY_NAME = "tfkit"
# Raising or lowering these continues the same study; any other change makes it another study.
_CONTINUABLE = ("max_trials", "max_parallel_trials")


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise TfkitError("tfkit tune searches with Optuna, which is not installed: "
                         f"pip install '{extra_requirement('tune')}'.") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage(job_dir):
    """The study's Optuna storage: a journal file, safe for several processes on one machine."""
    optuna = import_optuna()
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(os.path.join(job_dir, "study.journal")))


def pruner(spec):
    """What stops unpromising trials: the median rule with ``early_stopping``, else nothing."""
    optuna = import_optuna()
    if not spec["early_stopping"]:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def load_study(job_dir):
    """The study in ``job_dir`` as a trial process sees it: ``(Optuna study with its pruner, tuning section)``.

    The tuning section comes from the study's own record, so a trial stops
    early exactly when the study that started it would stop it.
    """
    study = import_optuna().load_study(study_name=STUDY_NAME, storage=storage(job_dir))
    spec = study.user_attrs["config"]["tuning"]
    study.pruner = pruner(spec)
    return study, spec


def trial_overrides(params, values):
    """``--set`` strings that put each parameter's value into a config."""
    return [f"{'.'.join(keys)}={json.dumps(value)}" for param in params
            for keys, value in param.overrides(values[param.name])]


def trial_config(path, overrides, params, values, job_dir):
    """The config of the trial with ``values``: the study's config with the values set, no tuning section.

    The tuning section goes before validation: loading the study's config has checked it already.
    """
    config = config_lib.load(path, [*overrides, "tuning=null", *trial_overrides(params, values)])
    config["job_dir"] = job_dir
    return config


def check(path, overrides, config):
    """Builds the model with each parameter at its extremes and checks the metric; errors name the parameter.

    Only the structure is checked (no data read, nothing trained); a value
    that fails at run time fails its trial, which the study records.
    """
    spec = config["tuning"]
    data, train = config["data"], config["train"]
    if data["validation"] is None and data["validation_split"] is None and train["cross_validation"] is None:
        raise ConfigError("tuning.metric: trials are scored on validation data; set data.validation, "
                          "data.validation_split or train.cross_validation.")
    params = tuning_spec.params(spec)
    model = None
    for i, param in enumerate(params):
        for value in param.extremes():
            values = {p.name: p.extremes()[0] for p in params} | {param.name: value}
            try:
                _, model = config_lib.check(trial_config(path, overrides, params, values, config["job_dir"]))
            except ConfigError as error:
                raise ConfigError(f"tuning.params[{i}] ({param.name}) = {value!r}: {error}") from None
    from tfkit.data.checks import check_data_files

    if model is not None:
        check_data_files(data, model.input_specs())
    head = getattr(model, "head", None)
    if head is not None:
        reported = ["loss", *(metric.name for metric in head.metrics())]
        if spec["metric"] not in reported:
            raise ConfigError(f"tuning.metric: {spec['metric']!r} is not a metric {type(model).__name__} reports; "
                              f"it reports: {', '.join(reported)}.")


class Study:
    """The study of one config's ``tuning`` section in its job directory. See the module docstring.

    Args:
        path: The config file.
        overrides: ``key.path=value`` strings, as ``--set`` takes them.
        job_dir: The study's directory. Default: the config's ``job_dir``.

    Example:

    >>> from tfkit.tune.study import Study
    >>> study = Study("configs/census_tuning.yaml", ["tuning.max_trials=4"], job_dir="runs/my_study")
    >>> [param.name for param in study.params]
    ['model.first_layer_size', 'model.num_layers', 'model.scale_factor', 'embedding_size']
    >>> study.params[0].value(0.5), round(study.params[2].value(0.5), 3)  # the middle of each scale
    (275, 0.784)

    ``study.run()`` then runs the trials and returns the results table's rows.
    """

    def __init__(self, path, overrides=(), job_dir=None):
        self.path, self.overrides = path, list(overrides)
        self.config = config_lib.load(path, self.overrides)
        if self.config["tuning"] is None:
            raise ConfigError(f"tuning: missing; `tfkit tune` needs a tuning section in {path} (goal, metric, "
                              "max_trials, params, ...).")
        self.job_dir = job_dir or self.config["job_dir"]
        self.spec = self.config["tuning"]
        self.params = tuning_spec.params(self.spec)
        self.metric = self.spec["metric"]
        self.running = {}  # trial number -> (process, started)

    # -- the study --------------------------------------------------------------
    def run(self, out=print):
        """Runs trials until ``max_trials`` have finished; returns the results table's rows."""
        check(self.path, self.overrides, self.config)
        os.makedirs(os.path.join(self.job_dir, "trials"), exist_ok=True)
        with job_lock(self.job_dir, f"tfkit tune {self.path}"), terminate_as_interrupt():
            self.study = self._open()
            self._write_results()
            try:
                self._loop(out)
            finally:  # interrupted: stop the trials; they stay running in the study and resume next time
                self._stop_running()
                rows = self._write_results()
        return rows

    def _open(self):
        optuna = import_optuna()
        recorded = {k: v for k, v in self.config.items() if k != "job_dir"}
        recorded["tuning"] = {k: v for k, v in self.spec.items() if k not in _CONTINUABLE}
        study = optuna.create_study(storage=storage(self.job_dir), study_name=STUDY_NAME, load_if_exists=True,
                                    direction=self.spec["goal"].lower())
        study.sampler, study.pruner = self._sampler(len(study.trials)), pruner(self.spec)
        if "config" in study.user_attrs and study.user_attrs["config"] != json.loads(json.dumps(recorded)):
            before = study.user_attrs["config"]
            changed = [k for k in sorted(set(before) | set(recorded)) if before.get(k) != json.loads(json.dumps(recorded.get(k)))]
            raise ConfigError(
                f"job_dir {self.job_dir!r} holds a study of another config (its {', '.join(changed)} "
                f"{'section differs' if len(changed) == 1 else 'sections differ'}): its trials "
                "do not fit this search. Use another --job-dir, or delete the old one to start over. Only "
                f"{' and '.join(f'tuning.{k}' for k in _CONTINUABLE)} may change between runs of one study.")
        study.set_user_attr("config", recorded)
        return study

    def _sampler(self, num_trials):
        optuna = import_optuna()
        # A resumed study must not draw the first trials' parameters again: the seed moves on with the trials.
        seed = self.spec["seed"] + num_trials
        if self.spec["algorithm"] in ("RANDOM_SEARCH", "GRID_SEARCH"):  # a grid's points are enqueued (_grid_point)
            return optuna.samplers.RandomSampler(seed=seed)
        return optuna.samplers.TPESampler(seed=seed)

    def _grid(self):
        """Every point of the grid, in an order shuffled by the seed; [] unless searching a grid."""
        if self.spec["algorithm"] != "GRID_SEARCH":
            return []
        points = [dict(zip([p.name for p in self.params], point))
                  for point in itertools.product(*(p.grid() for p in self.params))]
        random.Random(self.spec["seed"]).shuffle(points)
        return points

    def _max_trials(self):
        grid = self._grid()
        return min(len(grid), self.spec["max_trials"]) if grid else self.spec["max_trials"]

    def _grid_point(self):
        """The first grid point no trial has taken yet. (Optuna's GridSampler only works inside study.optimize.)"""
        taken = [trial.params for trial in self.study.get_trials(deepcopy=False)]
        return next(point for point in self._grid() if point not in taken)

    def _loop(self, out):
        finished = ("COMPLETE", "PRUNED", "FAIL")
        for trial in self.study.get_trials(deepcopy=False):
            if trial.state.name == "RUNNING":  # the run that started it was interrupted
                out(f"Trial {trial.number}: resuming in {self.trial_dir(trial.number)}")
                self._start(trial.number, trial.user_attrs["values"])
        while True:
            done = sum(t.state.name in finished for t in self.study.get_trials(deepcopy=False))
            while len(self.running) < self.spec["max_parallel_trials"] and done + len(self.running) < self._max_trials():
                if self.spec["algorithm"] == "GRID_SEARCH":
                    self.study.enqueue_trial(self._grid_point())
                trial = self.study.ask()
                values = {p.name: p.value(self._suggest(trial, p)) for p in self.params}
                trial.set_user_attr("values", values)
                self._start(trial.number, values)
            if not self.running:
                return
            number = self._wait()
            out(self._finish(number))

    @staticmethod
    def _suggest(trial, param):
        if param.numeric:
            return trial.suggest_float(param.name, 0.0, 1.0)
        return trial.suggest_categorical(param.name, list(range(len(param.values))))

    # -- trials -------------------------------------------------------------------
    def trial_dir(self, number):
        return os.path.join(self.job_dir, "trials", f"{number:04d}")

    def _start(self, number, values):
        directory = self.trial_dir(number)
        os.makedirs(directory, exist_ok=True)
        result = os.path.join(directory, "trial.json")
        if os.path.exists(result):
            os.remove(result)
        path = os.path.join(directory, "config.yaml")
        if not os.path.exists(path):  # a restarted trial keeps the config its checkpoints belong to
            config_lib.dump(trial_config(self.path, self.overrides, self.params, values, directory), path)
        # Parallel trials share the cores instead of each taking them all.
        threads = str(max(1, (os.cpu_count() or 1) // self.spec["max_parallel_trials"]))
        env = {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads,
               "OMP_NUM_THREADS": threads}
        command = [sys.executable, "-m", "tfkit.tune.trial", path, "--study", self.job_dir, "--number", str(number)]
        with open(os.path.join(directory, "log.txt"), "a", encoding="utf-8") as log:
            # A session of its own: Ctrl-C reaches the study, which stops its trials itself.
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.running[number] = (process, time.time())
        self._write_results()

    def _wait(self):
        while True:
            for number, (process, _) in self.running.items():
                if process.poll() is not None:
                    return number
            time.sleep(0.2)

    def _finish(self, number):
        """Tells the study how a trial that ended went, records it in its trial.json; returns a line saying so."""
        process, started = self.running.pop(number)
        path = os.path.join(self.trial_dir(number), "trial.json")
        result = _read_json(path) if process.returncode == 0 else None
        if result is None:
            message = _last_line(os.path.join(self.trial_dir(number), "log.txt")) or f"exit status {process.returncode}"
            result = {"state": "FAIL", "message": message}
        result["seconds"] = round(time.time() - started, 1)
        write_json(path, result)
        state = import_optuna().trial.TrialState[result["state"]]
        self.study.tell(number, result.get("value") if result["state"] == "COMPLETE" else None, state=state)
        self._write_results()
        values = self.study.get_trials(deepcopy=False)[number].user_attrs["values"]
        shown = ", ".join(f"{name}={_format(value)}" for name, value in values.items())
        outcome = {"COMPLETE": f"{self.metric}={_format(result.get('value'))}",
                   "PRUNED": f"stopped early after epoch {result.get('epochs')} ({self.metric}={_format(result.get('value'))})",
                   "FAIL": f"failed: {result.get('message')}"}[result["state"]]
        return f"Trial {number} {outcome} [{shown}] in {result['seconds']}s"

    def _stop_running(self):
        for process, _ in self.running.values():
            process.terminate()
        for process, _ in self.running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()

    # -- the table ----------------------------------------------------------------
    def rows(self):
        """One row per trial: trial, status, the metric, every parameter's value, seconds, job_dir, message.

        A trial stopped early shows the metric it was stopped at.
        """
        rows = []
        for trial in self.study.get_trials(deepcopy=False):
            result = _read_json(os.path.join(self.trial_dir(trial.number), "trial.json")) or {}
            rows.append({"trial": trial.number, "status": trial.state.name, self.metric: result.get("value"),
                         **trial.user_attrs.get("values", {}), "seconds": result.get("seconds"),
                         "job_dir": self.trial_dir(trial.number), "message": result.get("message", "")})
        return rows

    def best(self, rows):
        complete = [row for row in rows if row["status"] == "COMPLETE"]
        if not complete:
            return None
        sign = 1 if self.spec["goal"] == "MAXIMIZE" else -1
        return max(complete, key=lambda row: sign * row[self.metric])

    def _write_results(self):
        rows = self.rows()
        columns = ["trial", "status", self.metric, *(p.name for p in self.params), "seconds", "job_dir", "message"]
        with replacing(os.path.join(self.job_dir, "results.csv")) as temporary:
            with open(temporary, "w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, columns)
                writer.writeheader()
                writer.writerows({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
                                 for row in rows)
        write_json(os.path.join(self.job_dir, "results.json"),
                   {"goal": self.spec["goal"], "metric": self.metric, "best": self.best(rows), "trials": rows})
        return rows


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _last_line(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return None
    return lines[-1][:500] if lines else None


def _format(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_table(rows, metric, params):
    """The results as aligned text columns."""
    columns = ["trial", "status", metric, *(p.name for p in params), "seconds"]
    cells = [[("" if row.get(c) is None else _format(row[c])) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)
