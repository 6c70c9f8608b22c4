"""The fields docs/api.md promises in each kind of response body: the
schema must describe them, and the API must answer them."""

CUSTOMER_FIELDS = {"id", "name", "balance"}
ORDER_FIELDS = {
    "id",
    "customer_id",
    "crypto",
    "amount",
    "price",
    "total",
    "status",
    "purchase_id",
    "created_at",
    "updated_at",
}
PURCHASE_FIELDS = {
    "id",
    "crypto",
    "amount",
    "total",
    "status",
    "client_order_id",
    "attempts",
    "order_ids",
    "created_at",
    "completed_at",
}
LEDGER_ENTRY_FIELDS = {
    "id",
    "kind",
    "amount",
    "balance_after",
    "order_id",
    "created_at",
}
