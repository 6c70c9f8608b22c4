"""Who is asking: an operator (staff user) or a customer.

These helpers are the one place that tells the two apart; every view
scopes its queryset and checks its actions through them.
"""

from rest_framework.permissions import BasePermission


def principal_customer(user):
    """The Customer the request acts as, or None for operators."""
    if user is None or not user.is_authenticated or user.is_staff:
        return None
    return getattr(user, "customer", None)


def is_operator(user):
    return bool(user and user.is_authenticated and user.is_staff)


class IsOperator(BasePermission):
    message = "Only operators may do this."

    def has_permission(self, request, view):
        return is_operator(request.user)


class IsOperatorOrCustomer(BasePermission):
    """Staff, or a user that is a customer; nobody else."""

    def has_permission(self, request, view):
        user = request.user
        return is_operator(user) or principal_customer(user) is not None
