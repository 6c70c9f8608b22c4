"""Content negotiation: DRF's, with the commonest answer known ahead."""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's ``DefaultContentNegotiation``, except that a request with no
    ``Accept`` header (or ``*/*``, or exactly the first renderer's media
    type) and no format override gets the first renderer without the
    accept list being parsed and ranked: what DRF would choose, for the
    requests that API clients and the order endpoint's load send. Any
    other request goes through DRF's own negotiation."""

    def select_renderer(self, request, renderers, format_suffix=None):
        first = renderers[0] if renderers else None
        if (
            first is not None
            and not format_suffix
            and "*" not in first.media_type
            and api_settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            if accept == "*/*":
                return first, first.media_type
            if accept == first.media_type:
                return first, accept
        return super().select_renderer(request, renderers, format_suffix)
