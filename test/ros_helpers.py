"""Helpers for tests over real rclpy + Fast DDS: a context with a multi-threaded executor in a thread."""
from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor

from grasp6d_ros.services import call_with_retry
from grasp6d_ros.spin import spinning_in_background


@contextmanager
def spinning(*node_factories: Callable[[Context], "rclpy.node.Node"]) -> Iterator[list]:
    """Create nodes in a fresh context, spin them in a background thread, tear everything down after."""
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    nodes = [factory(context) for factory in node_factories]
    try:
        with spinning_in_background(executor, nodes):
            yield nodes
    finally:
        rclpy.shutdown(context=context)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, period: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


# Test servers here are idempotent, so re-sending on Fast DDS's discovery race is harmless (grasp6d_ros.services).
call_service = call_with_retry


def terminate(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a child process the polite way (SIGTERM), and for sure (SIGKILL) if it has not gone after ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
