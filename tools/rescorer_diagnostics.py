"""Which of the re-scorer's cues rank grasps on which objects, and does a fit on one set of objects carry over?

    python tools/rescorer_diagnostics.py walls=A.rows.npz novel=B.rows.npz [--rescorer seed77=models/rescorer.json]

Each ``NAME=ROWS`` is a rows cache written by ``tools/train_rescorer.py`` (``OUT.rows.npz``: the features, hold
targets and (scene, image, crop) tags of every grasp of the detector's pools). The tool prints, as markdown:

- every feature's rank AUC for "holds at μ ≤ 0.8" per set (0.5 = no ranking; below 0.5 = the cue ranks the other
  way round), so a cue whose sign flips between sets shows;
- per set, top-50 precision averaged like AP (pools ordered by consensus, by the best possible order, and by a fit
  on the set's own other scenes: ``--folds`` folds by scene) — the last is what these features can do on objects
  like the set's when the re-scorer has seen them, a ceiling for the features rather than for the data;
- every fit on a whole set, and every ``--rescorer`` file, applied to every set: whether a fit carries over.

A diagnostic for choosing what to try next; the re-scorer that ships is chosen by its gate on scored scenes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from grasp6d_core.evaluation.ap import FRICTION_LIST
from grasp6d_core.evaluation.ranking import HOLDS_AT, rank_auc
from grasp6d_core.rescorer import FEATURES, Rescorer, hold_friction, train_rescorer
from train_rescorer import pooled_precision

CONSENSUS = FEATURES.index("consensus")


def holds(targets: np.ndarray, mu: float = HOLDS_AT) -> np.ndarray:
    """Grasps whose hold target says they hold at friction ``mu``."""
    friction = hold_friction(targets, FRICTION_LIST)
    return (friction > 0) & (friction <= mu + 1e-9)


def feature_aucs(rows: dict) -> dict[str, float]:
    """Each feature's rank AUC for holding at HOLDS_AT over every grasp of ``rows``."""
    positive = holds(rows["targets"])
    return {name: rank_auc(rows["features"][:, k], positive) for k, name in enumerate(FEATURES)}


def cross_validated_scores(rows: dict, folds: int = 4, **fit) -> np.ndarray:
    """Scores of every grasp from a fit on the other scenes' grasps (scenes split into ``folds`` groups)."""
    scenes = rows["tags"][:, 0]
    groups = np.array_split(np.unique(scenes), folds)
    if min(len(g) for g in groups) == 0:
        raise ValueError(f"--folds {folds}: the rows hold only {len(np.unique(scenes))} scenes")
    scores = np.zeros(len(scenes))
    for group in groups:
        held = np.isin(scenes, group)
        scores[held] = train_rescorer(rows["features"][~held], rows["targets"][~held], **fit).predict(
            rows["features"][held])
    return scores


def _named(text: str, flag: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not Path(path).is_file():
        raise SystemExit(f"{flag}: expected NAME=FILE with an existing file, got {text!r}")
    return name, Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="+", help="NAME=ROWS.npz (tools/train_rescorer.py's rows caches)")
    parser.add_argument("--rescorer", action="append", default=[], help="NAME=FILE: a re-scorer JSON to apply too")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args(argv)
    sets = {name: dict(np.load(path)) for name, path in (_named(t, "rows") for t in args.rows)}
    names = list(sets)
    print("| feature | " + " | ".join(f"AUC, {n}" for n in names) + " |\n|---|" + "---:|" * len(names))
    aucs = {n: feature_aucs(rows) for n, rows in sets.items()}
    for feature in FEATURES:
        print(f"| {feature} | " + " | ".join(f"{aucs[n][feature]:.3f}" for n in names) + " |")

    fits = {n: train_rescorer(r["features"], r["targets"], epochs=args.epochs) for n, r in sets.items()}
    files = dict(_named(t, "--rescorer") for t in args.rescorer)
    print("\n| top-50 precision, like AP | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))

    def precision(scores: np.ndarray, rows: dict) -> str:
        return f"{pooled_precision(scores, rows['targets'], rows['tags']):.2f}"

    lines = {"grasps (share holding at μ ≤ 0.8)":
             lambda n, r: f"{len(r['targets'])} ({100 * holds(r['targets']).mean():.0f} %)",
             "consensus order": lambda n, r: precision(r["features"][:, CONSENSUS], r),
             "best order": lambda n, r: precision(r["targets"], r),
             f"fit on the set's other scenes ({args.folds} folds)":
             lambda n, r: precision(cross_validated_scores(r, args.folds, epochs=args.epochs), r)}
    # a fit on a whole set, applied to that same set, is in-sample: left blank
    lines.update({f"fit on {name}": (lambda n, r, a=name: "—" if n == a else precision(fits[a].predict(r["features"]), r))
                  for name in fits})
    lines.update({f"{name} ({path.name})": (lambda n, r, m=Rescorer.load(path): precision(m.predict(r["features"]), r))
                  for name, path in files.items()})
    for label, cell in lines.items():
        print(f"| {label} | " + " | ".join(cell(n, sets[n]) for n in names) + " |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
