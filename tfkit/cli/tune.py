"""``tfkit tune``: the trials of a config's tuning section (:mod:`tfkit.tune`)."""

import os
import sys

from tfkit.cli.options import EXIT_NO_TRIAL_COMPLETED, with_config


def add_parsers(commands):
    tune = with_config(commands, "tune", "Search hyperparameters: run the trials of the config's tuning section "
                                         "(resumable).")
    tune.add_argument("--quiet", action="store_true", help="print only the results table, not a line per trial")
    tune.set_defaults(run=run, resumes=True)


def run(args):
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
