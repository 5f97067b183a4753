"""The ``grasp6d`` command line: the subcommands registered in :data:`COMMANDS`.

Each command module (grasp6d_core/commands/) defines ``add_arguments(parser)`` and ``run(args) -> int``; it maps
its flags onto the typed settings of the library function it calls. Only the chosen module is imported, so
``grasp6d --help`` stays fast and a command whose heavy dependency is missing fails alone, with its own message.

Errors a user can cause — a missing or unwritable path, a bad value, an unreadable or refused file — are
raised as OSError or ValueError (CheckpointError is one) by the commands and turned into one line on stderr
and exit status 2 here, in one place. Set GRASP6D_TRACEBACK=1 to get the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from grasp6d_core.errors import Grasp6dError

# What a user's mistake raises (a path, a value, a file we refuse, a source that cannot open); anything else is a
# bug and keeps its traceback.
USER_ERRORS = (OSError, ValueError, Grasp6dError)

# Command name -> (module, help line), in --help order. Registering a command is one line here; the help line
# lives here (not in the module) so that listing the commands imports none of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("grasp6d_core.commands.bench", "run a speed/memory benchmark and print its figures (tsdf, detect, ...)"),
    "cache": ("grasp6d_core.commands.cache", "precompute the training cache (sampled points, normals, objectness, "
              "graspness) of a dataset root"),
    "detect": ("grasp6d_core.commands.detect", "detect grasps on GraspNet-format scenes -> benchmark dump (.npy per "
               "image) + a PNG per scene"),
    "eval": ("grasp6d_core.commands.eval", "GraspNet-1Billion AP (force closure + collision) of a dump in the "
             "benchmark layout"),
    "report": ("grasp6d_core.commands.report", "test report from a fresh seed: synth + detect + eval per split, AP "
               "with per-scene bootstrap intervals"),
    "sim-bench": ("grasp6d_core.commands.sim_bench", "clutter-removal benchmark in PyBullet (grasp success and "
                  "declutter rates)"),
    "synth": ("grasp6d_core.commands.synth", "generate synthetic GraspNet-format scenes (objects, SDFs, grasp "
              "labels, depth, collision labels)"),
    "train": ("grasp6d_core.commands.train", "train the grasp network (configs: cpu, paper, baseline, gsnet) on a "
              "GraspNet-format dataset"),
}


def _load(module_path: str) -> ModuleType:
    return importlib.import_module(module_path)


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser. Only the command named ``load`` gets its full argument set (import cost)."""
    from grasp6d_core import __version__

    parser = argparse.ArgumentParser(prog="grasp6d", description="6-DoF grasp detection: data, training, "
                                     "detection, evaluation and benchmarks (no ROS needed).")
    parser.add_argument("--version", action="version", version=f"grasp6d {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_path, help_line) in COMMANDS.items():
        if name == load:
            command_parser = sub.add_parser(name, help=help_line, description=help_line)
            _load(module_path).add_arguments(command_parser)
        else:
            sub.add_parser(name, help=help_line, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=chosen if chosen in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(_load(COMMANDS[args.command][0]).run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if os.environ.get("GRASP6D_TRACEBACK") == "1":
            raise
        print(f"grasp6d {args.command}: {one_line(error)}", file=sys.stderr)
        return 2


def one_line(error: BaseException) -> str:
    """The error's message on one line (an OSError from the system as 'path: reason')."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
