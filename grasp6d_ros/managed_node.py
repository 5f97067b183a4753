"""What detector_node and tsdf_node share as lifecycle (managed) nodes: the ``autostart`` parameter, a failed
configure that leaves the node ``unconfigured`` with its reason, and a one-line answer for work asked of a node
that is not ``active``.

A subclass implements ``configure()`` (load / allocate from the parameters; raise on any problem) and
``release()`` (free what configure made; must also work after a half-done configure). The states and transitions
are rclpy's (rclpy.lifecycle): ``ros2 lifecycle get/set`` and the ``~/get_state`` / ``~/change_state`` services
work on these nodes as on any ROS 2 managed node (docs/ros_app.md, "Lifecycle").
"""
from __future__ import annotations

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from grasp6d_core.errors import Grasp6dError

# Parameters every managed node declares (config/<node>.yaml lists them with the node's own).
MANAGED_DEFAULTS = {"autostart": True}
AUTOSTART_DESCRIPTION = ("true: configure and activate right after start; false: stay unconfigured for a lifecycle "
                         "manager (ros2 lifecycle set NODE configure, then activate). Read-only after start")


class ManagedNode(LifecycleNode):
    def __init__(self, node_name: str, **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        self.declare_parameter("autostart", MANAGED_DEFAULTS["autostart"],
                               ParameterDescriptor(read_only=True, description=AUTOSTART_DESCRIPTION))
        self.configure_error = ""   # why the last configure failed ("" = it did not)
        self._active = False

    # --------------------------------------------------------------------------------------- subclass API
    def configure(self) -> None:
        """Load / allocate from the parameters; raise with a message naming what is wrong."""

    def release(self) -> None:
        """Free what configure made (also after a configure that failed half-way)."""

    # -------------------------------------------------------------------------------------------- state
    @property
    def active(self) -> bool:
        return self._active

    @property
    def state(self) -> str:
        """The lifecycle state's label (unconfigured, inactive, active, finalized, or a transition's)."""
        return self._state_machine.current_state[1]   # rclpy has no public getter; its own get_state reads this

    def start(self) -> None:
        """Call at the end of the subclass's __init__: with ``autostart`` true, configure then activate at once.

        The node does this itself (not a launch-side lifecycle manager) so it comes up the same way under
        ``ros2 launch``, ``ros2 run`` and in-process (make demo, the tests): a constructed node is already
        serving, and a configure failure is logged before the node spins."""
        name = self.get_fully_qualified_name()
        if not self.get_parameter("autostart").value:
            self.get_logger().info(f"autostart is false: unconfigured until a lifecycle manager configures it "
                                   f"(ros2 lifecycle set {name} configure, then activate)")
            return
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def not_active_reason(self) -> str | None:
        """None when active; else one line saying the state and how to leave it (for service answers)."""
        if self._active:
            return None
        name, state = self.get_fully_qualified_name(), self.state
        hints = {"inactive": f"ros2 lifecycle set {name} activate",
                 "unconfigured": f"ros2 lifecycle set {name} configure, then activate",
                 "finalized": "it was shut down; start the node again"}
        if state == "unconfigured" and self.configure_error:
            return f"node is unconfigured: configure failed: {self.configure_error}"
        return f"node is {state} ({hints.get(state, 'a transition is under way; try again')})"

    # ------------------------------------------------------------------------------ transition callbacks
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.configure()
        except Exception as error:  # any reason: stay unconfigured, say why, keep the process running
            known = isinstance(error, (Grasp6dError, ValueError, OSError))
            self.configure_error = str(error) if known else f"{type(error).__name__}: {error}"
            self.get_logger().error(f"configure failed, staying unconfigured: {self.configure_error}; fix it, then "
                                    f"ros2 lifecycle set {self.get_fully_qualified_name()} configure")
            self.release()
            return TransitionCallbackReturn.FAILURE
        self.configure_error = ""
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)   # enables the lifecycle publishers
        self._active = result == TransitionCallbackReturn.SUCCESS
        if self._active:
            self.get_logger().info("active: serving")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self.get_logger().info("inactive: configured, not serving")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.release()
        self.get_logger().info("cleaned up: unconfigured")
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any primary state: stop serving and free everything."""
        self._active = False
        super().on_deactivate(state)   # disables the lifecycle publishers
        self.release()
        self.get_logger().info("shut down: finalized")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition callback raised: free everything and go back to unconfigured (SUCCESS) to allow a retry."""
        self._active = False
        super().on_deactivate(state)
        self.release()
        self.get_logger().error(f"a transition from '{state.label}' failed: released everything, unconfigured")
        return TransitionCallbackReturn.SUCCESS
