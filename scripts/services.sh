#!/usr/bin/env bash
# Starts the local services the tests need when they are not running, and
# waits until they accept connections. Usage: scripts/services.sh [postgres ...]
# (default: every service the tests use today).
set -euo pipefail

want=("${@:-postgres}")

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
	local name=$1 port=$2
	for _ in $(seq 1 120); do
		up "$port" && return 0
		sleep 0.5
	done
	echo "services: $name did not come up on port $port" >&2
	return 1
}

start_postgres() {
	up 5432 && return 0
	echo "services: starting PostgreSQL" >&2
	if ! command -v pg_ctlcluster >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	fi
	local version
	version=$(ls /etc/postgresql | sort -V | tail -n 1)
	if [ -z "$(ls -A "/var/lib/postgresql/$version/main" 2>/dev/null)" ]; then
		pg_createcluster "$version" main >/dev/null
	fi
	pg_ctlcluster --skip-systemctl-redirect "$version" main start
	wait_port PostgreSQL 5432
	# The tests connect as postgres over TCP without a password.
	local hba="/etc/postgresql/$version/main/pg_hba.conf"
	if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
		sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
		pg_ctlcluster --skip-systemctl-redirect "$version" main reload
	fi
}

start_rabbitmq() {
	up 5672 && return 0
	echo "services: starting RabbitMQ" >&2
	rabbitmq-server -detached
	wait_port RabbitMQ 5672
}

start_nats() {
	up 4222 && return 0
	echo "services: starting NATS" >&2
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
	wait_port NATS 4222
}

for s in "${want[@]}"; do
	"start_$s"
done
