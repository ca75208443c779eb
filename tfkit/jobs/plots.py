"""Pictures of neural-process predictions, as the tutorials draw them (needs ``pip install tfkit[plots]``)."""

import os

import numpy as np

from tfkit.errors import TfkitError
from tfkit.io.files import replacing


def plot_curves(path, target_x, target_y, context_x, context_y, mean, stddev, num_curves=1, title=None):
    """Writes a PNG of predicted curves: ground truth dotted, context points, predicted mean and its ±σ band.

    Arrays are ``[batch, points, 1]`` (one x and one y dimension), as the
    models take and return them; the first ``num_curves`` curves get a panel
    each. Targets are sorted by x before drawing. The file is written under a
    temporary name and renamed, so a failed plot leaves no broken image.

    Args:
        path: The PNG to write.
        target_x, target_y: The targets and their true values.
        context_x, context_y: The context points.
        mean, stddev: The model's predictions at ``target_x``.
        num_curves: Panels (curves of the batch) to draw.
        title: A title over the panels.

    Example:

    >>> import numpy as np, os, tempfile
    >>> x = np.linspace(-2, 2, 50).reshape(1, 50, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "curve.png")
    >>> plot_curves(path, x, np.sin(x), x[:, ::10], np.sin(x[:, ::10]), np.sin(x), np.full_like(x, 0.1))
    >>> open(path, "rb").read(4)
    b'\\x89PNG'
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TfkitError("Plotting needs matplotlib: pip install 'tfkit[plots]' (or matplotlib).") from None
    arrays = [np.asarray(a, dtype="float64") for a in (target_x, target_y, context_x, context_y, mean, stddev)]
    names = ("target_x", "target_y", "context_x", "context_y", "mean", "stddev")
    for name, array in zip(names, arrays):
        if array.ndim != 3 or array.shape[-1] != 1:
            raise TfkitError(f"plot_curves draws curves of one x and one y: {name} must be [batch, points, 1]. "
                             f"Received shape {array.shape}.")
    num_curves = min(num_curves, arrays[0].shape[0])
    figure, axes = plt.subplots(num_curves, 1, figsize=(8, 3.2 * num_curves), squeeze=False)
    for i, axis in enumerate(axes[:, 0]):
        tx, ty, cx, cy, mu, sigma = (a[i, :, 0] for a in arrays)
        order = np.argsort(tx)
        tx, ty, mu, sigma = tx[order], ty[order], mu[order], sigma[order]
        axis.plot(tx, ty, "k:", linewidth=2, label="ground truth")
        axis.plot(cx, cy, "ko", markersize=6, label="context")
        axis.plot(tx, mu, "b", linewidth=2, label="predicted mean")
        axis.fill_between(tx, mu - sigma, mu + sigma, alpha=0.2, facecolor="#65c9f7", interpolate=True, label="±σ")
        axis.set_ylim(min(-2.0, ty.min() - 0.5), max(2.0, ty.max() + 0.5))
        axis.grid(False)
    axes[0, 0].legend(loc="upper right", fontsize="small")
    if title:
        axes[0, 0].set_title(title)
    figure.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        with replacing(path) as temporary:
            figure.savefig(temporary, dpi=100, format="png")
    finally:
        plt.close(figure)
