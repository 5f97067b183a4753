"""The one way our node executables spin: until Ctrl-C or shutdown, then destroy the node and shut down."""
from __future__ import annotations

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
