"""Django's error views (handler404 and friends) in the JSON envelope."""

from core.errors import ErrorCode, json_error


def bad_request(request, exception=None):
    return json_error(400, ErrorCode.INVALID, "Bad request.")


def permission_denied(request, exception=None):
    return json_error(
        403,
        ErrorCode.PERMISSION_DENIED,
        "You do not have permission to perform this action.",
    )


def not_found(request, exception=None):
    return json_error(404, ErrorCode.NOT_FOUND, "Not found.")


def server_error(request):
    return json_error(500, ErrorCode.SERVER_ERROR, "Internal server error.")


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a forged form post (the admin's or the API's
    login) is refused in the envelope too, not with Django's page."""
    return json_error(
        403,
        ErrorCode.PERMISSION_DENIED,
        f"CSRF verification failed: {reason}",
    )
