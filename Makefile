# grasp6d: the two commands of the README are `make test` and `make demo`; both set up everything first.
SHELL := /bin/bash
VENV := .venv
RUN := source install/setup.bash && ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST RMW_IMPLEMENTATION=rmw_fastrtps_cpp

.PHONY: setup test test-all bench clean

setup:
	@bash tools/setup.sh

test: setup
	@$(RUN) $(VENV)/bin/python -m pytest -q test

# Benchmarks (slow, print JSON figures) are marked and excluded from `make test`.
bench: setup
	@$(RUN) $(VENV)/bin/python -m pytest -q -m benchmark -s test

clean:
	rm -rf build install log
