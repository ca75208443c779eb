"""Pictures of neural-process predictions, as the tutorials draw them, beside the exact GP's (needs
``pip install tfkit-estimator[plots]``)."""

import os

import numpy as np

from tfkit.errors import TfkitError
from tfkit.io.files import replacing
from tfkit.io.versions import extra_requirement

_NAMES = ("target_x", "target_y", "context_x", "context_y", "mean", "stddev")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TfkitError(f"Plotting needs matplotlib: pip install '{extra_requirement('plots')}' (or matplotlib).") from None
    return plt


def _curves(arrays, names):
    arrays = [np.asarray(a, dtype="float64") for a in arrays]
    for name, array in zip(names, arrays):
        if array.ndim != 3 or array.shape[-1] != 1:
            raise TfkitError(f"plot_curves draws curves of one x and one y: {name} must be [batch, points, 1]. "
                             f"Received shape {array.shape}.")
    return arrays


def curves_figure(target_x, target_y, context_x, context_y, mean, stddev, num_curves=1, title=None, oracle=None):
    """A matplotlib figure of predicted curves: ground truth dotted, context points, the predicted mean and its
    two-standard-deviation band, and with ``oracle`` the exact GP's mean and band beside them.

    Arrays are ``[batch, points, 1]`` (one x and one y dimension), as the
    models take and return them; the first ``num_curves`` curves get a panel
    each, with labelled axes and a legend. Targets are sorted by x before
    drawing.

    Args:
        target_x, target_y: The targets and their true values.
        context_x, context_y: The context points.
        mean, stddev: The model's predictions at ``target_x``.
        num_curves: Panels (curves of the batch) to draw.
        title: A title over the panels.
        oracle: ``(mean, stddev)`` of the exact GP at ``target_x``
            (:class:`tfkit.models.GaussianProcess`), or None.

    Example:

    >>> import numpy as np
    >>> x = np.linspace(-2, 2, 50).reshape(1, 50, 1)
    >>> figure = curves_figure(x, np.sin(x), x[:, ::10], np.sin(x[:, ::10]), np.sin(x), np.full_like(x, 0.1),
    ...                        oracle=(np.sin(x), np.full_like(x, 0.05)))
    >>> figure.axes[0].get_legend_handles_labels()[1]
    ['ground truth', 'context', 'model mean', 'model ±2σ', 'exact GP mean', 'exact GP ±2σ']
    """
    plt = _pyplot()
    arrays = _curves((target_x, target_y, context_x, context_y, mean, stddev), _NAMES)
    if oracle is not None:
        arrays += _curves(oracle, ("exact GP mean", "exact GP stddev"))
    num_curves = min(num_curves, arrays[0].shape[0])
    figure, axes = plt.subplots(num_curves, 1, figsize=(8, 3.2 * num_curves), squeeze=False)
    for i, axis in enumerate(axes[:, 0]):
        tx, ty, cx, cy, *predicted = (a[i, :, 0] for a in arrays)
        order = np.argsort(tx)
        tx, ty = tx[order], ty[order]
        axis.plot(tx, ty, "k:", linewidth=2, label="ground truth")
        axis.plot(cx, cy, "ko", markersize=6, label="context")
        for (mu, sigma), who, line, fill in zip(zip(predicted[::2], predicted[1::2]), ("model", "exact GP"),
                                                ("b", "g--"), ("#65c9f7", "#7fd17f")):
            mu, sigma = mu[order], sigma[order]
            axis.plot(tx, mu, line, linewidth=2, label=f"{who} mean")
            axis.fill_between(tx, mu - 2 * sigma, mu + 2 * sigma, alpha=0.2, facecolor=fill, interpolate=True,
                              label=f"{who} ±2σ")
        axis.set_ylim(min(-2.0, ty.min() - 0.5), max(2.0, ty.max() + 0.5))
        axis.set_xlabel("x")
        axis.set_ylabel("y")
        axis.grid(False)
    axes[0, 0].legend(loc="upper right", fontsize="small")
    if title:
        axes[0, 0].set_title(title)
    figure.tight_layout()
    return figure


def plot_curves(path, target_x, target_y, context_x, context_y, mean, stddev, num_curves=1, title=None, oracle=None):
    """Writes :func:`curves_figure` of these arguments to the PNG ``path``, under a temporary name renamed when
    written, so a failed plot leaves no broken image.

    Example:

    >>> import numpy as np, os, tempfile
    >>> x = np.linspace(-2, 2, 50).reshape(1, 50, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "curve.png")
    >>> plot_curves(path, x, np.sin(x), x[:, ::10], np.sin(x[:, ::10]), np.sin(x), np.full_like(x, 0.1))
    >>> open(path, "rb").read(4)
    b'\\x89PNG'
    """
    figure = curves_figure(target_x, target_y, context_x, context_y, mean, stddev, num_curves, title, oracle)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with replacing(path) as temporary:
            figure.savefig(temporary, dpi=100, format="png")
    finally:
        _pyplot().close(figure)
