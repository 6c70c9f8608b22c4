"""Pagination: a cursor over the id, so no page counts a large table."""

import re

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

_PAGE_SIZE = re.compile(r"[0-9]{1,9}", re.ASCII)
_ID = re.compile(r"[0-9]{1,19}", re.ASCII)


class Pagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    page_size_query_description = (
        "Results per page, 1 to 200 (a larger number gives 200); 50 if "
        "omitted."
    )
    cursor_query_description = (
        "The page to read: the cursor from the `next` or `previous` link."
    )
    invalid_cursor_message = (
        "Invalid cursor: use the `next` or `previous` link of a page."
    )
    invalid_page_size_message = "A whole number from 1 to 200."

    def get_page_size(self, request):
        """``page_size`` in ASCII digits, at least 1; anything else
        (``0``, ``abc``, and ``١٢`` that ``int()`` would read as 12) is
        ``400``, not silently the default page. Above the maximum it is
        the maximum, as DRF does."""
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        if not _PAGE_SIZE.fullmatch(text) or int(text) < 1:
            raise ValidationError(
                {self.page_size_query_param: [self.invalid_page_size_message]}
            )
        return super().get_page_size(request)

    def decode_cursor(self, request):
        """A bad cursor (a forged position, or not a cursor at all) is a
        bad query parameter, ``400`` naming it: a ``404`` would read as a
        wrong URL."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            cursor = None
            valid = False
        else:
            valid = cursor is None or cursor.position is None
            valid = valid or bool(_ID.fullmatch(cursor.position))
        if not valid:
            raise ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            )
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_paginated_response_schema(self, schema):
        """Every page has ``next`` and ``previous`` (null at either end):
        required, so that a generated client need not test for them."""
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["next", "previous", "results"]
        return paginated
