#!/bin/sh
# wait-for-it.sh: wait until a TCP host:port accepts connections.
#
#   wait-for-it.sh host:port [-t timeout] [-s] [-q] [-- command args...]
#
#   -t, --timeout=N  give up after N seconds (default 15; 0 waits forever)
#   -s, --strict     run the command only if the port answered
#   -q, --quiet      no status messages
#   -- command args  run (exec) this when done
#
# Exit status: 0 when the port answered (or the command's status), 124 on
# timeout. POSIX sh; the probe uses nc, bash's /dev/tcp or python3,
# whichever is present.

cmdname=${0##*/}
TIMEOUT=15
STRICT=0
QUIET=0
HOST=
PORT=

echoerr() {
    if [ "$QUIET" -ne 1 ]; then printf '%s\n' "$*" 1>&2; fi
}

usage() {
    cat <<USAGE >&2
Usage:
    $cmdname host:port [-t timeout] [-s] [-q] [-- command args]
    -h HOST | --host=HOST       host or IP to test
    -p PORT | --port=PORT       TCP port to test
    -t N | --timeout=N          timeout in seconds, 0 for none (default 15)
    -s | --strict               run the command only if the test succeeds
    -q | --quiet                no status messages
    -- COMMAND ARGS             command to execute after the test
USAGE
    exit 1
}

probe() {
    if command -v nc >/dev/null 2>&1; then
        nc -z -w 1 "$HOST" "$PORT" >/dev/null 2>&1
    elif command -v bash >/dev/null 2>&1; then
        bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$PORT" >/dev/null 2>&1
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' \
            "$HOST" "$PORT" >/dev/null 2>&1
    else
        echoerr "$cmdname: no nc, bash or python3 to test the port"
        exit 1
    fi
}

wait_for() {
    if [ "$TIMEOUT" -gt 0 ]; then
        echoerr "$cmdname: waiting $TIMEOUT seconds for $HOST:$PORT"
    else
        echoerr "$cmdname: waiting for $HOST:$PORT without a timeout"
    fi
    start=$(date +%s)
    while :; do
        if probe; then
            end=$(date +%s)
            echoerr "$cmdname: $HOST:$PORT is available after" \
                "$((end - start)) seconds"
            return 0
        fi
        now=$(date +%s)
        if [ "$TIMEOUT" -gt 0 ] && [ $((now - start)) -ge "$TIMEOUT" ]; then
            echoerr "$cmdname: timeout occurred after waiting $TIMEOUT" \
                "seconds for $HOST:$PORT"
            return 124
        fi
        sleep 1
    done
}

while [ $# -gt 0 ]; do
    case "$1" in
        *:*)
            HOST=${1%:*}
            PORT=${1##*:}
            shift
            ;;
        -h)
            [ $# -ge 2 ] || usage
            HOST=$2
            shift 2
            ;;
        --host=*)
            HOST=${1#*=}
            shift
            ;;
        -p)
            [ $# -ge 2 ] || usage
            PORT=$2
            shift 2
            ;;
        --port=*)
            PORT=${1#*=}
            shift
            ;;
        -t)
            [ $# -ge 2 ] || usage
            TIMEOUT=$2
            shift 2
            ;;
        --timeout=*)
            TIMEOUT=${1#*=}
            shift
            ;;
        -s | --strict)
            STRICT=1
            shift
            ;;
        -q | --quiet)
            QUIET=1
            shift
            ;;
        --)
            shift
            break
            ;;
        --help)
            usage
            ;;
        *)
            echoerr "Unknown argument: $1"
            usage
            ;;
    esac
done

if [ -z "$HOST" ] || [ -z "$PORT" ]; then
    echoerr "Error: you need to provide a host and port to test."
    usage
fi
case "$PORT$TIMEOUT" in
    *[!0-9]*)
        echoerr "Error: port and timeout must be numbers."
        usage
        ;;
esac

wait_for
RESULT=$?

if [ $# -gt 0 ]; then
    if [ "$RESULT" -ne 0 ] && [ "$STRICT" -eq 1 ]; then
        echoerr "$cmdname: strict mode, refusing to execute the command"
        exit "$RESULT"
    fi
    exec "$@"
fi
exit "$RESULT"
