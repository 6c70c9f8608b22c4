"""Counts and times every HTTP request, by method, view and status;
counts the rate-limited ones and the idempotent replays."""

import time

from core.idempotency import REPLAYED_HEADER
from monitoring.metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    IDEMPOTENT_REPLAYS,
    THROTTLED,
)

_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
)
# A path that matches no URL pattern: the label must not carry it.
UNMATCHED = "unmatched"


class RequestMetricsMiddleware:
    """Outermost, so that it sees the answer every other layer gave
    (a 500 included). The view is the URL pattern's name
    (``order-list``, ``order-detail``), else the pattern itself, never
    the path: ids stay out of the labels."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._children = {}

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = request.resolver_match
        view = UNMATCHED if match is None else match.url_name or match.route
        method = request.method if request.method in _METHODS else "other"
        key = (method, view, response.status_code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                HTTP_REQUESTS.labels(method, view, str(key[2])),
                HTTP_REQUEST_DURATION.labels(method, view),
            )
        children[0].inc()
        children[1].observe(elapsed)
        if key[2] == 429:
            THROTTLED.labels(view).inc()
        # Counted from the answer, so that core.idempotency needs no app.
        if response.get(REPLAYED_HEADER) == "true":
            IDEMPOTENT_REPLAYS.inc()
        return response
