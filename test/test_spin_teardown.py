"""Tearing nodes down leaves nothing of them in the ROS graph, action servers and clients included (rclpy's
destroy_node leaves those alone), even while the test still holds the node objects."""
from rclpy.action import ActionClient, ActionServer
from rclpy.node import Node

from grasp6d_ros.action import Pick

from ros_helpers import spinning, wait_for

ACTION = "/teardown_probe"
STATUS = ACTION + "/_action/status"


def _server(context) -> Node:
    node = Node("teardown_server", context=context)
    ActionServer(node, Pick, ACTION, lambda goal: Pick.Result())
    return node


def _client(context) -> Node:
    node = Node("teardown_client", context=context)
    node.action = ActionClient(node, Pick, ACTION)
    return node


def test_a_torn_down_action_server_and_client_leave_the_graph():
    with spinning(lambda ctx: Node("observer", context=ctx)) as (observer,):
        with spinning(_server, _client) as kept:        # `kept`: node objects still referenced after the block
            assert wait_for(lambda: observer.count_publishers(STATUS) == 1 and observer.count_subscribers(STATUS) == 1)
        assert wait_for(lambda: observer.count_publishers(STATUS) == 0, 5), "the action server is still in the graph"
        assert wait_for(lambda: observer.count_subscribers(STATUS) == 0, 5), "the action client is still in the graph"
        assert len(kept) == 2 and [list(node.waitables) for node in kept] == [[], []]
