# Real mariadbd instances for the integration tiers: each in its own temp datadir on
# 127.0.0.1:PORT plus a unix socket, GTID binlog, semi-sync (AFTER_SYNC) built in.
# Start them in setup_file, stop them in teardown_file with mdb_stop_all (bats runs
# teardown_file also when setup_file failed, so nothing is left behind).
#
#   mdb_start NAME PORT SERVER_ID [extra mariadbd options...]
#   mdb_sql NAME "SQL"            run SQL as root over the socket (-N -B output)
#   mdb_replicate REPLICA PRIMARY  GTID replication REPLICA <- PRIMARY, waits for Yes/Yes
#   mdb_cnf NAME FILE USER PASS   write a 0600 option file for the ka binaries
#   mdb_stop NAME / mdb_stop_all

: "${KA_TEST_ROOT:=}"
KA_DB_PASS_CHECK=checkpw
KA_DB_PASS_HA=hapw
KA_DB_PASS_REPL=replpw
KA_DB_PASS_APP=apppw

# Creates the run's root dir (short path: unix socket paths are limited to 107 bytes).
mdb_init() {
	if [ -z "$KA_TEST_ROOT" ] || [ ! -d "$KA_TEST_ROOT" ]; then
		KA_TEST_ROOT=$(mktemp -d /tmp/kam.XXXXXX)
		export KA_TEST_ROOT
	fi
}

mdb_root() { echo "$KA_TEST_ROOT"; }

mdb_dir()    { echo "$(mdb_root)/$1"; }
mdb_socket() { echo "$(mdb_root)/$1/sock"; }
mdb_port()   { cat "$(mdb_root)/$1/port"; }
mdb_pid()    { cat "$(mdb_root)/$1/pid" 2>/dev/null || true; }

# SQL goes through stdin, not -e: CHANGE MASTER and CREATE USER carry passwords, which
# must not show on a command line.
mdb_sql() {
	mariadb --no-defaults -uroot -S "$(mdb_socket "$1")" -N -B --connect-timeout=5 <<< "$2"
}

# Waits (up to $3 seconds, default 30) until SQL $2 on $1 prints a non-empty line.
mdb_wait_for() {
	local name=$1 sql=$2 limit=${3:-30} i out
	for ((i = 0; i < limit * 10; i++)); do
		out=$(mdb_sql "$name" "$sql" 2>/dev/null) && [ -n "$out" ] && return 0
		sleep 0.1
	done
	echo "mdb: '$name' did not satisfy: $sql (last: $out)" >&2
	return 1
}

mdb_accounts_sql() {
	cat <<SQL
SET sql_log_bin=0;
DELETE FROM mysql.global_priv WHERE User='';
FLUSH PRIVILEGES;
CREATE USER ka_check@'localhost' IDENTIFIED BY '$KA_DB_PASS_CHECK';
CREATE USER ka_check@'127.0.0.1' IDENTIFIED BY '$KA_DB_PASS_CHECK';
GRANT SLAVE MONITOR, CONNECTION ADMIN ON *.* TO ka_check@'localhost', ka_check@'127.0.0.1';
CREATE USER ka_ha@'localhost' IDENTIFIED BY '$KA_DB_PASS_HA';
CREATE USER ka_ha@'127.0.0.1' IDENTIFIED BY '$KA_DB_PASS_HA';
GRANT READ ONLY ADMIN, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, CONNECTION ADMIN, RELOAD,
      SLAVE MONITOR, BINLOG MONITOR, PROCESS, SELECT ON *.* TO ka_ha@'localhost', ka_ha@'127.0.0.1';
CREATE USER repl@'127.0.0.1' IDENTIFIED BY '$KA_DB_PASS_REPL';
GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1';
CREATE USER app@'localhost' IDENTIFIED BY '$KA_DB_PASS_APP';
CREATE USER app@'127.0.0.1' IDENTIFIED BY '$KA_DB_PASS_APP';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER ON *.* TO app@'localhost', app@'127.0.0.1';
SET sql_log_bin=1;
SQL
}

mdb_start() {
	local name=$1 port=$2 sid=$3
	shift 3
	local dir
	mdb_init
	dir=$(mdb_dir "$name")
	rm -rf "$dir" && mkdir -p "$dir/tmp"
	echo "$port" > "$dir/port"
	echo "$sid" > "$dir/server_id"
	: > "$dir/extra_args"
	[ $# -gt 0 ] && printf '%s\n' "$@" > "$dir/extra_args"
	mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
		--auth-root-authentication-method=socket --skip-test-db \
		--innodb-log-file-size=16M --innodb-use-native-aio=0 --tmpdir="$dir/tmp" \
		>"$dir/install.log" 2>&1 || {
		echo "mdb: mariadb-install-db failed for '$name':" >&2
		grep -iE "error|fail|can.t" "$dir/install.log" | head -10 >&2
		return 1
	}
	mdb_launch "$name" || return 1
	mdb_sql "$name" "$(mdb_accounts_sql)"
}

# Starts mariadbd for an installed NAME (first start or after mdb_kill/mdb_stop).
mdb_launch() {
	local name=$1 dir extra=()
	dir=$(mdb_dir "$name")
	mapfile -t extra < "$dir/extra_args"
	mkdir -p "$dir/tmp"
	mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$dir/sock" \
		--tmpdir="$dir/tmp" \
		--port="$(cat "$dir/port")" --bind-address=127.0.0.1 --pid-file="$dir/mariadbd.pid" \
		--log-error="$dir/error.log" --server-id="$(cat "$dir/server_id")" --log-bin=mysql-bin \
		--binlog-format=ROW --log-slave-updates --gtid-strict-mode=1 \
		--skip-name-resolve --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
		--innodb-use-native-aio=0 \
		--rpl-semi-sync-master-enabled=1 --rpl-semi-sync-slave-enabled=1 \
		--rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=1000 \
		--slave-net-timeout=5 --max-connections=50 "${extra[@]}" \
		>"$dir/stdout.log" 2>&1 3>&- &
	local pid=$! i
	echo "$pid" > "$dir/pid"
	for ((i = 0; i < 600; i++)); do
		mdb_sql "$name" "SELECT 1" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "mdb: '$name' did not start; error log:" >&2
	tail -30 "$dir/error.log" >&2
	return 1
}

# Continues a SIGSTOPped server, then stops it (TERM, KILL after 20 s).
mdb_stop() {
	local name=$1 pid i
	pid=$(mdb_pid "$name")
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$(mdb_dir "$name")/pid"
}

# SIGKILLs NAME's mariadbd (a crash); mdb_launch starts it again on the same datadir.
mdb_kill() {
	local pid
	pid=$(mdb_pid "$1")
	if [ -n "$pid" ]; then
		{ kill -KILL "$pid"; wait "$pid"; } 2>/dev/null || true   # KILL also ends a stopped one
	fi
	rm -f "$(mdb_dir "$1")/pid"
	return 0
}

mdb_stop_all() {
	local d
	[ -n "$KA_TEST_ROOT" ] && [ -d "$KA_TEST_ROOT" ] || return 0
	for d in "$KA_TEST_ROOT"/*/; do
		if [ -f "$d/pid" ]; then mdb_stop "$(basename "$d")"; fi
	done
	rm -rf "$KA_TEST_ROOT"
	KA_TEST_ROOT=
}

mdb_replicate() {
	local replica=$1 primary=$2 extra=${3:-}
	mdb_sql "$replica" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(mdb_port "$primary"),
		MASTER_USER='repl', MASTER_PASSWORD='$KA_DB_PASS_REPL', MASTER_USE_GTID=slave_pos,
		MASTER_CONNECT_RETRY=1 $extra; START SLAVE;" || return 1
	mdb_wait_replicating "$replica"
}

mdb_wait_replicating() {
	mdb_wait_for "$1" "SELECT 1 FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='SLAVE_RUNNING' AND VARIABLE_VALUE='ON'" "${2:-30}"
}

# Waits until REPLICA has applied everything PRIMARY has in its binlog.
mdb_wait_synced() {
	local pos
	pos=$(mdb_sql "$2" "SELECT @@gtid_binlog_pos")
	mdb_wait_for "$1" "SELECT 1 FROM DUAL WHERE MASTER_GTID_WAIT('$pos', 0) = 0" "${3:-30}"
}

mdb_cnf() {
	local file=$2 user=$3 pass=$4
	umask 077
	cat > "$file" <<CNF
[client]
user=$user
password=$pass
CNF
	chmod 600 "$file"
}
