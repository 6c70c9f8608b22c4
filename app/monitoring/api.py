"""``GET /metrics``: the Prometheus exposition of every process of this
machine's service (web processes and workers sharing the multiprocess
directory), with the state read at scrape time.

Not public: operators only (their token or a staff session), and the
scraper, with ``METRICS_TOKEN`` as a bearer token. The scraper has a
credential of its own because an operator's token expires after a
working day and may do anything an operator does, while this one reads
metrics and nothing else; and because it needs no database to check,
``/metrics`` still answers, with ``broker_database_up 0``, when
PostgreSQL is down.
"""

import hmac
import os

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.authentication import (
    BaseAuthentication,
    get_authorization_header,
)
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from accounts.permissions import is_operator
from monitoring.collector import StateCollector


class Scraper:
    """Who presented ``METRICS_TOKEN``: may read metrics, nothing else."""

    is_authenticated = True
    is_staff = False
    is_active = True
    pk = None


class MetricsTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        expected = settings.METRICS_TOKEN
        header = get_authorization_header(request).split()
        if not expected or len(header) != 2:
            return None
        if header[0].lower() != self.keyword:
            return None
        if not hmac.compare_digest(header[1], expected.encode()):
            return None
        return Scraper(), None

    def authenticate_header(self, request):
        return "Token"


class IsOperatorOrScraper(BasePermission):
    message = "Only operators may read the metrics."

    def has_permission(self, request, view):
        return isinstance(request.user, Scraper) or is_operator(request.user)


class JsonErrors(BaseContentNegotiation):
    """The metrics are text; an error is the JSON envelope whatever the
    scraper accepts (Prometheus asks for text/plain)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def exposition() -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, os.environ["PROMETHEUS_MULTIPROC_DIR"])
    registry.register(StateCollector())
    return generate_latest(registry)


class MetricsView(APIView):
    authentication_classes = [
        MetricsTokenAuthentication,
        *APIView.authentication_classes,
    ]
    permission_classes = [IsOperatorOrScraper]
    content_negotiation_class = JsonErrors

    @extend_schema(exclude=True)
    def get(self, request):
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
