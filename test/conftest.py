"""Shared test set-up: DDS isolated to this machine and to this test run."""
import os
import random

# Before rclpy is imported anywhere: keep discovery on loopback and give every pytest run its own domain so
# parallel runs (and other ROS users on the machine) never see each other's topics.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ["ROS_DOMAIN_ID"] = os.environ.get("GRASP6D_TEST_DOMAIN_ID", str(random.randint(1, 100)))
