"""Request parsers: JSON with exact decimals; forms only in the browser.

JSON numbers are parsed as ``Decimal`` so that ``1.0000000001`` arrives as
written, never through a float; an object that names a key twice is
refused. Arrays and objects nest at most
``MAX_JSON_DEPTH`` deep: deeper, Python's parser (and whatever walks the
result afterwards) would run out of recursion, a ``500``. Form bodies
are accepted only from a session-authenticated browser (the browsable
API, protected by CSRF); an API client sending a form gets ``415``.
"""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType

# No body of this API nests at all; a client's own envelope might, a
# little.
MAX_JSON_DEPTH = 32


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number")


def _object(pairs):
    """A JSON object, refused when it names a key twice: which of the two
    amounts a client meant is not for the service to guess."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} is given twice")
            seen.add(key)
    return found


def _depth(text):
    """How deep arrays and objects nest in ``text``, outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (LookupError, UnicodeDecodeError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
        # Counting brackets is cheap; only a body with many is walked.
        if (
            text.count("[") + text.count("{") > MAX_JSON_DEPTH
            and _depth(text) > MAX_JSON_DEPTH
        ):
            raise ParseError(
                f"Malformed JSON: nested deeper than {MAX_JSON_DEPTH}."
            )
        try:
            return json.loads(
                text,
                parse_float=Decimal,
                parse_constant=_refuse_constant,
                object_pairs_hook=_object,
            )
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc


def _session_browser(request):
    """A browser logged in with a session, and no API credentials.

    Asked of Django's request, not of DRF's authenticators: the session
    authenticator's CSRF check reads the form, which would ask again.
    CSRF itself is still enforced by ``SessionAuthentication``.
    """
    django_request = getattr(request, "_request", None)
    if django_request is None or "HTTP_AUTHORIZATION" in django_request.META:
        return False
    user = getattr(django_request, "user", None)
    return bool(user is not None and user.is_authenticated)


class _BrowserOnly:
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        if not _session_browser(request):
            raise UnsupportedMediaType(media_type)
        return super().parse(stream, media_type, parser_context)


class BrowsableFormParser(_BrowserOnly, parsers.FormParser):
    pass


class BrowsableMultiPartParser(_BrowserOnly, parsers.MultiPartParser):
    pass
