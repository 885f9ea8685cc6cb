#!/usr/bin/env bash
# Run benchmark scenarios against one Engine.IO server kind.
#
#   bench/run.sh SERVER [SCENARIO...]
#
# SERVER:   pyeio-eventlet | pyeio-threading | node-engineio | engineio-sync |
#           engineio-sync-wsgi | engineio-sync-threading | engineio-sync-gthread |
#           ceiling
#           An engineio-sync kind may end in @before: the same server run from
#           the checkout in $ENGINEIO_SYNC_BEFORE (e.g. a git worktree of the
#           commit before a change), so before and after share one run.
# SCENARIO: ws_echo_throughput | polling_echo | connect_rate | idle_memory   (default: these four)
#           | ws_many | ws_blocking   (only when named; ws_blocking: engineio-sync kinds only)
#
# Every load-generator run gets a fresh server process pinned to core
# $SERVER_CORE (0); the generator (node loadgen.js) is pinned to $GEN_CORE (1).
# One JSON line per run goes to stdout (and is appended to $BENCH_OUT if set).
# Server logs: bench/results/logs/.
#
# Knobs (environment), defaults in brackets:
#   WS_CLIENTS ["1 50 500"]  DURATION [10]  WARMUP [1]  POLL_CLIENTS [50]
#   CONNECT_N [2000]  CONNECT_CONC [100]  IDLE_N [5000]  IDLE_S [30]
#   MANY_N [2000]  MANY_S [20]  MANY_PING_INTERVAL [1]  MANY_SOURCES [4]
#   BLOCK_CLIENTS [500]  BLOCK_S [5]
#   BENCH_PING_TIMEOUT [unset: the adapters' 20 s] is passed to every server
#   BENCH_PY [~/.cache/engineio-bench-venv/bin/python; created by bench/setup.sh if missing]
#   SERVER_CORE [0]  GEN_CORE [1]  BENCH_OUT [unset]
#   BENCH_ASYNC_HANDLERS [1]: 0 runs python-engineio with async_handlers=False
#                        (what-if; results are labelled SERVER/async_handlers=0)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVER="${1:?usage: bench/run.sh SERVER [SCENARIO...]}"
shift
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -eq 0 ]] && SCENARIOS=(ws_echo_throughput polling_echo connect_rate idle_memory)

WS_CLIENTS="${WS_CLIENTS:-1 50 500}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-1}"
POLL_CLIENTS="${POLL_CLIENTS:-50}"
CONNECT_N="${CONNECT_N:-2000}"
CONNECT_CONC="${CONNECT_CONC:-100}"
IDLE_N="${IDLE_N:-5000}"
IDLE_S="${IDLE_S:-30}"
MANY_N="${MANY_N:-2000}"
MANY_S="${MANY_S:-20}"
MANY_PING_INTERVAL="${MANY_PING_INTERVAL:-1}"
MANY_SOURCES="${MANY_SOURCES:-4}"
BLOCK_CLIENTS="${BLOCK_CLIENTS:-500}"
BLOCK_S="${BLOCK_S:-5}"
SERVER_CORE="${SERVER_CORE:-0}"
GEN_CORE="${GEN_CORE:-1}"
PY="${BENCH_PY:-$HOME/.cache/engineio-bench-venv/bin/python}"
LOGDIR="${BENCH_RESULTS:-$HERE/results}/logs"
mkdir -p "$LOGDIR"

# 5000 idle connections need well over 1024 fds on both sides
ulimit -n "$(ulimit -Hn)"

# results are labelled with the server kind (plus the what-if knob, if set)
LABEL="$SERVER"
if [[ "${BENCH_ASYNC_HANDLERS:-1}" == 0 && ( "$SERVER" == pyeio-* ) ]]; then
  LABEL="$SERVER/async_handlers=0"
fi

KIND="${SERVER%@before}"
if [[ "$KIND" != "$SERVER" ]]; then
  [[ "$KIND" == engineio-sync* ]] || { echo "@before is for engineio-sync kinds" >&2; exit 2; }
  export ENGINEIO_SYNC_PATH="${ENGINEIO_SYNC_BEFORE:?set ENGINEIO_SYNC_BEFORE to the checkout to compare with}"
fi

case "$KIND" in
  pyeio-eventlet)  PORT=8401 ;;
  pyeio-threading) PORT=8402 ;;
  node-engineio)   PORT=8403 ;;
  engineio-sync)   PORT=8404 ;;
  engineio-sync-wsgi) PORT=8405 ;;
  engineio-sync-threading) PORT=8406 ;;
  engineio-sync-gthread) PORT=8407 ;;
  engineio-sync-gevent) PORT=8408 ;;
  ceiling)         PORT=8409 ;;
  *) echo "unknown server kind: $SERVER" >&2; exit 2 ;;
esac

# dependencies (idempotent)
if [[ ! -d "$HERE/node/node_modules/ws" || ! -d "$HERE/node/node_modules/engine.io" ]]; then
  (cd "$HERE/node" && npm ci --no-audit --no-fund >&2)
fi
if [[ "$SERVER" == pyeio-* || "$SERVER" == engineio-sync* ]] && [[ ! -x "$PY" ]]; then
  "$HERE/setup.sh" >&2
fi

server_cmd() { # sets the array CMD
  case "$KIND" in
    pyeio-eventlet)  CMD=("$PY" "$HERE/servers/pyeio_eventlet.py" "$PORT") ;;
    # gunicorn threaded worker, see servers/pyeio_threading.py for the why
    pyeio-threading) CMD=("$PY" -m gunicorn -w 1 --threads 6000 --worker-connections 7000
                          --backlog 1024 --graceful-timeout 3 --log-level warning
                          -b "127.0.0.1:$PORT" --chdir "$HERE/servers" pyeio_threading:app) ;;
    node-engineio)   CMD=(node "$HERE/servers/node_engineio.js" "$PORT") ;;
    engineio-sync)   CMD=("$PY" "$HERE/servers/engineio_sync_server.py" "$PORT") ;;
    engineio-sync-wsgi) CMD=("$PY" "$HERE/servers/engineio_sync_server.py" "$PORT" wsgi) ;;
    engineio-sync-threading)
                     CMD=("$PY" "$HERE/servers/engineio_sync_server.py" "$PORT" native threading) ;;
    engineio-sync-gevent)
                     CMD=("$PY" "$HERE/servers/engineio_sync_server.py" "$PORT" native gevent) ;;
    # threading driver in gunicorn's gthread worker with the 8 threads of a
    # typical deployment; --worker-connections only so that gunicorn's own
    # cap (default 1000) does not hide how many WebSockets 8 threads hold
    engineio-sync-gthread)
                     CMD=("$PY" -m gunicorn -w 1 -k gthread --threads 8 --worker-connections 60000
                          --backlog 1024 --graceful-timeout 3 --log-level warning
                          -b "127.0.0.1:$PORT" --chdir "$HERE/servers" engineio_sync_server:app) ;;
    ceiling)         CMD=(node "$HERE/servers/ceiling.js" "$PORT") ;;
  esac
}

SRV_PID=""
SERVER_ENV=() # NAME=value settings for the next server only (ws_many, ws_blocking)
start_server() { # $1: log tag
  local log="$LOGDIR/$SERVER.$1.log" code
  server_cmd
  env ${SERVER_ENV[@]+"${SERVER_ENV[@]}"} taskset -c "$SERVER_CORE" "${CMD[@]}" >"$log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 150); do # up to ~15 s for the server to answer HTTP (any status)
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      echo "server $SERVER exited during start-up; last log lines:" >&2
      tail -5 "$log" >&2
      SRV_PID=""
      return 1
    fi
    code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$PORT/bench-ready" || true)"
    [[ "$code" != "000" ]] && return 0
    sleep 0.1
  done
  echo "server $SERVER did not answer within 15 s" >&2
  stop_server
  return 1
}

stop_server() { # TERM the server and its children (e.g. gunicorn worker) by PID
  [[ -z "$SRV_PID" ]] && return 0
  local pids kids
  kids="$(cat /proc/"$SRV_PID"/task/*/children 2>/dev/null || true)"
  pids="$SRV_PID $kids"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 100); do # up to 10 s
    local alive=0
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=""
}
trap stop_server EXIT

emit() {
  echo "$1"
  if [[ -n "${BENCH_OUT:-}" ]]; then echo "$1" >>"$BENCH_OUT"; fi
}

run_gen() { # loadgen arguments: SCENARIO [options]
  local scenario="$1" tag out
  tag="$(date +%H%M%S)-$scenario"
  if ! start_server "$tag"; then
    emit "{\"scenario\":\"$scenario\",\"server\":\"$LABEL\",\"error\":\"server failed to start\"}"
    return 0
  fi
  sleep 0.5 # let start-up CPU settle
  if out="$(taskset -c "$GEN_CORE" node "$HERE/node/loadgen.js" "$@" --port "$PORT" --label "$LABEL" \
              --server-pid "$SRV_PID" --clk-tck "$(getconf CLK_TCK)")"; then
    emit "$out"
  else
    emit "{\"scenario\":\"$scenario\",\"server\":\"$LABEL\",\"error\":\"loadgen failed, see stderr\"}"
  fi
  stop_server
}

for sc in "${SCENARIOS[@]}"; do
  case "$sc" in
    ws_echo_throughput)
      for c in $WS_CLIENTS; do
        run_gen ws_echo_throughput --clients "$c" --duration "$DURATION" --warmup "$WARMUP"
      done ;;
    polling_echo)
      run_gen polling_echo --clients "$POLL_CLIENTS" --duration "$DURATION" --warmup "$WARMUP" ;;
    connect_rate)
      run_gen connect_rate --n "$CONNECT_N" --concurrency "$CONNECT_CONC" ;;
    idle_memory)
      run_gen idle_memory --n "$IDLE_N" --concurrency 100 --idle "$IDLE_S" ;;
    ws_many)
      # each side holds MANY_N sockets: raise the fd limit of this shell (so
      # of the server and the generator it starts) if the soft one is short;
      # above the hard limit only a privileged shell may (see README)
      need=$((MANY_N + 1000))
      if (( $(ulimit -n) < need )) && ! ulimit -n "$need" 2>/dev/null; then
        emit "{\"scenario\":\"ws_many\",\"server\":\"$LABEL\",\"error\":\"MANY_N=$MANY_N needs $need fds, hard limit $(ulimit -Hn)\"}"
        continue
      fi
      SERVER_ENV=("BENCH_PING_INTERVAL=$MANY_PING_INTERVAL")
      # the native HTTP server's default connection limit is 20000
      if (( need > 20000 )); then SERVER_ENV+=("BENCH_MAX_CONNECTIONS=$need"); fi
      run_gen ws_many --n "$MANY_N" --concurrency 100 --hold "$MANY_S" \
        --ping-interval "$MANY_PING_INTERVAL" --sources "$MANY_SOURCES"
      SERVER_ENV=() ;;
    ws_blocking)
      # the blocking handler is a hook of servers/engineio_sync_server.py
      # only; node is single-threaded, so a handler blocking 5 s there stops
      # everything by design (see README)
      if [[ "$KIND" != engineio-sync* ]]; then
        echo "ws_blocking: skipped for $SERVER (no blocking handler in its adapter)" >&2
        continue
      fi
      SERVER_ENV=(BENCH_BLOCK_WORD=block "BENCH_BLOCK_S=$BLOCK_S")
      run_gen ws_blocking --clients "$BLOCK_CLIENTS" --block "$BLOCK_S" --warmup "$WARMUP" --word block
      SERVER_ENV=() ;;
    *) echo "unknown scenario: $sc" >&2; exit 2 ;;
  esac
done
