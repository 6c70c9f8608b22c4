"""Admin helpers every app's ``admin`` module uses: a view-only
``ModelAdmin`` and links between admin pages. Nothing is registered
here."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html


class ReadOnlyAdmin(admin.ModelAdmin):
    """View-only: no add, no change, no delete, every field shown."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def admin_link(obj, text=None):
    """A link to ``obj``'s admin page, or a dash."""
    if obj is None:
        return "-"
    return admin_link_by_id(type(obj), obj.pk, text or str(obj))


def admin_link_by_id(model, pk, text, *, empty="-"):
    """A link to the admin page of ``model``'s row ``pk``, without
    loading the row; ``empty`` when there is no row."""
    if pk is None:
        return empty
    meta = model._meta
    url = reverse(
        f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk]
    )
    return format_html('<a href="{}">{}</a>', url, text)


def changelist_link(model, text, **filters):
    """A link to ``model``'s changelist, filtered by ``filters``."""
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, text)
