"""Service calls that survive Fast DDS's discovery race (used by the demo client and the tests)."""
from __future__ import annotations

import time
from typing import Any, Callable


def call_with_retry(client, request, timeout: float = 10.0, attempt_timeout: float = 3.0,
                    stop_requested: Callable[[], bool] | None = None):
    """Call a service whose node another thread spins; re-send a request that got no answer; raise on timeout.
    ``stop_requested``: polled while waiting for the answer; when it says so the call is given up and None returned.

    ``wait_for_service`` only tells that the request topic matched; right after discovery the server's
    response writer may not yet have matched this client's reader, and that first response is then lost
    (a known Fast DDS discovery race). So a request that gets no answer within ``attempt_timeout`` is sent
    again, until ``timeout``. Only for idempotent services (a detection, not an arm motion).

    An answer to any of the requests sent is taken: a server that is merely slow (a first detection on a loaded
    machine) answers the first request while later ones wait in its queue; dropping the earlier requests would
    discard every answer that comes late. Each wait is twice the one before, so a slow server is not flooded.
    """
    if not client.wait_for_service(timeout_sec=timeout):
        raise TimeoutError(f"service {client.srv_name} not available")
    deadline = time.monotonic() + timeout
    pending, wait = [], attempt_timeout
    try:
        while time.monotonic() < deadline:
            pending.append(client.call_async(request))
            attempt_end = min(time.monotonic() + wait, deadline)
            wait *= 2
            while (answered := _first_done(pending)) is None and time.monotonic() < attempt_end:
                if stop_requested is not None and stop_requested():
                    return None
                time.sleep(0.02)
            if answered is not None:
                return answered.result()
        raise TimeoutError(f"service {client.srv_name} did not answer in {timeout} s")
    finally:
        # Every request this call sent, answered or not: an answered future's own clean-up is a done callback that
        # the spinning executor runs later, so without this the client may still list it when the call returns.
        for future in pending:
            client.remove_pending_request(future)


def _first_done(futures: list):
    return next((future for future in futures if future.done()), None)


def call_until_ready(client, request, ready: Callable[[Any], bool], timeout: float = 10.0,
                     attempt_timeout: float = 3.0, poll: float = 0.5):
    """Call as :func:`call_with_retry`, again every ``poll`` s while the answer is not ``ready`` (a server that
    answers "not yet", as a detector before the first surface reached it), until ``timeout``; returns the last
    answer. A surface latched by the TSDF node reaches each subscriber over its own DDS match, so a client that has
    seen it cannot tell that the detector has too."""
    deadline = time.monotonic() + timeout
    while True:
        answer = call_with_retry(client, request, timeout=max(deadline - time.monotonic(), 0.1),
                                 attempt_timeout=attempt_timeout)
        if ready(answer) or time.monotonic() + poll >= deadline:
            return answer
        time.sleep(poll)
