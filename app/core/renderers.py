"""The browsable API as a person meets it: after a refusal, the form
comes back with what was typed and each field's message beside it."""

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.renderers import BrowsableAPIRenderer as DrfRenderer
from rest_framework.utils.serializer_helpers import ReturnDict


def _field_messages(details, fields):
    """The envelope's ``details`` that name a field of the form, as lists
    of messages (``insufficient_funds`` details name no field)."""
    messages = {}
    for name, value in (details or {}).items():
        if name not in fields:
            continue
        if isinstance(value, (list, tuple)):
            messages[name] = [str(item) for item in value]
        else:
            messages[name] = [str(value)]
    return messages


class BrowsableAPIRenderer(DrfRenderer):
    """DRF's renderer, but a form whose POST was refused (an error
    envelope: DRF's own serializer errors never reach the page, the
    exception handler replaces them) is rendered bound to the request's
    data, with the field errors of the envelope's ``details``."""

    def get_rendered_html_form(self, data, view, method, request):
        error = data.get("error") if isinstance(data, dict) else None
        if error and request.method == method:
            bound = self._refused_form(error, view, request)
            if bound is not None:
                data = ReturnDict(data, serializer=bound)
        return super().get_rendered_html_form(data, view, method, request)

    @staticmethod
    def _refused_form(error, view, request):
        try:
            if getattr(view, "get_serializer", None):
                serializer = view.get_serializer(data=request.data)
            elif getattr(view, "serializer_class", None):
                serializer = view.serializer_class(data=request.data)
            else:
                return None
        except Exception:  # noqa: BLE001 - then DRF's empty form
            return None
        if getattr(serializer, "many", False):
            return None
        serializer.is_valid()
        messages = _field_messages(error.get("details"), serializer.fields)
        serializer._errors = {**serializer._errors, **messages}
        return serializer


def browsable_page_only(request):
    """A GET that only a person in the browsable API may make: it shows
    the page with a POST-only endpoint's form (the admin links there),
    where DRF would show a 405 above the form. API clients get the 405
    as before; the schema does not list the GET."""
    if getattr(request.accepted_renderer, "format", None) != "api":
        raise MethodNotAllowed(request.method)
