"""Request parsers: JSON with exact decimals; forms only in the browser.

JSON numbers are parsed as ``Decimal`` so that ``1.0000000001`` arrives as
written, never through a float. Form bodies are accepted only from a
session-authenticated browser (the browsable API, protected by CSRF);
an API client sending a form gets ``415``.
"""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(
                decoded,
                parse_float=Decimal,
                parse_constant=_refuse_constant,
            )
        except (ValueError, UnicodeDecodeError) as exc:
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
