#!/usr/bin/env bash
# Make sure PostgreSQL and Redis run on this machine (CI and development): start each one that
# does not answer; succeed when both already run. The backend tests use them; the embedded
# default (`make run`) needs neither.
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
if ! redis_up && command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis
    # nothing kept on disk: the project rebuilds Redis's state from the database
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
for _ in $(seq 1 30); do
    if pg_up && redis_up; then
        echo "services: postgresql and redis are running"
        exit 0
    fi
    sleep 0.5
done
# not fatal: the backend tests then skip with a message saying which server is missing
pg_up && echo "services: postgresql is running" || echo "services: postgresql is NOT running"
redis_up && echo "services: redis is running" || echo "services: redis is NOT running"
exit 0
