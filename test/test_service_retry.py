"""call_with_retry over real rclpy / Fast DDS: a server slower than one attempt still gets its answer through
(re-sent requests do not discard the first one's late answer), and the waits grow so a slow server is not flooded."""
import threading

import pytest
from rclpy.node import Node
from std_srvs.srv import Trigger

from grasp6d_ros.services import call_until_ready, call_with_retry
from ros_helpers import spinning

ATTEMPT_S = 0.5


class SlowServer(Node):
    """Answers each request ``delay`` seconds after taking it, one at a time (as a model behind a lock does)."""

    def __init__(self, context, delay: float):
        super().__init__("slow_server", context=context)
        self.delay, self.handled = delay, 0
        self.released = threading.Event()   # set: answer at once (lets the test end without waiting out the queue)
        self.create_service(Trigger, "slow", self._answer)

    def _answer(self, request, response):
        self.released.wait(self.delay)
        self.handled += 1
        response.success, response.message = True, f"answer {self.handled}"
        return response


def counting_client(node: Node):
    """A real client whose requests are counted as they are sent."""
    client = node.create_client(Trigger, "slow")
    client.sent, send = 0, client.call_async

    def call_async(request):
        client.sent += 1
        return send(request)
    client.call_async = call_async
    return client


@pytest.mark.parametrize("delay", [1.6 * ATTEMPT_S, 3.5 * ATTEMPT_S])
def test_a_server_slower_than_one_attempt_is_answered_without_a_flood(delay):
    with spinning(lambda ctx: SlowServer(ctx, delay), lambda ctx: Node("slow_client", context=ctx)) as (server, node):
        client = counting_client(node)
        try:
            answer = call_with_retry(client, Trigger.Request(), timeout=20, attempt_timeout=ATTEMPT_S)
        finally:
            server.released.set()
        # the first request's answer: it was not dropped when the request was sent again
        assert answer.success and answer.message == "answer 1"
        # waits of 0.5, 1, 2 s: re-sent at 0.5 s and 1.5 s at most, not every 0.5 s
        assert client.sent <= 1 + sum(1 for t in (ATTEMPT_S, 3 * ATTEMPT_S) if t < delay), client.sent
        assert not client._pending_requests   # nothing left waiting for an answer nobody reads


def test_a_server_that_never_answers_in_time_raises_and_leaves_no_pending_request():
    with spinning(lambda ctx: SlowServer(ctx, 10.0), lambda ctx: Node("slow_client", context=ctx)) as (server, node):
        client = counting_client(node)
        try:
            with pytest.raises(TimeoutError, match="service slow did not answer in 2 s"):
                call_with_retry(client, Trigger.Request(), timeout=2, attempt_timeout=ATTEMPT_S)
        finally:
            server.released.set()
        assert client.sent <= 3 and not client._pending_requests   # sent at 0, 0.5 and 1.5 s (not every 0.5 s)


class NotYetServer(Node):
    """Answers "not yet" to its first ``not_ready`` requests (a detector before the surface reached it), then ok."""

    def __init__(self, context, not_ready: int):
        super().__init__("not_yet_server", context=context)
        self.not_ready, self.handled = not_ready, 0
        self.create_service(Trigger, "slow", self._answer)

    def _answer(self, request, response):
        self.handled += 1
        response.success = self.handled > self.not_ready
        response.message = "ready" if response.success else "not yet"
        return response


def _is_ready(answer) -> bool:
    return not answer.message.startswith("not yet")


def test_call_until_ready_asks_again_while_the_server_says_not_yet():
    with spinning(lambda ctx: NotYetServer(ctx, 2), lambda ctx: Node("slow_client", context=ctx)) as (server, node):
        client = counting_client(node)
        answer = call_until_ready(client, Trigger.Request(), ready=_is_ready, timeout=20, poll=0.1)
        assert answer.success and answer.message == "ready"
        assert client.sent == server.handled == 3        # two "not yet", then the answer; nothing sent after it


def test_call_until_ready_returns_the_last_not_ready_answer_at_the_timeout():
    with spinning(lambda ctx: NotYetServer(ctx, 10**6), lambda ctx: Node("slow_client", context=ctx)) as (_, node):
        client = counting_client(node)
        answer = call_until_ready(client, Trigger.Request(), ready=_is_ready, timeout=1.5, poll=0.5)
        assert not answer.success and answer.message == "not yet"   # the server's own words reach the caller
        assert 2 <= client.sent <= 4                                  # asked every 0.5 s, not in a busy loop
