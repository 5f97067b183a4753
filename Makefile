# grasp6d: the two commands of the README are `make test` and `make demo`; both set up everything first.
SHELL := /bin/bash
VENV := .venv
RUN := source install/setup.bash && ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST RMW_IMPLEMENTATION=rmw_fastrtps_cpp

.PHONY: setup test demo bench clean

setup:
	@bash tools/setup.sh

test: setup
	@$(RUN) $(VENV)/bin/python -m pytest -q --durations=15 test   # the slowest tests, to keep the suite short

# The whole graph on the shipped recording (config/demo/clutter_table.db3), started with
# `ros2 launch grasp6d_ros grasp_demo.launch.py camera:=playback executor:=sim rviz:=false` where launch is
# installed, else in one process: camera_node -> tsdf_node -> detector_node (models/grasp6d_cpu.pt; the antipodal
# baseline, said so, while it is absent) -> executor_node (sim). Prints the ranked grasps and the pick; writes
# demo_out/grasps.png, demo_out/run.mcap and (launched) demo_out/launch.log.
demo: setup
	@$(RUN) $(VENV)/bin/python -m grasp6d_ros.demo --out demo_out

# Benchmarks (slow, print JSON figures) are marked and excluded from `make test`.
bench: setup
	@$(RUN) $(VENV)/bin/python -m pytest -q -m benchmark -s test

clean:
	rm -rf build install log
