"""How our nodes spin: the executables until Ctrl-C or shutdown; the demo and the tests in a background thread."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


def spin_until_shutdown(node: Node, threads: int = 1) -> None:
    """Spin ``node`` (``threads`` > 1: a multi-threaded executor, for reentrant callback groups)."""
    executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()


@contextmanager
def spinning_in_background(executor, nodes: list[Node]) -> Iterator[None]:
    """Spin ``nodes`` on ``executor`` in a thread for the block; then stop, join, and destroy the nodes.

    spin() must have returned before a node is destroyed: destroying one while the spin thread was still in its
    wait set segfaulted now and then in rcl's node destruction."""
    for node in nodes:
        executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        executor.shutdown()
        thread.join(timeout=5)
        for node in nodes:
            node.destroy_node()
