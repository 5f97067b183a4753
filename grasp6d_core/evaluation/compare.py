"""Paired comparison of two evaluations of the same scenes: is model A's AP higher than model B's beyond the
scene-to-scene noise? An ablation on a few dozen images moves by a few AP with the scenes drawn, so a single
difference of means says little; the paired per-scene differences and a bootstrap interval over scenes do."""
from __future__ import annotations

import numpy as np


def paired_ap_difference(result_a: dict, result_b: dict, metric: str = "AP", resamples: int = 10000,
                         seed: int = 0) -> dict:
    """A − B over the scenes both ``grasp6d eval --json`` results hold (their ``per_scene`` tables).

    Returns mean difference, its 95 % bootstrap interval (scenes resampled with replacement), the number of
    scenes where A is higher, and the scene count."""
    scenes = sorted(set(result_a["per_scene"]) & set(result_b["per_scene"]))
    if not scenes:
        raise ValueError("the two results share no scene: compare evaluations of the same scenes")
    diff = np.array([result_a["per_scene"][s][metric] - result_b["per_scene"][s][metric] for s in scenes])
    return {"metric": metric, "mean_difference": float(diff.mean()), "ci95": bootstrap_mean_interval(diff, resamples, seed),
            "a_higher": int((diff > 0).sum()), "scenes": len(scenes)}


def bootstrap_mean_interval(values, resamples: int = 10000, seed: int = 0) -> list[float]:
    """95 % percentile-bootstrap interval of the mean of ``values`` (one per scene, resampled with replacement):
    how far a mean over this few scenes may sit from the mean over many more scenes drawn the same way."""
    values = np.asarray(values, float)
    if values.size == 0:
        raise ValueError("no values to bootstrap: evaluate at least one scene")
    boot = values[np.random.default_rng(seed).integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return [float(low), float(high)]


def comparable_tables(result: dict) -> dict[str, dict]:
    """The per-scene tables of one JSON file, by name: a ``grasp6d eval --json`` result is one table (name ""),
    a ``grasp6d report`` JSON one per split and scope ("novel/labels", "similar/fused", ...)."""
    if "per_scene" in result:
        return {"": result}
    if isinstance(result.get("results"), dict):
        return {f"{split}/{scope}": table for split, scopes in result["results"].items()
                for scope, table in scopes.items() if isinstance(table, dict) and "per_scene" in table}
    raise ValueError("holds no per-scene AP: give the JSON of `grasp6d eval --json` or of `grasp6d report`")


def compare_tables(tables_a: dict[str, dict], tables_b: dict[str, dict], metric: str = "AP") -> dict[str, dict]:
    """A − B for every table (``comparable_tables``) both hold: one for two eval results, each split and scope
    for two reports."""
    shared = [name for name in tables_a if name in tables_b]
    if not shared:
        held = lambda tables: "an eval result" if list(tables) == [""] else "report tables " + ", ".join(sorted(tables))
        raise ValueError(f"nothing to compare: A holds {held(tables_a)} and B {held(tables_b)} "
                         f"(compare two eval results, or two reports with a split and scope in common)")
    return {name: paired_ap_difference(tables_a[name], tables_b[name], metric) for name in shared}


def main(argv: list[str] | None = None) -> int:
    """``python -m grasp6d_core.evaluation.compare A.json B.json [--metric AP]``: A − B, paired per scene; two
    ``grasp6d eval --json`` results give one line, two ``grasp6d report`` JSONs a line per split and scope."""
    import argparse
    import json
    import sys
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--metric", default="AP", choices=["AP", "AP0.4", "AP0.8"])
    args = parser.parse_args(argv)
    try:
        tables = []
        for path in (args.a, args.b):
            try:
                with open(path, encoding="utf-8") as f:
                    result = json.load(f)
            except (OSError, json.JSONDecodeError) as error:
                raise ValueError(f"{path}: cannot read it as JSON ({error})") from None
            try:
                tables.append(comparable_tables(result))
            except ValueError as error:
                raise ValueError(f"{path} {error}") from None
        results = compare_tables(*tables, args.metric)
    except ValueError as error:
        print(f"compare: {error}", file=sys.stderr)
        return 2
    for name, r in results.items():
        label = f"{name}: " if name else ""
        print(f"{label}{args.a} − {args.b}: {r['metric']} {r['mean_difference']:+.2f} (95 % CI {r['ci95'][0]:+.2f} … "
              f"{r['ci95'][1]:+.2f} over scenes), higher on {r['a_higher']}/{r['scenes']} scenes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
