"""Service calls that survive Fast DDS's discovery race (used by the demo client and the tests)."""
from __future__ import annotations

import time
from typing import Callable


def call_with_retry(client, request, timeout: float = 10.0, attempt_timeout: float = 3.0,
                    stop_requested: Callable[[], bool] | None = None):
    """Call a service whose node another thread spins; re-send a request that got no answer; raise on timeout.
    ``stop_requested``: polled while waiting for the answer; when it says so the call is given up and None returned.

    ``wait_for_service`` only tells that the request topic matched; right after discovery the server's
    response writer may not yet have matched this client's reader, and that first response is then lost
    (a known Fast DDS discovery race). So a request that gets no answer within ``attempt_timeout`` is sent
    again, until ``timeout``. Only for idempotent services (a detection, not an arm motion).
    """
    if not client.wait_for_service(timeout_sec=timeout):
        raise TimeoutError(f"service {client.srv_name} not available")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        future = client.call_async(request)
        attempt_end = min(time.monotonic() + attempt_timeout, deadline)
        while not future.done() and time.monotonic() < attempt_end:
            if stop_requested is not None and stop_requested():
                client.remove_pending_request(future)
                return None
            time.sleep(0.02)
        if future.done():
            return future.result()
        client.remove_pending_request(future)
    raise TimeoutError(f"service {client.srv_name} did not answer in {timeout} s")
