#!/usr/bin/env bash
# The local AWS emulator (moto server) on 127.0.0.1:PORT.
#   scripts/moto.sh start PORT   starts it in the background, waits until it answers (≤ 30 s)
#   scripts/moto.sh stop PORT    stops the one started for PORT, by its recorded PID
# PID and log: .dev/moto-PORT.pid, .dev/moto-PORT.log
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-} port=${2:-}
[[ $cmd =~ ^(start|stop)$ && $port =~ ^[0-9]+$ ]] || { echo "usage: $0 start|stop PORT" >&2; exit 2; }
mkdir -p .dev
pidfile=.dev/moto-$port.pid log=.dev/moto-$port.log

case $cmd in
start)
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "moto: 127.0.0.1:$port is already in use" >&2
    exit 1
  fi
  # Own session, so a Ctrl-C aimed at the caller does not reach it; the caller stops it.
  setsid .venv/bin/python -m inflow_dev.emulator 127.0.0.1 "$port" >"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 1 60); do
    if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/moto-api/"; then
      echo "moto: listening on 127.0.0.1:$port (pid $pid, log $log)"
      exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto: exited at start; last lines of $log:" >&2
      tail -n 20 "$log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.5
  done
  echo "moto: no answer on 127.0.0.1:$port after 30 s; stopping it (log: $log)" >&2
  kill "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  exit 1
  ;;
stop)
  [[ -f $pidfile ]] || exit 0
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  kill "$pid" 2>/dev/null || exit 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || exit 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  ;;
esac
