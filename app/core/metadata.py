"""What ``OPTIONS`` says a request may send."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import override_method


class Metadata(SimpleMetadata):
    """DRF's ``SimpleMetadata``, with each method described by the
    serializer of the action it maps to, as the browsable API's forms
    are: ``OPTIONS /api/order/`` lists what a POST takes (``crypto``,
    ``amount``, ``customer_id``), where DRF lists the order it answers,
    every field read-only."""

    def determine_actions(self, request, view):
        actions = {}
        for method in {"PUT", "POST"} & set(view.allowed_methods):
            with override_method(view, request, method) as cloned:
                try:
                    view.check_permissions(cloned)
                    if method == "PUT" and hasattr(view, "get_object"):
                        view.get_object()
                except (exceptions.APIException, PermissionDenied, Http404):
                    continue
                serializer = view.get_serializer()
                actions[method] = self.get_serializer_info(serializer)
        return actions
