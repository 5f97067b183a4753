"""A bounded first-in-first-out queue between a subscription callback and one worker thread.

The callback only appends (microseconds), so DDS never has to hold frames back while the slow work (TSDF
integration, tens of ms for a 1280x720 frame) runs; a burst waits here instead of being overwritten unseen in the
reader's history. When the queue is full the oldest item is dropped and ``on_drop`` is told, so a node can count
and log every frame it did not process.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Generic, TypeVar

Item = TypeVar("Item")


class FrameQueue(Generic[Item]):
    def __init__(self, capacity: int, handle: Callable[[Item], None], on_drop: Callable[[Item], None],
                 on_error: Callable[[Item, Exception], None], name: str = "frame-queue"):
        if capacity < 1:
            raise ValueError(f"queue capacity must be >= 1, got {capacity}")
        self._items: deque = deque()
        self._capacity = capacity
        self._handle, self._on_drop, self._on_error = handle, on_drop, on_error
        self._ready = threading.Condition()
        self._closed = False
        self._busy = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def put(self, item: Item) -> None:
        dropped = None
        with self._ready:
            if len(self._items) >= self._capacity:
                dropped = self._items.popleft()
            self._items.append(item)
            self._ready.notify()
        if dropped is not None:
            self._on_drop(dropped)

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def idle(self) -> bool:
        """Nothing queued and nothing being processed."""
        with self._ready:
            return not self._items and not self._busy

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker after the item it is processing; queued items are discarded."""
        with self._ready:
            self._closed = True
            self._items.clear()
            self._ready.notify()
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                item = self._items.popleft()
                self._busy = True
            try:
                self._handle(item)
            except Exception as error:  # a bug in one frame must not stop every later frame
                self._on_error(item, error)
            finally:
                with self._ready:
                    self._busy = False
