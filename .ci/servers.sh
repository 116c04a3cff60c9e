# Sourced by .ci/run: makes sure the servers some tests need (Redis, PostgreSQL, RabbitMQ, NATS)
# answer. One that already answers on its default port is used as it is; otherwise it is
# installed from Debian's packages when missing and started on its own port and data dir, and
# stop_ci_servers stops exactly what was started here, by PID. Tests learn where each one is from
# TEST_<KIND>_URL, and PUBSUB_TEST_SERVERS makes a missing one an error instead of a skip.

CI_SERVERS_DIR="$(mktemp -d /tmp/pubsub-ci-servers.XXXXXX)"
# The PostgreSQL server runs as its own user and must reach its data dir in here.
chmod 755 "$CI_SERVERS_DIR"
CI_SERVER_PIDS=()
PUBSUB_TEST_SERVERS=""

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local port=$1 what=$2
  for _ in $(seq 1 120); do
    answers "$port" && return 0
    sleep 0.5
  done
  echo "ci: $what did not start on port $port" >&2
  return 1
}

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

apt_updated=""
ensure_package() {
  local binary=$1 package=$2
  command -v "$binary" >/dev/null && return 0
  [ -x "$binary" ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update >/dev/null && apt_updated=1; fi
  apt-get install -y "$package" >/dev/null
}

require_server() { PUBSUB_TEST_SERVERS="${PUBSUB_TEST_SERVERS:+$PUBSUB_TEST_SERVERS,}$1"; }

start_redis() {
  if answers 6379; then require_server redis; return; fi
  ensure_package redis-server redis-server || { echo "ci: cannot install redis-server" >&2; return 1; }
  local port; port=$(free_port)
  mkdir -p "$CI_SERVERS_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$CI_SERVERS_DIR/redis" --save '' --appendonly yes --appendfsync always \
    >"$CI_SERVERS_DIR/redis.log" 2>&1 &
  CI_SERVER_PIDS+=($!)
  wait_for_port "$port" redis
  export TEST_REDIS_URL="redis://127.0.0.1:$port"
  require_server redis
}

start_postgres() {
  if answers 5432; then require_server postgres; return; fi
  ensure_package /usr/lib/postgresql/15/bin/postgres postgresql || { echo "ci: cannot install postgresql" >&2; return 1; }
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  local port; port=$(free_port)
  local data="$CI_SERVERS_DIR/postgres"
  mkdir -p "$data" && chown postgres "$data"
  # PostgreSQL refuses to run as root.
  runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$bin/postgres" -D "$data" -h 127.0.0.1 -p "$port" -k "$data" \
    >"$CI_SERVERS_DIR/postgres.log" 2>&1 &
  wait_for_port "$port" postgres
  # runuser stays in between: the server's own PID is the one to stop.
  CI_SERVER_PIDS+=("$(head -1 "$data/postmaster.pid")")
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  require_server postgres
}

start_rabbitmq() {
  if answers 5672; then require_server rabbitmq; return; fi
  ensure_package rabbitmq-server rabbitmq-server || { echo "ci: cannot install rabbitmq-server" >&2; return 1; }
  local port dist; port=$(free_port); dist=$(free_port)
  mkdir -p "$CI_SERVERS_DIR/rabbitmq"
  # The server script drops to the rabbitmq user when there is one.
  if id rabbitmq >/dev/null 2>&1; then chown rabbitmq "$CI_SERVERS_DIR/rabbitmq"; fi
  # Its own config file: the system one names the default port.
  echo "listeners.tcp.local = 127.0.0.1:$port" >"$CI_SERVERS_DIR/rabbitmq/rabbitmq.conf"
  ERL_CRASH_DUMP="$CI_SERVERS_DIR/rabbitmq/erl_crash.dump" RABBITMQ_CONFIG_FILE="$CI_SERVERS_DIR/rabbitmq/rabbitmq.conf" \
    RABBITMQ_NODENAME="pubsub-ci-$$@localhost" RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist" \
    RABBITMQ_MNESIA_BASE="$CI_SERVERS_DIR/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$CI_SERVERS_DIR/rabbitmq/log" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$CI_SERVERS_DIR/rabbitmq/plugins" \
    rabbitmq-server >"$CI_SERVERS_DIR/rabbitmq.log" 2>&1 &
  wait_for_port "$port" rabbitmq
  # The server script hands over to the rabbitmq user, so the PID above is not the node's: its
  # Erlang VM's is.
  CI_SERVER_PIDS+=("$(rabbitmqctl -n "pubsub-ci-$$@localhost" eval 'list_to_integer(os:getpid()).' | tail -1)")
  export TEST_RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$port"
  require_server rabbitmq
}

start_nats() {
  if answers 4222; then require_server nats; return; fi
  ensure_package nats-server nats-server || { echo "ci: cannot install nats-server" >&2; return 1; }
  local port; port=$(free_port)
  nats-server -a 127.0.0.1 -p "$port" -js -sd "$CI_SERVERS_DIR/nats" >"$CI_SERVERS_DIR/nats.log" 2>&1 &
  CI_SERVER_PIDS+=($!)
  wait_for_port "$port" nats
  export TEST_NATS_URL="nats://127.0.0.1:$port"
  require_server nats
}

stop_ci_servers() {
  local pid
  for pid in "${CI_SERVER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${CI_SERVER_PIDS[@]}"; do
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$CI_SERVERS_DIR"
}

start_ci_servers() {
  start_redis
  start_postgres
  start_rabbitmq
  start_nats
  export PUBSUB_TEST_SERVERS
  echo "ci: test servers: $PUBSUB_TEST_SERVERS${TEST_REDIS_URL:+ redis=$TEST_REDIS_URL}${TEST_POSTGRES_URL:+ postgres=$TEST_POSTGRES_URL}${TEST_RABBITMQ_URL:+ rabbitmq=$TEST_RABBITMQ_URL}${TEST_NATS_URL:+ nats=$TEST_NATS_URL}"
}
