"""Server-side batching: concurrent requests to one signature run as one call of the model.

A batch is the requests waiting when the model is free, up to
``max_batch_size`` rows, after waiting at most ``timeout_ms`` for more (0: no
wait, so a lone request runs at once and requests arriving while the model
computes make the next batch). A request larger than that runs on its own.
Calls run in a thread, so the server keeps accepting requests while the model
computes. A batch that fails, or whose requests do not stack, is run again
request by request, so that only the request at fault gets the error.
"""

import asyncio

import numpy as np


class Batcher:
    """Batches the calls of one signature (``signature(arrays)`` with ``arrays`` of checked inputs)."""

    def __init__(self, signature, max_batch_size=64, timeout_ms=0.0):
        self.signature = signature
        self.max_batch_size = max_batch_size
        self.timeout = timeout_ms / 1000.0
        self._queue = None
        self._worker = None

    async def __call__(self, arrays, rows):
        """The outputs of ``arrays`` (``rows`` rows), computed in a batch with other requests' when batching is on."""
        if self.max_batch_size <= 1 or rows >= self.max_batch_size:
            return await asyncio.to_thread(self.signature, arrays)
        if self._worker is None or self._worker.done():  # first use, or (never expected) a worker that died
            if self._queue is None:
                self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((arrays, rows, future))
        return await future

    async def _run(self):
        loop, carried = asyncio.get_running_loop(), None
        while True:
            batch = [carried or await self._queue.get()]
            carried, size, deadline = None, batch[0][1], loop.time() + self.timeout
            while size < self.max_batch_size:
                try:
                    if self._queue.empty() and loop.time() >= deadline:
                        break  # no wait left: the batch is what has come
                    item = await asyncio.wait_for(self._queue.get(), max(0.0, deadline - loop.time())) \
                        if self._queue.empty() else self._queue.get_nowait()
                except asyncio.TimeoutError:
                    break
                if size + item[1] > self.max_batch_size:
                    carried = item  # the next batch's first
                    break
                batch.append(item)
                size += item[1]
            await self._compute(batch)

    async def _compute(self, batch):
        batch = [request for request in batch if not request[2].done()]  # a client gone while it waited
        if not batch:
            return
        try:
            arrays = batch[0][0] if len(batch) == 1 else \
                {key: np.concatenate([a[key] for a, _, _ in batch]) for key in batch[0][0]}
            outputs = await asyncio.to_thread(self.signature, arrays)
        except Exception as error:
            if len(batch) == 1:
                if not batch[0][2].done():
                    batch[0][2].set_exception(error)
                return
            # Requests that do not stack (open dimensions of other sizes), or one whose values fail in the model
            # (a tf.Example that does not parse): each runs alone, so that only the request at fault gets its error.
            for request in batch:
                await self._compute([request])
            return
        start = 0
        for _, rows, future in batch:
            if not future.done():
                future.set_result({key: value[start:start + rows] for key, value in outputs.items()})
            start += rows
