"""Pagination: a cursor over the id, so no page counts a large table."""

import re

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

_PAGE_SIZE = re.compile(r"[0-9]{1,9}", re.ASCII)
_ID = re.compile(r"[0-9]{1,19}", re.ASCII)


class Pagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        """``page_size`` in ASCII digits; anything else (``abc``, and
        ``١٢`` that ``int()`` would read as 12) gives the default."""
        text = request.query_params.get(self.page_size_query_param)
        if text is None or not _PAGE_SIZE.fullmatch(text):
            return self.page_size
        return super().get_page_size(request)

    def decode_cursor(self, request):
        """A cursor whose position is not an id (a forged one) is an
        invalid cursor, ``404`` like any other, not a ``500`` from the
        query."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            if not _ID.fullmatch(cursor.position):
                raise NotFound(self.invalid_cursor_message)
        return cursor
