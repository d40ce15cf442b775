#!/bin/bash
# stop.sh <dir> - stops what start.sh <dir> started (by the PIDs it recorded), slurmd first.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
DIR=${1:?usage: stop.sh <dir>}
stop() {
    local f=$DIR/run/$1.pid pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$f"
}
stop slurmd
stop slurmctld
stop munged
exit 0
