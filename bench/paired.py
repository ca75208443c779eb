"""Paired timing of two models trained side by side: epochs in ABBA order, one ratio per round."""

import time


def timed_epoch(model, dataset):
    """Seconds for one epoch of ``model.fit`` over ``dataset`` (which shuffles itself, if at all)."""
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def abba_rounds(models, dataset, rounds):
    """Trains ``models["tfkit"]`` and ``models["keras"]`` an epoch at a time in ABBA order.

    Whichever model runs second after a switch was measured to gain ~10%, so
    each goes first half of the time. Returns each model's epoch times and one
    ratio (tfkit's two epochs over Keras' two) per round.
    """
    times, ratios = {"tfkit": [], "keras": []}, []
    for _ in range(rounds):
        round_times = {"tfkit": 0.0, "keras": 0.0}
        for name in ("tfkit", "keras", "keras", "tfkit"):
            seconds = timed_epoch(models[name], dataset)
            times[name].append(seconds)
            round_times[name] += seconds
        ratios.append(round_times["tfkit"] / round_times["keras"])
    return times, ratios
