"""The short path to Redis that the rate limit and the doorbell take:
commands as Redis reads them, Lua scripts that survive a flushed or
restarted Redis, and connections that come back after being dropped."""

import select
import uuid

import pytest
import redis
from django.conf import settings

from core.redis_calls import Line, Script, pack
from core.testing.live import free_port
from core.testing.waiting import wait_for


@pytest.fixture
def client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def key(client):
    name = f"test-redis-calls-{uuid.uuid4().hex}"
    yield name
    client.delete(name)


def test_pack_writes_resp_arrays_of_bulk_strings():
    assert pack("SET", "k", 12, b"\x00v") == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\n\x00v\r\n"
    )
    # Lengths count bytes, not characters.
    assert pack("GET", "é") == b"*2\r\n$3\r\nGET\r\n$2\r\n\xc3\xa9\r\n"


def test_commands_reach_the_clients_redis(client, key):
    line = Line(lambda: client)

    assert line.call(pack("SET", key, "7", "NX", "EX", 30)) is not None
    assert line.call(pack("SET", key, "8", "NX", "EX", 30)) is None
    assert client.get(key) == b"7"
    assert 0 < client.ttl(key) <= 30


def test_an_error_reply_raises_and_the_line_keeps_working(client, key):
    line = Line(lambda: client)
    client.set(key, "not a number")

    with pytest.raises(redis.ResponseError):
        line.call(pack("INCR", key))
    assert line.call(pack("GET", key)) == b"not a number"


def test_a_script_runs_again_after_redis_forgot_it(client, key):
    script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    line = Line(lambda: client)
    assert script.run(line, keys=[key], args=[2]) == 2

    client.script_flush()  # as after a restart of Redis

    assert script.run(line, keys=[key], args=[3]) == 5


def test_a_connection_the_server_closed_is_replaced_unseen(client, key):
    line = Line(lambda: client)
    line.call(pack("SET", key, "1"))
    old_id = line.call(pack("CLIENT", "ID"))
    assert client.client_kill_filter(_id=old_id)
    sock = line._local.connection._sock
    wait_for(lambda: select.select([sock], [], [], 0)[0], timeout=5)

    assert line.call(pack("GET", key)) == b"1"
    assert line.call(pack("CLIENT", "ID")) != old_id


def test_a_server_gone_raises_a_connection_error(key):
    port = free_port()
    dead = redis.Redis(port=port, socket_connect_timeout=1)
    line = Line(lambda: dead)

    with pytest.raises(redis.ConnectionError):
        line.call(pack("GET", key))
