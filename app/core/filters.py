"""Query-string filters of the list endpoints, read in one place: every
bad parameter is named in one 400, and ids are ASCII digits only."""

from core.errors import InvalidInput
from core.serializers import parse_id


class QueryFilters:
    """``filters = QueryFilters(request.query_params)``; each reader
    returns the parameter's value (None when absent or bad), and
    ``raise_if_bad()`` refuses the request naming every bad one."""

    def __init__(self, params):
        self.params = params
        self.errors = {}

    def id(self, name, *, message="Must be an id."):
        text = self.params.get(name)
        if not text:
            return None
        value = parse_id(text)
        if value is None:
            self.errors[name] = [message]
        return value

    def choice(self, name, choices):
        value = self.params.get(name)
        if not value:
            return None
        if value not in choices:
            self.errors[name] = [f"Must be one of: {', '.join(choices)}."]
            return None
        return value

    def raise_if_bad(self):
        if self.errors:
            raise InvalidInput(details=self.errors)
