from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.permissions import AllowAny
from rest_framework.routers import APIRootView, DefaultRouter

from accounts.api import (
    CredentialEventView,
    CustomerViewSet,
    HouseDepositView,
    HouseLedgerView,
    HouseView,
    LedgerAuditView,
    TokenView,
)
from core.api import HealthView, PingView
from core.throttling import login_guarded
from monitoring.api import MetricsView
from orders.api import CryptoListView, OrderViewSet, PurchaseViewSet


class ApiRoot(APIRootView):
    """Every resource of the service. Log in (top right) as an operator to
    use them; `docs` is the interactive documentation of each endpoint,
    field and error."""

    # Links only, so open to anyone: a person starts here.
    permission_classes = [AllowAny]


# The API root lists these beside the router's own resources: a person
# starts there, and the price list is where an order starts.
ROOT_LINKS = {
    "crypto": "crypto-list",
    "customer": "customer-list",
    "order": "order-list",
    "purchase": "purchase-list",
    "house": "house",
    "ledger": "ledger-audit",
    "credential-events": "credential-events",
    "token": "token",
    "health": "health",
    "docs": "docs",
    "schema": "schema",
}


class Router(DefaultRouter):
    """Ids in paths are ASCII digits: ``/api/order/١/`` (an Arabic-Indic
    one) is an unknown path, not order 1, as ``int()`` would read it.
    The root lists every resource, not only the router's."""

    APIRootView = ApiRoot

    def get_api_root_view(self, api_urls=None):
        return self.APIRootView.as_view(api_root_dict=ROOT_LINKS)

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        lookup_field = getattr(viewset, "lookup_field", "pk")
        kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        value = getattr(viewset, "lookup_value_regex", "[0-9]+")
        return f"(?P<{lookup_prefix}{kwarg}>{value})"


router = Router()
router.register("customer", CustomerViewSet, basename="customer")
router.register("order", OrderViewSet, basename="order")
router.register("purchase", PurchaseViewSet, basename="purchase")

# The admin's "view site" leads to the browsable API, as `/` does.
admin.site.site_url = "/api/"
admin.site.site_header = "Crypto order service administration"
admin.site.site_title = "Crypto order service"

urlpatterns = [
    # A person who opens the service's address lands on the API's root.
    path("", RedirectView.as_view(url="/api/"), name="home"),
    # Browsers ask for /favicon.ico on every page that names no icon
    # (the admin's).
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("core/favicon.svg"), permanent=True),
    ),
    path("api/", include(router.urls)),
    path("api/crypto/", CryptoListView.as_view(), name="crypto-list"),
    path("api/house/", HouseView.as_view(), name="house"),
    path(
        "api/house/deposit/", HouseDepositView.as_view(), name="house-deposit"
    ),
    path("api/house/ledger/", HouseLedgerView.as_view(), name="house-ledger"),
    path("api/ledger/", LedgerAuditView.as_view(), name="ledger-audit"),
    path(
        "api/credential-events/",
        CredentialEventView.as_view(),
        name="credential-events",
    ),
    # Every login path under the same limits (core.throttling); the
    # token endpoint's name limit is its own DRF throttle.
    path(
        "api/token/",
        login_guarded(TokenView.as_view(), names=False),
        name="token",
    ),
    path("api/health/", HealthView.as_view(), name="health"),
    path("api/ping/", PingView.as_view(), name="ping"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # Its script from a URL of its own, not inline: the CSP allows no
        # inline script.
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="docs",
    ),
    path(
        "api-auth/login/",
        login_guarded(
            LoginView.as_view(template_name="rest_framework/login.html")
        ),
    ),
    path("admin/login/", login_guarded(admin.site.login)),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/django-rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "core.views_errors.bad_request"
handler403 = "core.views_errors.permission_denied"
handler404 = "core.views_errors.not_found"
handler500 = "core.views_errors.server_error"
