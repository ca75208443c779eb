"""Progress of a long pass over data, said every few seconds: rows read, rows per second and, when the number of rows
is known, the time left."""

import time


class RowProgress:
    """Prints how far a pass has got when called with the rows read so far, at most once every ``every`` seconds.

    Args:
        total: About how many rows the pass reads, or None.
        every: Seconds between two lines.
        prefix: What each line starts with.

    Example:

    >>> progress = RowProgress(total=2_000, every=0)
    >>> progress(500)  # doctest: +ELLIPSIS
      500 of about 2,000 rows read (25%), ... rows/s, about ...s left
    """

    def __init__(self, total=None, every=5.0, prefix="  "):
        self.total, self.every, self.prefix = total, every, prefix
        self.started = self.last = time.monotonic()

    def __call__(self, rows):
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        rate = rows / max(now - self.started, 1e-9)
        line = f"{self.prefix}{rows:,} rows read"
        if self.total:
            line = f"{self.prefix}{rows:,} of about {self.total:,} rows read ({min(rows / self.total, 1):.0%})"
        line += f", {rate:,.0f} rows/s"
        if self.total and rows < self.total:
            line += f", about {(self.total - rows) / rate:.0f}s left"
        print(line, flush=True)
