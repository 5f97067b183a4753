"""Record ROS 2 messages into an MCAP file that Foxglove and ``ros2 bag`` read.

Messages are serialized with rclpy's own CDR serializer (byte-identical to what rosbag2 stores); the
schema is the ``ros2msg`` text (the type's .msg plus every nested type after ``===`` separators), built
from the ``share/<pkg>/msg/*.msg`` files that ROS 2 installs — so no message definition is copied here.
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mcap.writer import Writer
from rclpy.serialization import serialize_message

PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
              "uint32", "int64", "uint64", "string", "wstring"}
_SEPARATOR = "=" * 80


def _share_dirs() -> list[Path]:
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    return [Path(prefix) / "share" for prefix in prefixes]


def _msg_file(datatype: str) -> Path:
    package, name = datatype.split("/")
    for share in _share_dirs():
        path = share / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no .msg definition for {datatype} under {[str(s) for s in _share_dirs()]}")


def _dependencies(text: str, package: str) -> list[str]:
    """Nested message types of a .msg text (constants and primitives skipped)."""
    types = []
    for line in text.splitlines():
        tokens = line.split("#", 1)[0].split()
        if len(tokens) < 2 or "=" in tokens[1]:   # blank, or a constant "uint8 SPHERE=1"
            continue
        base = re.sub(r"\[.*\]$", "", tokens[0])   # arrays: T[], T[3], T[<=5]
        base = re.sub(r"<=\d+$", "", base)          # bounded strings: string<=10
        if base not in PRIMITIVES:
            types.append(base if "/" in base else f"{package}/{base}")
    return types


def message_definition(datatype: str) -> str:
    """The ``ros2msg`` schema text of ``pkg/Type`` (``pkg/msg/Type`` accepted)."""
    datatype = datatype.replace("/msg/", "/")
    root = _msg_file(datatype).read_text()
    parts, seen, queue = [root], {datatype}, _dependencies(root, datatype.split("/")[0])
    while queue:
        dep = queue.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = _msg_file(dep).read_text()
        parts.append(f"{_SEPARATOR}\nMSG: {dep}\n{text}")
        queue.extend(_dependencies(text, dep.split("/")[0]))
    return "\n".join(parts)


def ros_type_name(message: Any) -> str:
    """'sensor_msgs/msg/Image' for a message instance."""
    module = type(message).__module__.split(".")
    return f"{module[0]}/msg/{type(message).__name__}"


class McapRecorder:
    """Thread-safe: call :meth:`write` from subscription callbacks, :meth:`close` once at the end."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")
        self._writer = Writer(self._file)
        self._writer.start(profile="ros2", library="grasp6d")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def write(self, topic: str, message: Any, log_time_ns: int | None = None) -> None:
        datatype = ros_type_name(message)
        data = serialize_message(message)
        now = log_time_ns if log_time_ns is not None else time.time_ns()
        with self._lock:
            if datatype not in self._schemas:
                self._schemas[datatype] = self._writer.register_schema(
                    name=datatype, encoding="ros2msg", data=message_definition(datatype).encode())
            if topic not in self._channels:
                self._channels[topic] = self._writer.register_channel(
                    topic=topic, message_encoding="cdr", schema_id=self._schemas[datatype])
            self._writer.add_message(channel_id=self._channels[topic], log_time=now, publish_time=now, data=data,
                                     sequence=self.counts.get(topic, 0))
            self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._writer.finish()
                self._file.close()
