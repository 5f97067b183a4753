"""Repair the CMake exports of the PyPI ROS 2 message wheels so that colcon can build our interfaces.

The wheels' ``share/*/cmake/*.cmake`` files still point at the wheel builder's interpreter
(``/opt/python/cp311-cp311/include/python3.11`` and its numpy headers). Rewrite those paths to this
interpreter's include directory and this numpy's headers. Idempotent: a second run changes nothing.
"""
from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

BUILDER_PYTHON_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
BUILDER_NUMPY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include")


def fix_prefix(prefix: Path) -> int:
    """Rewrite every CMake file under ``prefix/share``; return how many files changed."""
    python_include = sysconfig.get_paths()["include"]
    numpy_include = numpy.get_include()
    changed = 0
    for cmake_file in sorted(prefix.glob("share/*/cmake/*.cmake")):
        text = cmake_file.read_text()
        fixed = BUILDER_NUMPY_INCLUDE.sub(numpy_include, text)
        fixed = BUILDER_PYTHON_INCLUDE.sub(python_include, fixed)
        if fixed != text:
            cmake_file.write_text(fixed)
            changed += 1
    return changed


if __name__ == "__main__":
    prefix = Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix)
    print(f"fix_ros_wheel_cmake: {fix_prefix(prefix)} CMake file(s) rewritten under {prefix}/share")
