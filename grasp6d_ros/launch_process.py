"""`ros2 launch grasp6d_ros grasp_demo.launch.py ...` as a child process group, stopped the way Ctrl-C stops it.

`make demo` and the end-to-end tests start the graph through the real launch system with this, so what they show
is what a user's `ros2 launch` does. Nothing here knows about the graph itself (grasp6d_ros/launch_description.py).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PACKAGE = "grasp6d_ros"
LAUNCH_FILE = "grasp_demo.launch.py"
# What `ros2 launch` of our package needs besides rclpy (launch_ros imports composition_interfaces).
LAUNCH_MODULES = ("launch", "launch_ros", "ros2cli", "ros2launch", "composition_interfaces")


def ros2_command() -> str | None:
    """The `ros2` command: the one installed beside this Python interpreter (a venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "ros2"
    return str(beside) if beside.is_file() else shutil.which("ros2")


def launch_unavailable_reason() -> str | None:
    """None when `ros2 launch grasp6d_ros ...` can run here; else why not, in one line."""
    for module in LAUNCH_MODULES:
        if importlib.util.find_spec(module) is None:
            return (f"the ROS 2 Python package '{module}' is not installed (a ROS 2 install has it; make setup "
                    "installs launch and ros2cli when ../shared/ros_python exists)")
    if ros2_command() is None:
        return "no 'ros2' command beside this Python or on PATH"
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        get_package_share_directory(PACKAGE)
    except PackageNotFoundError:
        return f"package '{PACKAGE}' is not in the ament index: source install/setup.bash first"
    return None


def node_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this interpreter's bin/ first on PATH: the node executables
    start with ``#!/usr/bin/env python3`` and must get the interpreter that has rclpy (the venv's)."""
    out = dict(os.environ if env is None else env)
    out["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), out.get("PATH", "")])
    out.setdefault("PYTHONUNBUFFERED", "1")
    return out


def process_group_members(pgid: int) -> list[int]:
    """Pids of the running processes in process group ``pgid`` (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()   # after "(comm)", which may hold spaces
        except (OSError, IndexError):
            continue   # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def died_processes(launch_output: str) -> dict[str, int]:
    """Processes that launch's output reports dead ('process has died'), by launch's name for them
    (``executor_node-4``), with their exit codes."""
    return {name: int(code) for name, code in
            re.findall(r"\[(\S+)\]: process has died \[pid \d+, exit code (-?\d+)", launch_output)}


class LaunchedGraph:
    """``ros2 launch grasp6d_ros grasp_demo.launch.py <arguments>`` in its own process group, output to ``log``.

    Use as a context manager: leaving it stops the graph (SIGINT to the group, as a terminal's Ctrl-C) and kills
    whatever is left after ``stop_timeout`` seconds, so no node outlives its caller even when a test fails.
    """

    def __init__(self, arguments: list[str], log: Path, env: dict[str, str] | None = None,
                 stop_timeout: float = 30.0):
        command = ros2_command()
        if command is None:
            raise FileNotFoundError("no 'ros2' command beside this Python or on PATH")
        self.command = [command, "launch", PACKAGE, LAUNCH_FILE, *arguments]
        self.log, self.stop_timeout = Path(log), stop_timeout
        self.started = time.monotonic()
        with open(self.log, "wb") as handle:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=handle,
                                            stderr=subprocess.STDOUT, env=node_environment(env),
                                            start_new_session=True)

    @property
    def elapsed(self) -> float:
        """Seconds since the launch command started."""
        return time.monotonic() - self.started

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def died(self) -> dict[str, int]:
        """The launched processes launch reported dead, with their exit codes (:func:`died_processes`)."""
        return died_processes(self.output())

    def running(self) -> bool:
        return self.process.poll() is None

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the launch and its nodes; wait for the launch to exit; kill stragglers. Returns the
        launch's exit code (-9 when it had to be killed)."""
        self._signal_group(signal.SIGINT)
        try:
            code = self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.dump_node_stacks()   # into the log: where the node that did not stop is waiting
            self._signal_group(signal.SIGKILL)
            code = self.process.wait()
        # nodes that ignored the launch's SIGINT/SIGTERM escalation must not outlive it
        deadline = time.monotonic() + 5.0
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._signal_group(signal.SIGKILL)
        return code

    def dump_node_stacks(self, settle: float = 1.0) -> list[int]:
        """Ask every node process still running to print its threads' stacks (grasp6d_ros.spin registers the
        signal), while launch is alive to copy them into the log; returns their pids."""
        from grasp6d_ros.spin import STACK_DUMP_SIGNAL
        nodes = [pid for pid in process_group_members(self.process.pid) if pid != self.process.pid]
        for pid in nodes:
            try:
                os.kill(pid, STACK_DUMP_SIGNAL)
            except ProcessLookupError:
                pass
        if nodes:
            time.sleep(settle)
        return nodes

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "LaunchedGraph":
        return self

    def __exit__(self, *exc) -> None:
        if self.running() or self._group_alive():
            self.interrupt()
