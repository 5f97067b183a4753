"""grasp6d_ros: thin rclpy nodes and message conversions for grasp6d.

The generated interfaces (``grasp6d_ros.msg`` / ``grasp6d_ros.srv``) are installed by colcon into the same
package directory. ``extend_path`` lets a source checkout on ``sys.path`` (tests, ``python -m``) still find
them in ``install/``: every ``grasp6d_ros`` directory on ``sys.path`` contributes to this package.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
