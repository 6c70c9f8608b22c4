"""Pagination: a cursor over the id, so no page counts a large table."""

from rest_framework.pagination import CursorPagination


class Pagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
