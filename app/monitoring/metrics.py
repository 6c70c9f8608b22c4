"""The service's counters and histograms, written where things happen.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by settings) an
increment is a write into this process's memory-mapped file: no round
trip, no system call. The gauges that read the database or Redis are
computed when ``/metrics`` is scraped (``monitoring.collector``).

Labels take a few fixed values only (a strategy, an outcome, an HTTP
method, a route pattern, a status code), never an id.
"""

from prometheus_client import Counter, Histogram, values

from monitoring import multiproc

# Work horses write as their worker (monitoring.multiproc); every metric
# below is made with this value class.
values.ValueClass = values.MultiProcessValue(multiproc.writer_id)

NAMESPACE = "broker"

# Seconds; an order answers in milliseconds, an exchange call in seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
EXCHANGE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, view and status.",
    ["method", "view", "status"],
    namespace=NAMESPACE,
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request reaching Django to its response, by method "
    "and view.",
    ["method", "view"],
    namespace=NAMESPACE,
    buckets=REQUEST_BUCKETS,
)

STRATEGIES = ("small", "large")
ORDER_OUTCOMES = ("placed", "insufficient_funds")
ORDERS = Counter(
    "orders",
    "Orders asked for by strategy (small: pooled; large: a purchase of "
    "its own) and outcome.",
    ["strategy", "outcome"],
    namespace=NAMESPACE,
)
REFUND_REASONS = ("purchase_failed", "order_cancelled")
REFUNDS = Counter(
    "order_refunds",
    "Orders refunded to their customer, by reason.",
    ["reason"],
    namespace=NAMESPACE,
)

EXCHANGE_OUTCOMES = ("filled", "rejected", "unavailable", "timeout", "error")
EXCHANGE_CALLS = Counter(
    "exchange_calls",
    "Purchase calls to the exchange, by outcome (error: a bug, not an "
    "answer of the exchange).",
    ["outcome"],
    namespace=NAMESPACE,
)
EXCHANGE_CALL_DURATION = Histogram(
    "exchange_call_duration_seconds",
    "How long a purchase call to the exchange took, whatever its outcome.",
    namespace=NAMESPACE,
    buckets=EXCHANGE_BUCKETS,
)
PURCHASE_OUTCOMES = ("completed", "failed")
PURCHASES_FINISHED = Counter(
    "purchases_finished",
    "Exchange purchases that ended, by status (failed ones are refunded).",
    ["status"],
    namespace=NAMESPACE,
)
PURCHASE_RETRIES = Counter(
    "purchase_retries",
    "Purchases put back in the queue after a transient exchange failure.",
    namespace=NAMESPACE,
)

RING_OUTCOMES = ("rung", "skipped", "failed")
DOORBELL_RINGS = Counter(
    "doorbell_rings",
    "Doorbell rings after a commit: rung (a job enqueued), skipped (a "
    "job was waiting already) or failed (Redis unreachable; the sweeper "
    "rings again).",
    ["outcome"],
    namespace=NAMESPACE,
)
SWEEPER_RERINGS = Counter(
    "sweeper_rerung_purchases",
    "Purchases the sweeper rang again (a lost ring, a retry's backoff "
    "over, or a dead worker's lease run out).",
    namespace=NAMESPACE,
)
SWEEPER_ERRORS = Counter(
    "sweeper_errors",
    "Sweeps that failed (the database or Redis unreachable).",
    namespace=NAMESPACE,
)
HOUSE_TOP_UPS = Counter(
    "house_top_ups",
    "Pools flushed by the bounded wait with the house paying the rest.",
    namespace=NAMESPACE,
)

IDEMPOTENT_REPLAYS = Counter(
    "idempotent_replays",
    "Requests answered with the stored response of an earlier one with "
    "the same Idempotency-Key.",
    namespace=NAMESPACE,
)
THROTTLED = Counter(
    "throttled_requests",
    "Requests refused by a rate limit (429), by view.",
    ["view"],
    namespace=NAMESPACE,
)
FAILED_LOGINS = Counter(
    "failed_logins",
    "Logins (token endpoint, browsable API, admin) with a wrong name or "
    "password.",
    namespace=NAMESPACE,
)

# The children every code path uses, made once: a series exists (at 0)
# from the start, which rate() and the alerts need, and an increment
# looks nothing up.
_ORDERS = {
    (strategy, outcome): ORDERS.labels(strategy, outcome)
    for strategy in STRATEGIES
    for outcome in ORDER_OUTCOMES
}
_REFUNDS = {reason: REFUNDS.labels(reason) for reason in REFUND_REASONS}
_EXCHANGE = {o: EXCHANGE_CALLS.labels(o) for o in EXCHANGE_OUTCOMES}
_FINISHED = {s: PURCHASES_FINISHED.labels(s) for s in PURCHASE_OUTCOMES}
_RINGS = {o: DOORBELL_RINGS.labels(o) for o in RING_OUTCOMES}


def order_counted(strategy, outcome: str) -> None:
    """``strategy``: the strategy object that wrote (or refused) it."""
    name = "small" if type(strategy).__name__.startswith("Small") else "large"
    _ORDERS[name, outcome].inc()


def refunds_counted(reason: str, orders: int = 1) -> None:
    _REFUNDS[reason].inc(orders)


def exchange_call_counted(outcome: str, seconds: float) -> None:
    _EXCHANGE[outcome].inc()
    EXCHANGE_CALL_DURATION.observe(seconds)


def purchase_finished(status: str) -> None:
    _FINISHED[status].inc()


def ring_counted(outcome: str) -> None:
    _RINGS[outcome].inc()
