"""`grasp6d eval` refuses a dump it cannot score honestly: exit 2 and one stderr line naming the file and the
fault, no AP printed. Each case is a real dump file written to disk and read back by the real CLI."""
import numpy as np
import pytest

from grasp6d_core.cli import main
from grasp6d_core.evaluation.dumps import write_dump
from grasp6d_core.grasp import GraspGroup, dump_path
from eval_fixtures import make_root


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_root(tmp_path_factory.mktemp("graspnet_root"))


@pytest.fixture
def oracle(root, tmp_path):
    dump = tmp_path / "dump"
    write_dump("oracle", root, dump, [0], "realsense", [0], seed=1)
    return dump, dump_path(dump, 0, "realsense", 0)


def _eval(root, dump, capsys) -> tuple[int, str, str]:
    code = main(["eval", "--root", str(root), "--dump", str(dump), "--scenes", "0", "--json"])
    out, err = capsys.readouterr()
    return code, out, err


def _rewrite(path, change) -> None:
    array = np.load(path)
    change(array)
    np.save(path, array)


def test_valid_dump_still_scores(root, oracle, capsys):
    code, out, err = _eval(root, oracle[0], capsys)
    assert code == 0 and '"AP"' in out, err


@pytest.mark.parametrize("fault, change, words", [
    ("NaN score", lambda a: a.__setitem__((0, 0), np.nan), "score is not finite"),
    ("inf translation", lambda a: a.__setitem__((1, 14), np.inf), "translation is not finite"),
    ("rotations all 7.0", lambda a: a.__setitem__((slice(None), slice(4, 13)), 7.0), "not a rotation matrix"),
    ("mirror, det -1", lambda a: a.__setitem__((2, slice(4, 7)), -a[2, 4:7]), "not a rotation matrix"),
    ("negative width", lambda a: a.__setitem__((0, 1), -0.05), "width is negative"),
])
def test_garbage_dump_file_is_refused_with_one_line(root, oracle, capsys, fault, change, words):
    dump, path = oracle
    _rewrite(path, change)
    code, out, err = _eval(root, dump, capsys)
    assert code == 2, f"{fault}: scored with exit {code}: {out}"
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("grasp6d eval: dump file ") and str(path) in err and words in err, err


def test_refused_before_scoring_even_with_progress_and_workers(root, oracle, capsys):
    dump, path = oracle
    _rewrite(path, lambda a: a.__setitem__((3, 0), np.nan))
    code = main(["eval", "--root", str(root), "--dump", str(dump), "--scenes", "0", "--workers", "2"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "first at row 3" in err, err


def test_empty_view_folder_is_refused(root, oracle, capsys):
    dump, path = oracle
    path.unlink()                      # scene_0000/realsense/ exists but holds no grasp file
    code, out, err = _eval(root, dump, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    assert str(path.parent) in err and "holds no NNNN.npy grasp files" in err


def test_an_image_with_zero_grasps_is_still_a_result(root, oracle, capsys):
    dump, path = oracle
    GraspGroup().save_npy(path)        # a detector that found nothing scores 0, it is not garbage
    code, out, err = _eval(root, dump, capsys)
    assert code == 0 and '"AP": 0.0' in out, err
