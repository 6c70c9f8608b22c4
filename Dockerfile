# The service image: the web server (granian, serve.py) by default; the
# worker runs the same image with `python manage.py rqworker default`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/var/lib/crypto \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/crypto/metrics \
    PORT=8000

WORKDIR /app

# The runtime's requirements only: the embedded PostgreSQL and Redis of
# `make run` (requirements-dev.txt) are services of their own here.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

RUN useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
    && mkdir -p "$DATA_DIR" /staticfiles \
    && chown app:app "$DATA_DIR"

COPY wait-for-it.sh /usr/local/bin/wait-for-it.sh
RUN chmod 755 /usr/local/bin/wait-for-it.sh
COPY app/ /app/
COPY serve.py /app/serve.py

USER app
EXPOSE 8000

# `check --deploy` first, so that a misconfiguration shows in the log
# (its warnings do not stop the start; an error does).
CMD ["sh", "-c", "python manage.py check --deploy && exec python serve.py"]
