"""How our nodes spin: the executables until Ctrl-C or shutdown; the demo and the tests in a background thread."""
from __future__ import annotations

import faulthandler
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.signals import (SignalHandlerOptions, get_current_signal_handlers_options, install_signal_handlers,
                           uninstall_signal_handlers)

RCLError = rclpy_implementation.RCLError
STACK_DUMP_SIGNAL = signal.SIGUSR1
# The longest a spinning node waits before it looks whether its context was shut down (see spin_until_shutdown).
SHUTDOWN_CHECK_PERIOD_S = 0.5
# The longest a stopping node's teardown (executor, node and middleware) may take before the node prints every
# thread's stack and exits with code 1. Shorter than launch's SIGTERM delay (15 s, launch/grasp_demo.launch.py).
TEARDOWN_LIMIT_S = 14.0


def spin_until_shutdown(node: Node, threads: int = 1) -> None:
    """Spin ``node`` (``threads`` > 1: a multi-threaded executor, for reentrant callback groups).

    Ctrl-C under ``ros2 launch`` delivers SIGINT twice: the terminal's to the whole process group, then the one
    launch forwards to each node. A KeyboardInterrupt from the second, raised wherever the teardown happens to
    be, gave a traceback and exit code -2 instead of a clean 0. So SIGINT only shuts rclpy down (its own
    handler: the context ends, spin returns) and never raises."""
    _sigint_shuts_down_only()
    # `kill -USR1 PID` prints every thread's Python stack to stderr and the node runs on: where a node that does
    # not answer or does not stop is waiting (launch_process.LaunchedGraph does it before killing stragglers).
    faulthandler.register(STACK_DUMP_SIGNAL, all_threads=True)
    executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
    executor.add_node(node)
    try:
        # Not executor.spin(), which waits with no time limit: rclpy's signal thread wakes the executor (its SIGINT
        # guard condition) *before* it shuts the context down. An executor that wakes in between sees a live
        # context, waits again, and nothing wakes it after the shutdown: the node ignored Ctrl-C now and then.
        while node.context.ok():
            executor.spin_once(timeout_sec=SHUTDOWN_CHECK_PERIOD_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        # the signal handler shut the context down while spin was between two waits ("context is not valid")
        if node.context.ok():
            raise
    finally:
        # Rarely, the node's destruction never returned (inside the middleware's teardown, no Python thread left to
        # wait for) and launch had to SIGKILL it after its timeouts. A watchdog thread of faulthandler's (C, so it
        # runs even where the GIL is held) bounds the wait instead: the stacks, headed "Timeout (<the limit>)!", and
        # exit code 1 say where it hung.
        faulthandler.dump_traceback_later(TEARDOWN_LIMIT_S, exit=True)
        try:
            executor.shutdown()
            destroy_node_and_actions(node)
            rclpy.try_shutdown()
        finally:
            faulthandler.cancel_dump_traceback_later()
        # The second SIGINT can arrive after this, while the interpreter finalizes: Python then resets a handled
        # SIGINT to the default action and the node dies with -2 ("process has died") although it had stopped
        # cleanly. An ignored SIGINT stays ignored through finalization, and there is nothing left to stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sigint_shuts_down_only() -> None:
    """Keep rclpy's SIGINT handler (it shuts the contexts down and wakes the executor) but let it chain to a
    no-op instead of Python's default handler, which raises KeyboardInterrupt."""
    options = get_current_signal_handlers_options()
    if options in (SignalHandlerOptions.NO, SignalHandlerOptions.SIGTERM):
        return   # rclpy does not handle SIGINT here: keep Python's KeyboardInterrupt, the only way out
    uninstall_signal_handlers()
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    install_signal_handlers(options)   # records the no-op as the handler to chain to


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
            destroy_node_and_actions(node)


def destroy_node_and_actions(node: Node) -> None:
    """``node.destroy_node()``, then its action servers and clients, which rclpy leaves alone.

    An action server or client left alive keeps the node's handle, and the node with its action endpoints stays in
    the ROS graph until the garbage collector runs: a later action client with the same name then saw several
    servers, one of them dead, and did not report the live one as ready."""
    node.destroy_node()   # first: a node class may destroy its own actions there (destroying one twice raises)
    for waitable in list(node.waitables):
        if callable(getattr(waitable, "destroy", None)):
            waitable.destroy()
