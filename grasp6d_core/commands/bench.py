"""``grasp6d bench NAME [--json]``: run one benchmark from :mod:`grasp6d_core.benchmarks`."""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import pkgutil
from typing import Any

import grasp6d_core.benchmarks as benchmarks_package


def benchmark_modules() -> dict[str, str]:
    return {info.name: f"{benchmarks_package.__name__}.{info.name}"
            for info in pkgutil.iter_modules(benchmarks_package.__path__) if not info.name.startswith("_")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name, module_path in sorted(benchmark_modules().items()):
        module = importlib.import_module(module_path)
        bench_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        bench_parser.add_argument("--json", action="store_true", help="print one JSON object only")
        module.add_arguments(bench_parser)


def benchmark_settings(settings_type: type, args: argparse.Namespace) -> Any:
    """The benchmark's settings from its flags (each flag's destination is the field of the same name); the
    progress bar, where a benchmark has one, is off with --json so stdout and stderr hold only the figures."""
    names = {f.name for f in dataclasses.fields(settings_type)}
    values = {name: getattr(args, name) for name in names if hasattr(args, name)}
    if "progress" in names:
        values["progress"] = not args.json
    return settings_type(**values)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(benchmark_modules()[args.benchmark])
    figures = module.run(benchmark_settings(module.SETTINGS, args))
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures) if figures else 0
        for key, value in figures.items():
            print(f"{key:<{width}}  {value}")
    return 0
