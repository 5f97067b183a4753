#!/usr/bin/env bash
# Build the real MoveIt / ros2_control interface packages (moveit_msgs, control_msgs and what they need) into
# install/, so the MoveIt backend's tests talk to stand-in servers in exactly the wire format of a real
# move_group and gripper controller. They are on no package registry reachable here: their unchanged upstream
# sources come from ../shared/ros_interfaces in a development checkout or CI. A user's clone has no such folder
# (and a ROS 2 install has the packages themselves): then this step says so and does nothing, and the tests
# that need the packages skip with that reason.
#
# Cached: rebuilt only when the sources changed (a stamp of their hash in build/) or install/ lost a package.
# ../shared is read-only in CI, so colcon's build and log folders live in build/ and the result in install/.
# Usage: tools/build_test_interfaces.sh   (called by tools/setup.sh, after the venv and the CMake repair exist)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$PWD/.venv
SOURCES=${GRASP6D_ROS_INTERFACES:-$PWD/../shared/ros_interfaces}
# colcon orders them by their package.xml dependencies; this is also that order.
PACKAGES="octomap_msgs object_recognition_msgs control_msgs moveit_msgs"

if [ ! -d "$SOURCES/moveit_msgs" ]; then
  echo "setup: no $SOURCES/moveit_msgs: MoveIt wire-format tests will be skipped (moveit_msgs/control_msgs not built)"
  exit 0
fi
for package in $PACKAGES; do
  [ -f "$SOURCES/$package/package.xml" ] || { echo "setup: $SOURCES/$package/package.xml is missing" >&2; exit 1; }
done

# Message packages they depend on beyond the project's own, from PyPI (pinned in requirements-ros.txt).
for package in shape_msgs trajectory_msgs diagnostic_msgs; do
  [ -d "$VENV/share/$package" ] || { echo "setup: $package is missing from $VENV (the test interfaces need the PyPI" \
    "wheel ros-${package//_/-}; it belongs in requirements-ros.txt)" >&2; exit 1; }
done

hash=$(cd "$SOURCES" && find $PACKAGES -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-12)
stamp=build/.test-interfaces-$hash
built=1
for package in $PACKAGES; do [ -d "install/$package" ] || built=0; done
if [ -f "$stamp" ] && [ "$built" = 1 ]; then
  exit 0
fi

echo "setup: building $PACKAGES from $SOURCES into install/ (several minutes, once)"
start=$(date +%s)
mkdir -p build
paths=""
for package in $PACKAGES; do paths="$paths $SOURCES/$package"; done
export PATH="$VENV/bin:$PATH"
CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV" colcon --log-base build/log build \
  --paths $paths --build-base build/colcon --install-base install \
  --event-handlers console_direct- console_start_end- \
  --cmake-args -DPython3_EXECUTABLE="$VENV/bin/python" -DBUILD_TESTING=OFF > build/colcon-test-interfaces.log 2>&1 \
  || { tail -40 build/colcon-test-interfaces.log >&2
       echo "setup: building the test interfaces failed (full log: build/colcon-test-interfaces.log)" >&2; exit 1; }
rm -f build/.test-interfaces-*
touch "$stamp"
echo "setup: test interfaces built in $(( $(date +%s) - start )) s"
