"""The object library: procedural shapes and pybullet_data meshes, graspable sizes, stable ids, splits.

Every object is a list of watertight *parts* (one part for simple shapes, several convex or revolved parts for
composites such as a mug with a handle). No boolean library is installed here, so a composite is the union of
its parts, handled exactly where it matters: its signed distance is the minimum over the parts
(:meth:`ObjectSDF.from_parts`), ray casts against all parts' triangles hit the union's surface first from
outside, and surface samples lying inside another part are dropped (:func:`surface_points`).

Splits mirror GraspNet-1Billion's: ``train`` objects (``seen`` test scenes reuse them); ``similar`` = held-out
instances of the training families; ``novel`` = families never used in training. Ids are fixed by the catalogue
(same ids on every machine and for every ``--seed``): train 0–47, similar 48–71, novel 72–95.

Extra objects widen training only, and only when asked for (``grasp6d synth --extra-objects [SETS]``), in two
sets: ``shapes`` (ids 96–143: 40 more random_urdfs blobs, indices disjoint from train and similar, and 8 polygonal
prisms) and ``walls`` (ids 144–167: thin-walled tubes, open trays, flat frames with a hole, thin plates — geometry
whose grasps straddle a wall or a bar, which no other training family has). No test split draws them, none of them
copies a novel family's shape, and each set was appended after every earlier id, leaving those ids and their
geometry unchanged, so datasets made before a set existed stay valid.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from grasp6d_core.errors import UsageError

LIBRARY_SEED = 20240601
MIN_LONGEST, MAX_LONGEST, MAX_SHORTEST = 0.04, 0.15, 0.08   # metres: graspable sizes
TRAIN_FAMILIES = ("box", "cylinder", "ellipsoid", "capsule", "mug", "bottle", "dumbbell", "blob")
EXTRA_FAMILIES = ("blob", "prism", "tube", "tray", "frame", "plate")
# --extra-objects SETS -> the object split that holds each set's objects (catalogue order = id order).
EXTRA_SETS = {"shapes": "extra", "walls": "extra_walls"}
NOVEL_FAMILIES = ("ring", "tee", "bracket", "bowl", "cone", "pybullet_mesh")
# (family, count) per split; 'blob' = pybullet_data/random_urdfs meshes.
CATALOGUE = {
    "train": [("box", 4), ("cylinder", 4), ("ellipsoid", 4), ("capsule", 4), ("mug", 4), ("bottle", 4),
              ("dumbbell", 4), ("blob", 20)],
    "similar": [("box", 2), ("cylinder", 2), ("ellipsoid", 2), ("capsule", 2), ("mug", 2), ("bottle", 2),
                ("dumbbell", 2), ("blob", 10)],
    "novel": [("ring", 4), ("tee", 4), ("bracket", 4), ("bowl", 4), ("cone", 4), ("pybullet_mesh", 4)],
    "extra": [("blob", 40), ("prism", 8)],   # appended after novel: earlier ids and their random draws stay as they were
    "extra_walls": [("tube", 6), ("tray", 6), ("frame", 6), ("plate", 6)],   # appended after extra, likewise
}
PYBULLET_MESHES = ("bunny.obj", "duck_vhacd.obj", "teddy2_VHACD_CHs.obj", "toys/prism.obj")
SCENE_SPLITS = {"train": "train", "seen": "train", "similar": "similar", "novel": "novel"}


@dataclass
class ObjectEntry:
    """One manifest row. ``params`` fully determines the geometry (with the catalogue's code)."""
    oid: int
    name: str
    family: str
    source: str            # 'procedural' or a pybullet_data relative path
    split: str             # train | similar | novel (the object split; 'seen' scenes use train objects)
    params: dict = field(default_factory=dict)


def object_library() -> list[ObjectEntry]:
    """The fixed catalogue (168 objects): ids are stable because they depend only on the catalogue order."""
    rng = np.random.default_rng(LIBRARY_SEED)
    blobs = rng.permutation(1000)   # random_urdfs indices; train and similar take disjoint ones
    entries, oid, blob_i, pyb_i = [], 0, 0, 0
    for split in CATALOGUE:   # dict order is the id order
        for family, count in CATALOGUE[split]:
            for k in range(count):
                params = {"seed": int(rng.integers(1 << 31))}
                if family == "blob":
                    idx = int(blobs[blob_i])
                    blob_i += 1
                    source = f"random_urdfs/{idx:03d}/{idx:03d}.obj"
                elif family == "pybullet_mesh":
                    source = PYBULLET_MESHES[pyb_i]
                    pyb_i += 1
                else:
                    source = "procedural"
                name = f"{family}_{Path(source).stem if source != 'procedural' else f'{oid:03d}'}"
                entries.append(ObjectEntry(oid, name, family, source, split, params))
                oid += 1
    return entries


def extra_sets(extra: bool | str | Sequence[str]) -> tuple[str, ...]:
    """``--extra-objects`` as set names: True (the bare flag) -> ('shapes',), 'shapes,walls' -> both, False -> ();
    a ValueError names an unknown set."""
    if extra is True:
        return ("shapes",)
    if not extra:
        return ()
    names = [n.strip() for n in (extra.split(",") if isinstance(extra, str) else extra)]
    unknown = [n for n in names if n not in EXTRA_SETS]
    if unknown or not names:
        raise ValueError(f"--extra-objects: unknown set {', '.join(unknown) or repr(extra)}; "
                         f"choose from {', '.join(EXTRA_SETS)} (comma-separated)")
    return tuple(n for n in EXTRA_SETS if n in names)   # catalogue order, no repeats


def split_objects(split: str, library: list[ObjectEntry] | None = None,
                  extra: bool | str | Sequence[str] = False) -> list[ObjectEntry]:
    """Objects a scene split draws from: train/seen -> train objects, similar -> similar, novel -> novel;
    ``extra`` (True = the 'shapes' set, or set names) adds extra training objects to ``train`` (and only to train:
    test scenes never draw them)."""
    if split not in SCENE_SPLITS:
        raise ValueError(f"unknown split {split!r}: choose from {sorted(SCENE_SPLITS)}")
    sets = extra_sets(extra)
    if sets and split != "train":
        raise ValueError(f"extra objects are for training scenes only, not split {split!r}")
    wanted = {SCENE_SPLITS[split], *(EXTRA_SETS[n] for n in sets)}
    return [e for e in (library or object_library()) if e.split in wanted]


def parse_object_count(text: str) -> tuple[int, int]:
    """``--objects`` ('3-10') -> (MIN, MAX) objects per scene; a UsageError (a ValueError) naming the flag
    otherwise."""
    try:
        lo, hi = (int(v) for v in text.split("-"))
        if not 1 <= lo <= hi:
            raise ValueError
    except ValueError:
        raise UsageError(f"--objects must be MIN-MAX with 1 <= MIN <= MAX, got {text!r}") from None
    return lo, hi


def parse_object_ids(text: str, split: str, library: list[ObjectEntry] | None = None,
                     extra: bool | str | Sequence[str] = False) -> list[int]:
    """``--object-ids`` ('0,4,9') -> ids, each one of the split's objects (a scene split never borrows another
    split's objects: that would leak test objects into training). ValueError naming the bad id otherwise."""
    allowed = [e.oid for e in split_objects(split, library, extra)]
    ids = []
    for part in str(text).split(","):
        try:
            ids.append(int(part))
        except ValueError:
            raise ValueError(f"--object-ids {text!r}: {part.strip()!r} is not an integer id (use e.g. 0,4,9)") from None
        if ids[-1] not in allowed:
            raise ValueError(f"--object-ids: {ids[-1]} is not an object of split '{split}'"
                             f"{' with --extra-objects' if extra else ''} (its ids are {_id_ranges(allowed)})")
    return sorted(set(ids))


def _id_ranges(ids: list[int]) -> str:
    """[0, 1, 2, 96, 97] -> '0-2, 96-97'."""
    runs, start = [], ids[0]
    for prev, cur in zip(ids, ids[1:] + [None]):
        if cur is None or cur != prev + 1:
            runs.append(f"{start}-{prev}")
            start = cur
    return ", ".join(runs)


def write_manifest(path: str | Path, library: list[ObjectEntry] | None = None) -> None:
    rows = [asdict(e) for e in (library or object_library())]
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")   # renamed: another run may be reading it
    tmp.write_text(json.dumps({"objects": rows, "splits": SCENE_SPLITS,
                               "train_families": TRAIN_FAMILIES, "novel_families": NOVEL_FAMILIES,
                               "extra_families": EXTRA_FAMILIES}, indent=1))
    tmp.replace(path)


# ------------------------------------------------------------------------------------------------ geometry
def _revolve(profile) -> "trimesh.Trimesh":
    import trimesh
    return trimesh.creation.revolve(np.asarray(profile, float), sections=40)


def _along(mesh, axis: str, offset=(0.0, 0.0, 0.0)):
    """Rotate a z-aligned primitive onto ``axis`` and translate it."""
    import trimesh
    if axis == "x":
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    elif axis == "y":
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    mesh.apply_translation(offset)
    return mesh


def _procedural(family: str, rng: np.random.Generator) -> list:
    import trimesh
    C = trimesh.creation
    u = rng.uniform
    if family == "box":
        ext = u(0.03, 0.12, 3)
        ext[rng.integers(3)] = u(0.02, 0.06)
        return [C.box(extents=ext)]
    if family == "cylinder":
        return [C.cylinder(radius=u(0.015, 0.035), height=u(0.05, 0.13), sections=40)]
    if family == "ellipsoid":
        m = C.icosphere(subdivisions=3)
        m.apply_scale(u(0.015, 0.04, 3))
        return [m]
    if family == "capsule":
        return [C.capsule(radius=u(0.012, 0.028), height=u(0.03, 0.09), count=[20, 20])]
    if family == "mug":
        R, H, t, b = u(0.03, 0.042), u(0.07, 0.10), u(0.004, 0.006), 0.006
        cup = _revolve([[0, 0], [R, 0], [R, H], [R - t, H], [R - t, b], [0, b]])
        hr, hw = u(0.004, 0.006), u(0.02, 0.03)          # handle bar radius, reach
        z0, z1 = 0.25 * H, 0.8 * H
        bars = [_along(C.cylinder(radius=hr, height=hw + t / 2, sections=16), "x", (R - t / 2 + (hw + t / 2) / 2, 0, z))
                for z in (z0, z1)]
        upright = _along(C.capsule(radius=hr, height=z1 - z0, count=[12, 12]), "z", (R + hw, 0, (z0 + z1) / 2))
        return [cup, *bars, upright]
    if family == "bottle":
        R, r, h1, h2, h3 = u(0.02, 0.035), u(0.01, 0.014), u(0.05, 0.08), u(0.015, 0.03), u(0.015, 0.03)
        return [_revolve([[0, 0], [R, 0], [R, h1], [r, h1 + h2], [r, h1 + h2 + h3], [0, h1 + h2 + h3]])]
    if family == "dumbbell":
        L, rb, re = u(0.06, 0.10), u(0.007, 0.012), u(0.016, 0.024)
        bar = _along(C.cylinder(radius=rb, height=L, sections=24), "x")
        ends = [C.icosphere(subdivisions=3, radius=re).apply_translation([s * L / 2, 0, 0]) for s in (-1, 1)]
        return [bar, *ends]
    if family == "prism":   # a regular 5- to 8-gon prism: flat faces and edges no training family has
        return [C.cylinder(radius=u(0.018, 0.035), height=u(0.04, 0.12), sections=int(rng.integers(5, 9)))]
    if family in WALL_FAMILIES:
        return WALL_FAMILIES[family](rng)
    if family == "ring":
        return [C.torus(major_radius=u(0.03, 0.05), minor_radius=u(0.008, 0.013), major_sections=48, minor_sections=16)]
    if family == "tee":
        a, s, th = u(0.08, 0.12), u(0.06, 0.09), u(0.015, 0.025)
        top = C.box(extents=[a, th, th]).apply_translation([0, 0, s / 2])
        stem = C.box(extents=[th, th, s]).apply_translation([0, 0, 0])
        return [top, stem]
    if family == "bracket":
        a, c, th, w = u(0.06, 0.11), u(0.04, 0.08), u(0.008, 0.015), u(0.025, 0.05)
        leg1 = C.box(extents=[a, w, th]).apply_translation([a / 2, 0, th / 2])
        leg2 = C.box(extents=[th, w, c]).apply_translation([th / 2, 0, c / 2])
        return [leg1, leg2]
    if family == "bowl":
        R1, R2, H, t = u(0.025, 0.035), u(0.055, 0.07), u(0.035, 0.055), u(0.004, 0.006)
        return [_revolve([[0, 0], [R1, 0], [R2, H], [R2 - t, H], [R1 - t, t], [0, t]])]
    if family == "cone":
        return [C.cone(radius=u(0.025, 0.045), height=u(0.05, 0.11), sections=40)]
    raise ValueError(f"unknown procedural family {family!r}")


# Thin-walled training shapes (the 'walls' extra set). Each is built from convex boxes, so PyBullet's one convex hull
# per part keeps the hollows and holes open when scenes are dropped; the union of overlapping boxes is handled like
# any composite. None copies a novel family: no revolved bowl, no torus, no L or T of two bars.
def _tube(rng: np.random.Generator) -> list:
    """An open pipe: 10-14 wall staves around a circle (a hole through, walls 3-6 mm)."""
    import trimesh
    n, R, t, H = int(rng.integers(10, 15)), rng.uniform(0.018, 0.035), rng.uniform(0.003, 0.006), rng.uniform(0.05, 0.12)
    width = 2 * R * np.tan(np.pi / n) + 0.002          # staves overlap a little at the corners: no slits
    staves = []
    for k in range(n):
        a = 2 * np.pi * k / n
        stave = trimesh.creation.box(extents=[t, width, H])
        stave.apply_transform(trimesh.transformations.rotation_matrix(a, [0, 0, 1]))
        stave.apply_translation([(R - t / 2) * np.cos(a), (R - t / 2) * np.sin(a), 0])
        staves.append(stave)
    return staves


def _tray(rng: np.random.Generator) -> list:
    """An open-top rectangular box: a base and four thin walls."""
    import trimesh
    a, b, h, t = rng.uniform(0.06, 0.13), rng.uniform(0.05, 0.10), rng.uniform(0.025, 0.06), rng.uniform(0.003, 0.006)
    box = trimesh.creation.box
    return [box(extents=[a, b, t]).apply_translation([0, 0, t / 2]),
            *(box(extents=[t, b, h]).apply_translation([s * (a - t) / 2, 0, h / 2]) for s in (-1, 1)),
            *(box(extents=[a, t, h]).apply_translation([0, s * (b - t) / 2, h / 2]) for s in (-1, 1))]


def _frame(rng: np.random.Generator) -> list:
    """A flat rectangular frame: four bars round a rectangular hole."""
    import trimesh
    a, b = rng.uniform(0.06, 0.13), rng.uniform(0.05, 0.11)
    w, t = rng.uniform(0.012, 0.025), rng.uniform(0.006, 0.015)
    box = trimesh.creation.box
    return [*(box(extents=[w, b, t]).apply_translation([s * (a - w) / 2, 0, 0]) for s in (-1, 1)),
            *(box(extents=[a, w, t]).apply_translation([0, s * (b - w) / 2, 0]) for s in (-1, 1))]


def _plate(rng: np.random.Generator) -> list:
    """A thin flat slab (4-10 mm): grasped across its thickness or its edge."""
    import trimesh
    return [trimesh.creation.box(extents=[rng.uniform(0.05, 0.13), rng.uniform(0.04, 0.10), rng.uniform(0.004, 0.01)])]


WALL_FAMILIES = {"tube": _tube, "tray": _tray, "frame": _frame, "plate": _plate}


def _pybullet_parts(source: str) -> list:
    """A pybullet_data mesh as watertight parts: whole if watertight, else its bodies' convex hulls."""
    import pybullet_data
    import trimesh
    path = Path(pybullet_data.getDataPath()) / source
    if not path.is_file():
        raise FileNotFoundError(f"pybullet_data mesh missing: {path}")
    mesh = trimesh.load(path, force="mesh")
    if mesh.is_watertight and mesh.body_count == 1:
        return [mesh]
    parts = []
    for body in mesh.split(only_watertight=False):
        if body.is_watertight:
            parts.append(body)
        elif len(body.faces) >= 4 and np.linalg.matrix_rank(body.vertices - body.vertices.mean(0), tol=1e-6) == 3:
            parts.append(body.convex_hull)
    # Unmerged faces (e.g. toys/prism.obj: one body per face, all flat): the whole mesh's hull.
    return parts if parts and sum(p.volume for p in parts) > 0.2 * mesh.convex_hull.volume else [mesh.convex_hull]


def _fit_size(parts: list, rng: np.random.Generator) -> list:
    """Centre on the bbox and scale so the longest side is in [4, 15] cm and the shortest ≤ 8 cm."""
    import trimesh
    whole = trimesh.util.concatenate(parts)
    lo, hi = whole.bounds
    ext = hi - lo
    scale = 1.0
    if not (MIN_LONGEST <= ext.max() <= MAX_LONGEST):
        scale = rng.uniform(0.07, 0.13) / ext.max()
    if ext.min() * scale > MAX_SHORTEST:
        scale = 0.95 * MAX_SHORTEST / ext.min()
    out = []
    for p in parts:
        p = p.copy()
        p.apply_translation(-(lo + hi) / 2)
        p.apply_scale(scale)
        out.append(p)
    return out


def object_parts(entry: ObjectEntry) -> list:
    """The object's watertight parts (object frame: centred on its bounding box), deterministic per entry."""
    rng = np.random.default_rng(entry.params.get("seed", entry.oid))
    if entry.source == "procedural":
        parts = _procedural(entry.family, rng)
    else:
        parts = _pybullet_parts(entry.source)
        if entry.family == "blob":   # blobs: random size in the graspable range
            rng_size = np.random.default_rng(entry.params.get("seed", 0) + 1)
            ext = np.ptp(np.concatenate([p.vertices for p in parts]), axis=0).max()
            for p in parts:
                p.apply_scale(rng_size.uniform(0.06, 0.12) / ext)
    parts = _fit_size(parts, rng)
    for i, p in enumerate(parts):
        if not p.is_watertight:
            raise ValueError(f"object {entry.oid} ({entry.name}): part {i} is not watertight")
    return parts


def combined_mesh(parts: list):
    """All parts' triangles in one mesh (each part closed; the union is what ray casts and renders see)."""
    import trimesh
    return parts[0].copy() if len(parts) == 1 else trimesh.util.concatenate(parts)


def surface_points(parts: list, sdf, count: int, seed: int = 0, inside_tol: float = 0.001) -> np.ndarray:
    """Roughly even samples on the union's surface: part-surface samples that lie inside another part dropped."""
    import trimesh
    mesh = combined_mesh(parts)
    pts = trimesh.sample.sample_surface_even(mesh, count, seed=seed)[0]
    if len(parts) > 1:
        pts = pts[sdf.distance(pts) > -inside_tol]
    return pts.astype(np.float32)
