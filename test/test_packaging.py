"""The package as users meet it: package.xml, the colcon install tree, the pip console script, set-up tools."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy
from catkin_pkg.package import parse_package

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from fix_ros_wheel_cmake import fix_prefix  # noqa: E402


def test_package_xml_declares_what_the_code_imports():
    package = parse_package(REPO / "package.xml")
    assert package.name == "grasp6d_ros"
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [g.name for g in package.member_of_groups]
    runtime = {d.name for d in package.exec_depends + package.build_export_depends}
    for needed in ("rclpy", "sensor_msgs", "geometry_msgs", "std_msgs", "std_srvs", "visualization_msgs",
                   "rosidl_default_runtime", "tf2_ros", "action_msgs"):
        assert needed in runtime, needed
    assert all("@" in m.email for m in package.maintainers)


def test_installed_tree_imports_outside_the_source_checkout(tmp_path):
    """From another directory (no source tree on sys.path) the install/ tree alone provides everything."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and Path(p).resolve() != REPO)
    code = ("import grasp6d_ros, grasp6d_core; from grasp6d_ros.srv import DetectGrasps, ExecuteGrasp; "
            "from grasp6d_ros.action import Pick; "
            "from grasp6d_ros.msg import Grasp6DArray; from grasp6d_ros import conversions; "
            "print(grasp6d_ros.__path__[0]); print(grasp6d_core.__file__)")
    out = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert all("/install/grasp6d_ros/" in line for line in out), out


def test_node_executables_and_shared_files_are_installed():
    share = REPO / "install" / "grasp6d_ros" / "share" / "grasp6d_ros"
    assert (share / "package.xml").exists()
    for folder in ("config", "launch"):
        assert (share / folder).is_dir(), folder
    # the demo recording ships with the config (grasp_demo.yaml names it relative to its own folder)
    assert (share / "config" / "demo" / "clutter_table.db3").is_file()
    lib = REPO / "install" / "grasp6d_ros" / "lib" / "grasp6d_ros"
    for script in (REPO / "scripts").glob("[a-z]*"):
        assert os.access(lib / script.name, os.X_OK), script.name


def test_console_script_lists_subcommands():
    grasp6d = Path(sys.executable).parent / "grasp6d"
    out = subprocess.run([str(grasp6d), "--help"], capture_output=True, text=True, check=True).stdout
    assert "bench" in out
    commands = sorted(p.stem.replace("_", "-") for p in (REPO / "grasp6d_core" / "commands").glob("[!_]*.py"))
    for command in commands:
        assert command in out, command
    version = subprocess.run([str(grasp6d), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip().startswith("grasp6d ")


def test_every_command_module_is_registered_with_a_help_line():
    """A module in grasp6d_core/commands/ that the registry misses would be a command nobody can call."""
    import importlib
    from grasp6d_core.cli import COMMANDS
    on_disk = sorted(f"grasp6d_core.commands.{p.stem}" for p in (REPO / "grasp6d_core" / "commands").glob("[!_]*.py"))
    assert sorted(module for module, _ in COMMANDS.values()) == on_disk
    for name, (module_path, help_line) in COMMANDS.items():
        assert help_line.strip() and "\n" not in help_line, name
        module = importlib.import_module(module_path)
        assert callable(module.add_arguments) and callable(module.run), name
        assert not hasattr(module, "HELP"), f"{module_path}.HELP: the help line lives in cli.COMMANDS only"


def test_top_level_help_imports_no_command_module():
    code = ("import sys, contextlib, io\nfrom grasp6d_core.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n    assert main([]) == 0\n"
            "loaded = [m for m in sys.modules if m.startswith('grasp6d_core.commands.')]\n"
            "assert not loaded, loaded\nassert 'detect grasps on GraspNet-format scenes' in out.getvalue()\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_unknown_subcommand_fails_with_usage():
    result = subprocess.run([sys.executable, "-m", "grasp6d_core.cli", "no-such-command"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_cmake_fix_rewrites_builder_paths_idempotently(tmp_path):
    cmake_dir = tmp_path / "share" / "foo_msgs" / "cmake"
    cmake_dir.mkdir(parents=True)
    target = cmake_dir / "export_foo.cmake"
    target.write_text('INTERFACE_INCLUDE_DIRECTORIES "/opt/python/cp311-cp311/include/python3.11;'
                      '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"\n')
    assert fix_prefix(tmp_path) == 1
    text = target.read_text()
    assert "/opt/python" not in text
    assert sysconfig.get_paths()["include"] in text and numpy.get_include() in text
    assert fix_prefix(tmp_path) == 0


def test_pip_wheel_carries_model_configs_and_shipped_weights(tmp_path):
    """The pip route without a checkout: configs/model/*.yaml inside the package, the weights as data files."""
    import zipfile
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("grasp6d-*.whl"))).namelist()
    for config in ("cpu", "paper", "baseline", "gsnet"):
        assert f"grasp6d_core/configs/model/{config}.yaml" in names
    assert any(n.endswith("data/share/grasp6d/models/grasp6d_cpu.pt") for n in names)


def test_one_version_everywhere():
    """grasp6d_core.__version__ is the version; setup.py reads it and package.xml (which ROS needs literal) agrees."""
    import xml.etree.ElementTree as ET
    import grasp6d_core
    assert ET.parse(REPO / "package.xml").getroot().findtext("version") == grasp6d_core.__version__
    result = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == grasp6d_core.__version__, result.stderr
