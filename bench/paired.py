"""Paired timing of two models trained side by side: epochs in ABBA order, one ratio per round."""

import time


def timed_epoch(model, dataset, epochs=1):
    """Seconds for one ``model.fit`` of ``epochs`` epochs over ``dataset`` (which shuffles itself, if at all)."""
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0, shuffle=False)
    return time.perf_counter() - start


def abba_rounds(models, dataset, rounds, epoch=timed_epoch):
    """Trains ``models["tfkit"]`` and the other model (the reference) an epoch at a time in ABBA order.

    Whichever model runs second after a switch was measured to gain ~10%, so
    each goes first half of the time. ``epoch(model, dataset)`` trains one
    epoch and returns its seconds (Keras ``fit`` by default). Returns each
    model's epoch times and one ratio (tfkit's two epochs over the
    reference's two) per round.
    """
    reference = next(name for name in models if name != "tfkit")
    times, ratios = {name: [] for name in models}, []
    for _ in range(rounds):
        round_times = dict.fromkeys(models, 0.0)
        for name in ("tfkit", reference, reference, "tfkit"):
            seconds = epoch(models[name], dataset)
            times[name].append(seconds)
            round_times[name] += seconds
        ratios.append(round_times["tfkit"] / round_times[reference])
    return times, ratios
