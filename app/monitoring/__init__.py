"""Operating the service: Prometheus metrics (``/metrics``) in
prometheus-client's multiprocess mode, and the worker's heartbeat.

See docs/operations.md for what each metric means and the alerts on
them (deploy/prometheus/).
"""
