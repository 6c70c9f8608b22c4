"""The benchmark of the order service (issue #5): ``make bench``.

It starts the production web server (``python serve.py``: granian)
and RQ workers (``manage.py rqworker default``) against a database and a
Redis database of its own, seeds 1,000 customers, and runs phases:

- ping:    ``GET /api/ping/`` (DRF, no database): the ceiling.
- orders:  ``POST /api/order/``, a mix of small and large orders over five
           cryptos, at 1, 8, 32 and 64 connections.
- hot:     the same load, every order a small ABAN one: one hot pool.
- steady:  the mix at a constant offered rate (open loop).
- big:     the mix again, with 1,000,000 completed orders in the tables.
- burst:   2,000 orders in 30 s at the real exchange latency, 2 workers:
           exchange calls and the time until every order is completed.
- servers: granian vs gunicorn gthread and sync at 32 connections
           (opt-in).

``manage.py audit_ledger`` runs after every phase. A table is printed,
and JSON and a PNG plot are written under ``bench/results/``. See
``bench/README.md``.

Read it in this order: ``cli`` (the options and the run), ``stack`` (the
web server and the RQ workers under test), ``seed`` (the bench
database's state, through the app's models), ``load`` (wrk), the phases
(``phases``, ``burst``, ``steady``), and ``report`` (the table, the JSON
and the plot). ``processes`` reads CPU, memory and connections with
psutil; ``database`` makes the bench's database and sets Django up on
it; ``books`` reads it back; ``code`` snapshots the service's code;
``workload`` holds the prices and order mixes. ``bench/run.py`` is the
entry point.
"""
