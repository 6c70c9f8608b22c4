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

Rates come from settings (``ORDER_RATE``, ``TOKEN_RATE``,
``LOGIN_ADDRESS_RATE``), read at each request so that a test can change
them; ``None`` turns a limit off.

Logins cost a password hash (half a second of a core), also for names
that do not exist. Every login path (``POST /api/token/``, the admin's
and the browsable API's login forms) goes through ``login_guarded``:
before any hash, each client address may have one login in progress
and ``LOGIN_ADDRESS_RATE`` attempts per period, whatever the names; then
each address and name ``TOKEN_RATE``, with the name as authentication
resolves it (``login_name``).
"""

import functools
import hashlib
import ipaddress
import logging
import time
import unicodedata

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
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
    # surrogatepass: a name may hold a lone surrogate ("\ud800" in JSON),
    # which the serializer refuses after the limits are counted.
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


def login_name(username):
    """The key of a login name: every spelling that authentication takes
    for the same user gives the same key.

    Django's login forms strip the name and apply NFKC (``UsernameField``),
    DRF strips it (``CharField``); the user is then looked up exactly.
    This applies both, and folds case on top, so that ``" operator"``,
    ``"ｏｐｅｒａｔｏｒ"`` and ``"Operator"`` count as one name.
    """
    if not isinstance(username, str):
        return ""
    name = unicodedata.normalize("NFKC", username.strip()).strip()
    return unicodedata.normalize("NFKC", name.casefold())


def client_address(ident):
    """The address a limit counts: an IPv4 address (also when written as
    an IPv4-mapped IPv6 one), or the /64 network of an IPv6 address,
    which one client holds whole. Anything else is kept as it is."""
    try:
        address = ipaddress.ip_address(ident.strip())
    except (AttributeError, ValueError):
        return str(ident)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


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
        the seconds until the window closes: one round trip, atomic (a
        Lua script) on the cache's Redis, sent on a connection of this
        thread's own (``core.redis_calls``)."""
        backend = caches["default"]
        if not isinstance(backend, RedisCache):
            raise ImproperlyConfigured(
                "Rate limits count in Redis: CACHES['default'] must be "
                "Django's RedisCache."
            )
        key = backend.make_and_validate_key(self.key)
        cache = backend._cache
        line = getattr(cache, "_throttle_line", None)
        if line is None:
            line = cache._throttle_line = Line(
                lambda: cache.get_client(key, write=True)
            )
        count, ttl = _WINDOW.run(line, keys=[key], args=[self.duration])
        if count <= self.num_requests:
            return count, None
        return count, max(ttl, 1)

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
    """Password attempts per client address and login name, on every
    login path: ``TOKEN_RATE``. Keyed on both, so that guessing one
    operator's password is slow, and one address guessing many names is
    limited per name without locking out the operator from elsewhere
    (``LoginAddressThrottle`` limits the address whatever the names)."""

    scope = "token"
    rate_setting = "TOKEN_RATE"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        # A DRF request's body, or a Django form login's.
        data = request.data if hasattr(request, "data") else request.POST
        username = data.get("username") if hasattr(data, "get") else None
        ident = _digest(
            client_address(self.get_ident(request)), login_name(username)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginAddressThrottle(WindowRateThrottle):
    """Every login attempt of a client address, whatever the name:
    ``LOGIN_ADDRESS_RATE``. Made-up names are each new to
    ``TokenThrottle``; this is what stops one address from making the
    service hash passwords without end."""

    scope = "login-address"
    rate_setting = "LOGIN_ADDRESS_RATE"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        ident = _digest(client_address(self.get_ident(request)))
        return self.cache_format % {"scope": self.scope, "ident": ident}


# A login in progress holds this key for its address; it expires on its
# own if the process dies before it lets it go.
_IN_PROGRESS_SECONDS = 30


def _login_begin(request):
    """The key of this address's login in progress, or None when another
    one is in progress. Fails open when Redis is down."""
    global _breaker_open_until
    if time.monotonic() < _breaker_open_until:
        return ""
    ident = _digest(client_address(LoginAddressThrottle().get_ident(request)))
    key = f"throttle:login-in-progress:{ident}"
    try:
        if caches["default"].add(key, 1, _IN_PROGRESS_SECONDS):
            return key
    except RedisError as exc:
        _breaker_open_until = time.monotonic() + BREAKER_SECONDS
        logger.warning("login in progress not recorded (%s)", exc)
        return ""
    return None


def _login_end(key):
    if not key:
        return
    try:
        caches["default"].delete(key)
    except RedisError as exc:
        logger.warning("login in progress not cleared (%s)", exc)


def _too_many_logins(wait):
    response = JsonResponse(
        envelope(
            ErrorCode.THROTTLED,
            f"Too many login attempts; try again in {wait} seconds.",
        ),
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def login_guarded(view, *, names=True):
    """Every login path under the same limits, checked before any
    password is hashed: one login at a time per client address,
    ``LOGIN_ADDRESS_RATE`` per address, and (with ``names``, for Django's
    form logins; the token endpoint's DRF throttle does it for JSON)
    ``TOKEN_RATE`` per address and name, with the token endpoint's
    counters: otherwise a form would be a way around them."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        address = LoginAddressThrottle()
        if not address.allow_request(request, None):
            return _too_many_logins(address.wait() or address.duration)
        key = _login_begin(request)
        if key is None:
            return _too_many_logins(1)
        try:
            if names:
                throttle = TokenThrottle()
                if not throttle.allow_request(request, None):
                    return _too_many_logins(
                        throttle.wait() or throttle.duration
                    )
            return view(request, *args, **kwargs)
        finally:
            _login_end(key)

    return wrapper
