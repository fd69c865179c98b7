"""Micro-batching: items of concurrent requests gathered into one encoder call.

The first waiting request opens a batch; requests arriving within `max_wait` seconds join it
until it holds `max_batch` items. The batch runs in one worker thread (one encoder call at a
time), and each request gets back its own rows. `max_batch=1` serves one request at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np


class MicroBatcher:
    """`await submit(prepared)` → the rows of `run(prepared)` that belong to this request."""

    def __init__(
        self, run: Callable[[list[Any]], np.ndarray], max_batch: int = 32, max_wait: float = 0.005
    ) -> None:
        if max_batch < 1 or max_wait < 0:
            raise ValueError(f"max_batch ≥ 1 and max_wait ≥ 0, got {max_batch}, {max_wait}")
        self.run, self.max_batch, self.max_wait = run, max_batch, max_wait
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="encode")
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0  # encoder calls made (the load benchmark reports items per call)
        self.items = 0

    async def submit(self, prepared: list[Any]) -> np.ndarray:
        if self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._serve())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((prepared, future))
        return await future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self.queue.get()]
            size = len(waiting[0][0])
            deadline = loop.time() + self.max_wait
            while size < self.max_batch and (left := deadline - loop.time()) > 0:
                try:
                    waiting.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
                size += len(waiting[-1][0])
            items = [item for prepared, _ in waiting for item in prepared]
            try:
                vectors = await loop.run_in_executor(self.executor, self.run, items)
            except Exception as error:  # every request of the batch hears why
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.batches, self.items = self.batches + 1, self.items + len(items)
            start = 0
            for prepared, future in waiting:
                if not future.done():  # a client that went away leaves a cancelled future
                    future.set_result(vectors[start : start + len(prepared)])
                start += len(prepared)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
