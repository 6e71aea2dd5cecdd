"""A progress bar fed from inside a compiled loop, or from the host between calls of one."""

from __future__ import annotations

import threading

import jax
import numpy as np
from tqdm.auto import tqdm

__all__ = ["Progress"]


class Progress:
    """A progress bar of ``total`` iterations, fed from inside a compiled loop (:meth:`tick`) or
    called with the last iteration done."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.bar = total, desc, None  # the bar starts with the loop, after compiling
        self.lock, self.done = threading.Lock(), 0
        self.every = max(1, total // 100)

    def tick(self, i) -> None:
        """Inside the traced loop body: report iteration ``i`` to the host every 1% of the loop."""
        jax.lax.cond(i % self.every == self.every - 1, lambda: jax.debug.callback(self, i), lambda: None)

    def __call__(self, iteration) -> None:
        with self.lock:  # with several chains, the furthest one's iteration
            if self.bar is None:
                self.bar = tqdm(total=self.total, desc=self.desc, unit="it", mininterval=1.0)
            reached = int(np.max(iteration)) + 1
            if reached > self.done:
                self.bar.update(reached - self.done)
                self.done = reached

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def restart(self, desc: str) -> None:
        """Close the bar; the next report starts a new one (the next of chains run one after another)."""
        with self.lock:
            self.close()
            self.desc, self.bar, self.done = desc, None, 0
