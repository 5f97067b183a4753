"""Helpers for tests over real rclpy + Fast DDS: a context with a multi-threaded executor in a thread."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor


@contextmanager
def spinning(*node_factories: Callable[[Context], "rclpy.node.Node"]) -> Iterator[list]:
    """Create nodes in a fresh context, spin them in a background thread, tear everything down after."""
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    nodes = [factory(context) for factory in node_factories]
    for node in nodes:
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield nodes
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.shutdown(context=context)
        thread.join(timeout=5)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, period: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


def call_service(client, request, timeout: float = 10.0):
    """Call a service from a node spun by :func:`spinning`; raise on timeout."""
    if not client.wait_for_service(timeout_sec=timeout):
        raise TimeoutError(f"service {client.srv_name} not available")
    future = client.call_async(request)
    if not wait_for(future.done, timeout):
        raise TimeoutError(f"service {client.srv_name} did not answer in {timeout} s")
    return future.result()
