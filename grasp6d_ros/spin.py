"""How our nodes spin: the executables until Ctrl-C or shutdown; the demo and the tests in a background thread."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


def spin_until_shutdown(node: Node, threads: int = 1) -> None:
    """Spin ``node`` (``threads`` > 1: a multi-threaded executor, for reentrant callback groups).

    Ctrl-C under ``ros2 launch`` delivers SIGINT twice: the terminal's to the whole process group, then the one
    launch forwards to each node. The second must not interrupt the teardown (a KeyboardInterrupt traceback and
    exit code -2 instead of a clean 0), so SIGINT is ignored once shutdown has begun."""
    executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
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
