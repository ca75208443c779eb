"""``tfkit plot``: a trained neural process's predictions on test curves, beside the exact GP's where one kernel drew
them (:mod:`tfkit.jobs.plots`)."""

import os

from tfkit.cli.options import load_config, with_config


def add_parsers(commands):
    plot = with_config(commands, "plot", "Plot a trained neural process's predictions on test curves (needs matplotlib).")
    plot.add_argument("--output", default=None, help="the PNG to write (default: JOB_DIR/curves.png)")
    plot.add_argument("--num-curves", type=int, default=3, help="curves of the first test batch to draw (default: 3)")
    plot.set_defaults(run=run)


def run(args):
    from tfkit.errors import ConfigError
    from tfkit.jobs.plots import plot_curves
    from tfkit.jobs.run import Run

    config = load_config(args)
    if config["data"]["format"] != "gp_curves":
        raise ConfigError(f"data.format: tfkit plot draws curves; it needs gp_curves data, received {config['data']['format']!r}.")
    run = Run(config)
    run.restore_trained()
    dataset = run.test_dataset() or run.validation_dataset()
    features, target_y = next(iter(dataset.take(1) if dataset is not None else run.train_dataset(training=False)))
    predictions = run.model.predict(features, verbose=0)
    # The NLL per target point of the test batch whose first curves are drawn: the model's and (on curves of one
    # kernel) the exact GP's.
    model_nll = run.model.evaluate(features, target_y, verbose=0, return_dict=True)["nll"]
    oracle, gp_nll, gp = None, None, run.exact_gp()
    if gp is not None:
        exact = gp.predict(features, verbose=0)
        oracle = (exact["mean"], exact["stddev"])
        gp_nll = gp.evaluate(features, target_y, verbose=0, return_dict=True)["nll"]

    def said(model):  # e.g. "model 1.458, exact GP 0.312"
        return f"{model} {model_nll:.3f}" + ("" if gp_nll is None else f", exact GP {gp_nll:.3f}")

    output = args.output or os.path.join(config["job_dir"], "curves.png")
    plot_curves(output, features["target_x"], target_y, features["context_x"], features["context_y"],
                predictions["mean"], predictions["stddev"], num_curves=args.num_curves, oracle=oracle,
                title=f"{run.model.name} after {int(run.epoch.numpy())} epochs\nNLL per target point: {said('model')}")
    print(f"Wrote {output} (NLL per target point of its test batch: {said(run.model.name)})")
