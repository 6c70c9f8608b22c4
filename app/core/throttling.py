"""Rate limits per principal, counted in Redis so that they hold across
every web worker process.

Each limit is ``N requests per period``, counted in a window that opens
at a principal's first request and closes one period later. The count is
Redis's atomic ``INCR`` on the connection of Django's cache
(``CACHES["default"]``), in one round trip: two processes never both
take the last request of a window, and a request costs a counter, not a
history of timestamps.

A limit protects the service; it must never stop it. When Redis cannot
be reached the throttles let every request through (fail open) and, like
the doorbell, skip Redis for a moment so that requests do not each wait
on a dead connection. Orders must still be taken while Redis is down.

Rates come from settings (``ORDER_RATE``, ``TOKEN_RATE``), read at each
request so that a test can change them; ``None`` turns a limit off.
"""

import functools
import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import JsonResponse
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from core.errors import ErrorCode, envelope
from core.redis_calls import Line, Script

logger = logging.getLogger(__name__)

# After a failed count, skip Redis for this long (in this process).
BREAKER_SECONDS = 2.0
_breaker_open_until = 0.0


# INCR the window's counter; the first request of a window sets when it
# ends; a counter that somehow has no end gets one.
_WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if count == 1 or ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
_WINDOW = Script(_WINDOW_SCRIPT)


def _digest(*parts):
    text = "\0".join(str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class WindowRateThrottle(SimpleRateThrottle):
    """A fixed window per key, opened by its first request; fails open.

    Subclasses name their ``scope``, the ``rate_setting`` to read and
    ``get_cache_key(request, view)``.
    """

    rate_setting = None
    cache_format = "throttle:%(scope)s:%(ident)s"

    def get_rate(self):
        return getattr(settings, self.rate_setting)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        global _breaker_open_until
        if time.monotonic() < _breaker_open_until:
            return True
        try:
            count, wait = self._count()
        except RedisError as exc:
            _breaker_open_until = time.monotonic() + BREAKER_SECONDS
            logger.warning("rate limit %s not counted (%s)", self.scope, exc)
            return True
        self._wait = wait
        return count <= self.num_requests

    def _count(self):
        """This request's number in its window, and (when over the limit)
        the seconds until the window closes."""
        backend = caches["default"]
        if isinstance(backend, RedisCache):
            count, ttl = self._count_in_redis(backend)
        else:
            count, ttl = self._count_in_cache(backend)
        if count <= self.num_requests:
            return count, None
        return count, max(ttl, 1)

    def _count_in_redis(self, backend):
        """One round trip, atomic (a Lua script): count this request,
        open the window if this is its first, read how long it has left.
        Sent on the cache's own connection of this thread
        (``core.redis_calls``): the cache's client costs more Python
        than the round trip."""
        key = backend.make_and_validate_key(self.key)
        cache = backend._cache
        line = getattr(cache, "_throttle_line", None)
        if line is None:
            line = cache._throttle_line = Line(
                lambda: cache.get_client(key, write=True)
            )
        count, ttl = _WINDOW.run(line, keys=[key], args=[self.duration])
        return count, ttl

    def _count_in_cache(self, backend):
        """Any other cache (one process's memory, in development): the
        same window through the cache API."""
        started_key = f"{self.key}:started"
        for _ in range(2):
            now = self.timer()
            if backend.add(self.key, 0, self.duration):
                backend.set(started_key, now, self.duration)
            try:
                count = backend.incr(self.key)
            except ValueError:
                continue  # the window closed between add and incr
            started = backend.get(started_key, now)
            return count, math.ceil(started + self.duration - now)
        return 1, self.duration

    def wait(self):
        return getattr(self, "_wait", None)


class OrderCreateThrottle(WindowRateThrottle):
    """Orders placed per principal (a customer, or an operator ordering
    for its customers): ``ORDER_RATE``."""

    scope = "order"
    rate_setting = "ORDER_RATE"

    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {
            "scope": self.scope,
            "ident": f"user:{request.user.pk}",
        }


class TokenThrottle(WindowRateThrottle):
    """Password attempts at ``POST /api/token/`` per client address and
    username: ``TOKEN_RATE``. Keyed on both, so that guessing one
    operator's password is slow, and one address guessing many names is
    limited per name without locking out the operator from elsewhere."""

    scope = "token"
    rate_setting = "TOKEN_RATE"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        # A DRF request's body, or a Django form login's.
        data = request.data if hasattr(request, "data") else request.POST
        username = data.get("username") if hasattr(data, "get") else None
        username = username if isinstance(username, str) else ""
        ident = _digest(self.get_ident(request), username.casefold())
        return self.cache_format % {"scope": self.scope, "ident": ident}


def login_throttled(view):
    """Django's form logins (the admin's, the browsable API's) under
    ``TOKEN_RATE`` too, sharing the token endpoint's counters: otherwise
    they would be a way around it to guess an operator's password."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        throttle = TokenThrottle()
        if not throttle.allow_request(request, None):
            wait = throttle.wait() or throttle.duration
            response = JsonResponse(
                envelope(
                    ErrorCode.THROTTLED,
                    f"Too many login attempts; try again in {wait} seconds.",
                ),
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper


def throttled_by(*throttle_classes):
    """Apply throttles to one handler of a view (a viewset's ``create``),
    after authentication and permissions, before the handler runs.

    DRF's ``throttle_classes`` apply to every action of a viewset; this
    limits only the one that writes.
    """

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(view, request, *args, **kwargs):
            waits = []
            for throttle_class in throttle_classes:
                throttle = throttle_class()
                if not throttle.allow_request(request, view):
                    waits.append(throttle.wait())
            if waits:
                known = [wait for wait in waits if wait is not None]
                view.throttled(request, max(known, default=None))
            return handler(view, request, *args, **kwargs)

        return wrapper

    return decorate
