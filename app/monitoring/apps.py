import os

from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed


class MonitoringConfig(AppConfig):
    name = "monitoring"

    def ready(self):
        from monitoring import multiproc

        # Before this process makes its first metric (monitoring.metrics).
        multiproc.prepare(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        import monitoring.metrics  # noqa: F401

        user_login_failed.connect(
            _login_failed, dispatch_uid="monitoring.login_failed"
        )


def _login_failed(sender, **kwargs):
    from monitoring.metrics import FAILED_LOGINS

    FAILED_LOGINS.inc()
