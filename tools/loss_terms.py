"""Loss terms of checkpoints on held-out scenes, R included even for models trained without it.

    python tools/loss_terms.py ROOT SCENES NAME=CKPT ...   e.g. /work/data/engine 160-171 full=runs/cpu/final.pt

One line per checkpoint: the mean La, Ls, Lr, Lw and R (plus its penetration/distance/antipodal parts are in R)
over 24 images spread evenly over the scenes (models/README.md, "physical plausibility")."""
from __future__ import annotations

import sys

from grasp6d_core.splits import parse_range
from grasp6d_core.model.train_loop import checkpoint_terms

if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    root, scenes = sys.argv[1], parse_range(sys.argv[2])
    for spec in sys.argv[3:]:
        name, _, path = spec.partition("=")
        terms = checkpoint_terms(path, root, scenes)
        print(name, " ".join(f"{k} {terms[k]:.4f}" for k in ("loss", "La", "Ls", "Lr", "Lw", "R") if k in terms))
