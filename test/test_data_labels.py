"""Data engine: object library, force closure on analytic cases, the label grid and its independent check."""
import numpy as np
import pytest
import trimesh

from grasp6d_core.data.labels import (DEPTHS, LABEL_FRICTION, friction_agreement, grasp_friction_raycast,
                                      label_rotations, object_labels, probe_min_distance)
from grasp6d_core.data.objects import (EXTRA_FAMILIES, NOVEL_FAMILIES, TRAIN_FAMILIES, extra_sets, object_library,
                                       object_parts, parse_object_ids, split_objects)
from grasp6d_core.data.scenes import scene_plan
from grasp6d_core.data.sdf import ObjectSDF


@pytest.fixture(scope="module")
def box():
    mesh = trimesh.creation.box((0.04, 0.06, 0.08))
    return mesh, ObjectSDF.from_mesh(mesh, cells=64)


@pytest.fixture(scope="module")
def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=0.03)
    return mesh, ObjectSDF.from_mesh(mesh, cells=64)


def _top_down(closing_axis):
    """Rotation with approach −z (from above) and the given closing axis."""
    x = np.array([0.0, 0.0, -1.0])
    y = np.asarray(closing_axis, float) / np.linalg.norm(closing_axis)
    return np.stack([x, y, np.cross(x, y)], 1)


def test_antipodal_box_pinch_closes_at_smallest_mu(box):
    mesh, sdf = box
    mu, width = grasp_friction_raycast(mesh, sdf, _top_down([1, 0, 0]), [0, 0, 0.04], 0.02)
    assert mu[0] == pytest.approx(0.1)
    assert width[0] == pytest.approx(0.04 + 0.01, abs=1e-4)     # box width + 1 cm margin


def test_box_corner_grasp_needs_more_friction_or_none(box):
    mesh, sdf = box
    # Closing line in the xy plane at 50° to x, through a point near the (+x, +y) vertical edge: the jaws land on
    # two adjacent faces whose normals are 90° apart -> needs tan(≥45°) ≥ 1, beyond the label grid.
    a = np.deg2rad(50)
    axis = np.array([np.cos(a), -np.sin(a), 0.0])
    centre = np.array([0.02, 0.03, 0.04]) - 0.008 * np.array([1, 1, 0]) / np.sqrt(2)
    mu, _ = grasp_friction_raycast(mesh, sdf, _top_down(axis), centre, 0.02)
    assert mu[0] == -1.0
    # A slanted line across the box's two parallel faces: angle 30° -> tan 30° = 0.577 -> 0.6.
    b = np.deg2rad(30)
    mu, _ = grasp_friction_raycast(mesh, sdf, _top_down([np.cos(b), np.sin(b), 0]), [0, 0, 0.04], 0.02)
    assert mu[0] == pytest.approx(0.6)


def test_sphere_offcentre_friction_is_analytic_and_monotonic(sphere):
    mesh, sdf = sphere
    r = 0.03
    offsets = np.linspace(0.0, 0.028, 15)
    R = np.repeat(_top_down([1, 0, 0])[None], len(offsets), 0)
    # Closing line at height z = r − depth... put it through the sphere's equator, offset e along y.
    t = np.stack([np.zeros_like(offsets), offsets, np.full_like(offsets, 0.02)], 1)
    mu, _ = grasp_friction_raycast(mesh, sdf, R, t, 0.02)
    need = np.tan(np.arcsin(offsets / r))
    expect = np.array([min([m for m in LABEL_FRICTION if m >= n - 1e-3], default=-1.0) for n in need])
    # a facetted sphere (5 subdivisions) may land one grid step off; the none/some boundary must match
    assert (np.abs(mu - expect) <= 0.1 + 1e-6).all() and ((mu > 0) == (expect > 0)).all(), (mu, expect)
    assert (mu == expect).mean() >= 0.8
    fc = np.where(mu > 0, mu, np.inf)
    assert np.all(fc[1:] >= fc[:-1]), "required friction must not drop as the grasp moves off-centre"
    assert mu[0] == pytest.approx(0.1) and mu[-1] == -1.0


def test_label_layout_and_independent_check(box):
    mesh, sdf = box
    labels = object_labels(mesh, sdf, max_points=24)
    n = len(labels["points"])
    assert 10 <= n <= 24
    assert labels["offsets"].shape == (n, 300, 12, 4, 3) and labels["scores"].shape == (n, 300, 12, 4)
    assert labels["collision"].dtype == bool and labels["collision"].shape == (n, 300, 12, 4)
    mu = labels["scores"]
    assert {round(float(v), 2) for v in np.unique(mu[mu > 0])} <= {round(v, 2) for v in LABEL_FRICTION}
    assert 0.01 < (mu > 0).mean() < 0.5
    w = labels["offsets"][..., 2]
    assert w.max() <= 0.10 + 1e-6 and (w[mu > 0] >= 0.01).all()
    np.testing.assert_allclose(labels["offsets"][0, 0, :, 0, 0], np.arange(12) * np.pi / 12, atol=1e-6)
    np.testing.assert_allclose(labels["offsets"][0, 0, 0, :, 1], DEPTHS, atol=1e-6)
    assert np.abs(sdf.distance(labels["points"])).max() < 0.002      # label points on the surface
    check = friction_agreement(sdf, labels, samples=1500)
    assert check["fc_agree"] > 0.95 and check["within_0.1"] > 0.9, check


def test_self_collision_probes(box):
    mesh, sdf = box
    # Top-down grasp across the 4 cm side at depth 4 cm: fingers beside the box, free (width 5 cm).
    R = _top_down([1, 0, 0])[None]
    free = probe_min_distance(sdf, R, np.array([[0, 0, 0.04]]), np.array([0.05]), np.array([0.04]))
    # Same grasp closed to 3 cm: the fingers are inside the box.
    inside = probe_min_distance(sdf, R, np.array([[0, 0, 0.04]]), np.array([0.03]), np.array([0.04]))
    assert free[0] > 0.004 and inside[0] < 0


def test_library_ids_splits_and_sizes():
    lib = object_library()
    assert [e.oid for e in lib] == list(range(168)) and lib == object_library()   # stable
    # Pinned draws of earlier ids: datasets made before the extra sets were appended stay valid.
    assert (lib[0].name, lib[0].params) == ("box_000", {"seed": 566095476})
    assert (lib[47].source, lib[47].params) == ("random_urdfs/152/152.obj", {"seed": 1829719391})
    assert (lib[95].source, lib[95].params) == ("toys/prism.obj", {"seed": 1048768096})
    assert (lib[140].name, lib[143].family) == ("prism_140", "prism")
    train, similar, novel = (split_objects(s, lib) for s in ("train", "similar", "novel"))
    assert split_objects("seen", lib) == train
    assert {e.family for e in similar} <= set(TRAIN_FAMILIES)
    assert {e.family for e in novel} <= set(NOVEL_FAMILIES) and not {e.family for e in novel} & {e.family for e in train}
    assert not {e.source for e in similar if e.family == "blob"} & {e.source for e in train if e.family == "blob"}
    for e in lib[::5] + [lib[16], lib[93], lib[143]]:   # a sample of every kind, incl. a mug, a multi-part mesh, a prism
        parts = object_parts(e)
        ext = np.ptp(np.concatenate([p.vertices for p in parts]), axis=0)
        assert 0.04 <= ext.max() <= 0.15 + 1e-9 and ext.min() <= 0.08, (e.name, ext)
        assert all(p.is_watertight for p in parts), e.name


def test_extra_objects_widen_training_only():
    lib = object_library()
    extra = [e for e in lib if e.split == "extra"]
    assert [e.oid for e in extra] == list(range(96, 144)) and {e.family for e in extra} == {"blob", "prism"}
    assert not {e.family for e in extra} & set(NOVEL_FAMILIES)
    assert not {e.source for e in extra if e.family == "blob"} & {e.source for e in lib[:96] if e.family == "blob"}
    for split in ("seen", "similar", "novel"):          # no test scene can draw them, with or without asking
        assert not {e.oid for e in split_objects(split, lib)} & {e.oid for e in extra}
        with pytest.raises(ValueError, match="training scenes only"):
            split_objects(split, lib, extra=True)
    assert split_objects("train", lib, extra=True) == split_objects("train", lib) + extra
    pool = [e.oid for e in split_objects("train", lib, extra=True)]
    widened = {o for s in range(20) for o in scene_plan(s, "train", 14, (3, 12), pool=pool)[0]}
    assert widened & {e.oid for e in extra} and widened - {e.oid for e in extra}   # both kinds in the scenes
    assert parse_object_ids("3,140", "train", lib, extra=True) == [3, 140]
    with pytest.raises(ValueError, match=r"not an object of split 'train' \(its ids are 0-47\)"):
        parse_object_ids("140", "train", lib)
    with pytest.raises(ValueError, match=r"with --extra-objects \(its ids are 0-47, 96-143\)"):
        parse_object_ids("60", "train", lib, extra=True)
    with pytest.raises(ValueError, match=r"not an object of split 'train' with --extra-objects \(its ids are 0-47, 96-143\)"):
        parse_object_ids("150", "train", lib, extra=True)   # the bare flag is the 'shapes' set only


def test_wall_set_is_training_only_and_keeps_its_hollows():
    """The 'walls' extra set: ids 144-167, training scenes only, alone or with 'shapes'; its tubes, trays and frames
    are hollow or holed (the axis of a tube, the middle of a frame's hole and the inside of a tray are outside the
    object), which is what they add to training."""
    lib = object_library()
    walls = [e for e in lib if e.split == "extra_walls"]
    assert [e.oid for e in walls] == list(range(144, 168))
    assert {e.family for e in walls} == {"tube", "tray", "frame", "plate"} <= set(EXTRA_FAMILIES)
    assert not {e.family for e in walls} & (set(NOVEL_FAMILIES) | set(TRAIN_FAMILIES))
    assert extra_sets(True) == ("shapes",) and extra_sets("walls,shapes") == ("shapes", "walls") and extra_sets(False) == ()
    with pytest.raises(ValueError, match="unknown set bricks; choose from shapes, walls"):
        extra_sets("walls,bricks")
    assert split_objects("train", lib, extra="walls") == split_objects("train", lib) + walls
    assert split_objects("train", lib, extra="shapes,walls")[-len(walls):] == walls
    with pytest.raises(ValueError, match="training scenes only"):
        split_objects("novel", lib, extra="walls")
    assert parse_object_ids("150,3", "train", lib, extra="walls") == [3, 150]
    for family in ("tube", "tray", "frame", "plate"):
        e = next(w for w in walls if w.family == family)
        parts = object_parts(e)
        whole = trimesh.util.concatenate(parts)
        lo, hi = whole.bounds
        ext = hi - lo
        assert 0.04 <= ext.max() <= 0.15 + 1e-9 and ext.min() <= 0.08 and all(p.is_watertight for p in parts), e.name
        sdf = ObjectSDF.from_parts(parts, cells=96)
        assert (sdf.distance(np.array([p.centroid for p in parts])) < 0).all(), e.name   # every box part is solid
        if family == "plate":    # thin: 4-10 mm across
            assert ext.min() <= 0.0101, ext
            continue
        empty = (lo + hi) / 2    # a tube's axis, a frame's hole
        if family == "tray":     # above the base, between the walls
            empty[2] = lo[2] + 0.6 * ext[2]
        assert sdf.distance(empty[None])[0] > 0.005, e.name


def test_label_rotations_match_evaluator_convention():
    from grasp6d_core.views import fibonacci_views
    from grasp6d_core.rotations import grasp_rotation
    views = fibonacci_views()
    R = label_rotations(views)
    np.testing.assert_allclose(R[7, 5], grasp_rotation(-views[7], 5 * np.pi / 12), atol=1e-12)


def test_synth_extra_objects_end_to_end(tmp_path, capsys):
    """The README's `grasp6d synth --extra-objects` examples (plus flags that only make them faster) make a training
    scene with an extra object each, record which set they drew, and refuse to continue the same root without it
    (the two pools would mix silently)."""
    import json
    import re
    import shlex
    from pathlib import Path
    from grasp6d_core.cli import main as cli
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = shlex.split(re.search(r"`grasp6d (synth [^`]*--extra-objects[^`]*)`", readme).group(1))
    args = [str(tmp_path) if word == "ROOT" else word for word in example if word != "--extra-objects"]
    args += ["--label-points", "48", "--no-text-sdf", "--quiet"]
    assert cli(args + ["--extra-objects"]) == 0
    assert (tmp_path / "scenes" / "scene_0000" / "object_id_list.txt").read_text().split() == ["140"]
    assert json.loads((tmp_path / "synth_train.json").read_text())["extra_objects"] is True
    manifest = json.loads((tmp_path / "models" / "manifest.json").read_text())
    assert manifest["objects"][140]["family"] == "prism" and manifest["objects"][140]["split"] == "extra"
    capsys.readouterr()
    assert cli(args) == 2   # a user error: one line, no traceback
    assert "140 is not an object of split 'train' (its ids are 0-47)" in capsys.readouterr().err
    without_ids = args[:args.index("--object-ids")] + args[args.index("--label-points"):]
    assert cli(without_ids) == 2   # a user error: one line, no traceback
    assert "would mix them" in capsys.readouterr().err
    # The README's thin-walled example (a tube), as printed: the set is recorded by name.
    walls = tmp_path / "walls"
    example = shlex.split(re.search(r"`grasp6d (synth [^`]*--extra-objects walls[^`]*)`", readme).group(1))
    walled = [str(walls) if word == "ROOT" else word for word in example]
    assert cli(walled + ["--label-points", "48", "--no-text-sdf", "--quiet"]) == 0
    assert (walls / "scenes" / "scene_0000" / "object_id_list.txt").read_text().split() == ["144"]
    assert json.loads((walls / "synth_train.json").read_text())["extra_objects"] == ["walls"]
    manifest = json.loads((walls / "models" / "manifest.json").read_text())
    assert manifest["objects"][144]["family"] == "tube" and manifest["objects"][144]["split"] == "extra_walls"
