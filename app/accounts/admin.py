"""The operators' view of customers, their ledger and API credentials.

Read-only: a balance changes only through the deposit service (the
browsable API's deposit form, linked from each customer), never by
editing a row, so the ledger always explains the balance.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import (
    ApiToken,
    CredentialEvent,
    Customer,
    House,
    HouseHolding,
    HouseLedgerEntry,
    LedgerEntry,
)
from core.admin import (
    ReadOnlyAdmin,
    admin_link,
    admin_link_by_id,
    changelist_link,
)
from orders.models import Order, Purchase


def actor_text(row):
    """Who did it, as an operator reads it: the user and the token their
    request carried, or the service itself."""
    if row.actor_user_id is None:
        return "the service (worker)"
    user = row.actor_user
    customer = getattr(user, "customer", None)
    who = f"customer {customer}" if customer else f"operator {user}"
    if row.actor_token_id is None:
        return f"{who}, browser session"
    return f"{who}, token {row.actor_token.prefix}…"


@admin.register(Customer)
class CustomerAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "balance", "created_at", "ledger_link"]
    list_display_links = ["id", "name"]
    list_filter = ["created_at"]
    search_fields = ["=id", "name"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "name",
        "balance",
        "created_at",
        "ledger_link",
        "orders_link",
        "deposit_link",
        "api_link",
    ]
    readonly_fields = fields

    @admin.display(description="ledger")
    def ledger_link(self, customer):
        return changelist_link(
            LedgerEntry, "ledger entries", customer__id__exact=customer.pk
        )

    @admin.display(description="orders")
    def orders_link(self, customer):
        return changelist_link(
            Order, "orders", customer__id__exact=customer.pk
        )

    @admin.display(description="deposit")
    def deposit_link(self, customer):
        url = reverse("customer-deposit", args=[customer.pk])
        return format_html(
            '<a href="{}">deposit through the API</a> (the only way a '
            "balance changes, with its ledger entry)",
            url,
        )

    @admin.display(description="in the API")
    def api_link(self, customer):
        url = reverse("customer-detail", args=[customer.pk])
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "customer_link",
        "kind",
        "amount",
        "balance_after",
        "order_link",
        "actor",
        "created_at",
    ]
    list_filter = ["kind", "actor_user__is_staff", "created_at"]
    search_fields = [
        "=id",
        "=customer__id",
        "customer__name",
        "=order__id",
        "actor_user__username",
        "actor_token__prefix",
    ]
    list_select_related = [
        "customer",
        "actor_user__customer",
        "actor_token",
    ]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "customer_link",
        "kind",
        "amount",
        "balance_after",
        "order_link",
        "actor",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="by")
    def actor(self, entry):
        return actor_text(entry)

    @admin.display(description="customer", ordering="customer")
    def customer_link(self, entry):
        return admin_link(entry.customer)

    @admin.display(description="order", ordering="order")
    def order_link(self, entry):
        return admin_link_by_id(
            Order, entry.order_id, f"order #{entry.order_id}"
        )


@admin.register(House)
class HouseAdmin(ReadOnlyAdmin):
    """The broker's own account: read-only, as a customer's is."""

    list_display = ["__str__", "balance", "ledger_link", "holdings_link"]
    fields = [
        "balance",
        "ledger_link",
        "holdings_link",
        "deposit_link",
        "api_link",
    ]
    readonly_fields = fields

    @admin.display(description="ledger")
    def ledger_link(self, house):
        return changelist_link(HouseLedgerEntry, "house ledger entries")

    @admin.display(description="holdings")
    def holdings_link(self, house):
        return changelist_link(HouseHolding, "house holdings")

    @admin.display(description="deposit")
    def deposit_link(self, house):
        return format_html(
            '<a href="{}">deposit through the API</a> (the only way the '
            "house's balance grows, with its ledger entry)",
            reverse("house-deposit"),
        )

    @admin.display(description="in the API")
    def api_link(self, house):
        url = reverse("house")
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(HouseLedgerEntry)
class HouseLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "amount",
        "balance_after",
        "purchase_link",
        "actor",
        "created_at",
    ]
    list_filter = ["kind", "created_at"]
    search_fields = [
        "=id",
        "=purchase__id",
        "actor_user__username",
        "actor_token__prefix",
    ]
    list_select_related = ["actor_user__customer", "actor_token"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = list_display
    readonly_fields = fields

    @admin.display(description="by")
    def actor(self, entry):
        return actor_text(entry)

    @admin.display(description="purchase", ordering="purchase")
    def purchase_link(self, entry):
        return admin_link_by_id(
            Purchase, entry.purchase_id, f"purchase #{entry.purchase_id}"
        )


@admin.register(HouseHolding)
class HouseHoldingAdmin(ReadOnlyAdmin):
    list_display = ["crypto", "amount", "spent"]
    ordering = ["crypto"]
    fields = list_display
    readonly_fields = fields


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """Only the key's first characters are shown; the digest never is."""

    list_display = [
        "key_prefix",
        "user",
        "role",
        "created_at",
        "revoked_at",
        "active",
    ]
    list_filter = [
        "user__is_staff",
        ("revoked_at", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_fields = ["prefix", "user__username", "user__customer__name"]
    list_select_related = ["user", "user__customer"]
    ordering = ["-id"]
    fields = [
        "key_prefix",
        "user",
        "role",
        "created_at",
        "revoked_at",
        "active",
    ]
    readonly_fields = fields

    @admin.display(description="key", ordering="prefix")
    def key_prefix(self, token):
        return f"{token.prefix}…"

    @admin.display(description="role", ordering="user__is_staff")
    def role(self, token):
        if token.user.is_staff:
            return "operator"
        customer = getattr(token.user, "customer", None)
        return f"customer {customer}" if customer else "user"

    @admin.display(description="active", boolean=True)
    def active(self, token):
        return token.revoked_at is None and token.user.is_active


@admin.register(CredentialEvent)
class CredentialEventAdmin(ReadOnlyAdmin):
    """Keys and tokens created and revoked, and who did it."""

    list_display = [
        "id",
        "kind",
        "subject",
        "token_prefix",
        "actor",
        "created_at",
    ]
    list_filter = ["kind", "created_at"]
    search_fields = [
        "subject__username",
        "subject__customer__name",
        "token__prefix",
        "actor_user__username",
        "actor_token__prefix",
    ]
    list_select_related = [
        "subject",
        "token",
        "actor_user__customer",
        "actor_token",
    ]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = list_display
    readonly_fields = fields

    @admin.display(description="token")
    def token_prefix(self, event):
        return f"{event.token.prefix}…" if event.token_id else "every key"

    @admin.display(description="by")
    def actor(self, event):
        return actor_text(event)
