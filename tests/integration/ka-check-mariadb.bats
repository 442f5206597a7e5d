#!/usr/bin/env bats
# ka-check-mariadb against real mariadbd instances on 127.0.0.1:23301-23309:
#   p  primary (23301)          r  GTID replica of p, read_only (23302)
#   h  standalone, gets SIGSTOPped (23303)
#   mm1/mm2 master-master pair (23305/23306)
#   w1/w2 two writable standalone nodes for the split-brain guard (23307/23308)

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	mdb_start p 23301 1
	mdb_start r 23302 2 --read-only=1
	mdb_start h 23303 3
	mdb_start mm1 23305 5 --gtid-domain-id=5
	mdb_start mm2 23306 6 --gtid-domain-id=6 --read-only=1
	mdb_start w1 23307 7
	mdb_start w2 23308 8
	mdb_sql p "CREATE DATABASE t; CREATE TABLE t.a (id INT PRIMARY KEY); INSERT INTO t.a VALUES (1)"
	mdb_replicate r p
	mdb_replicate mm2 mm1
	mdb_replicate mm1 mm2
	mdb_wait_synced r p
	local dir
	dir=$(mdb_root)
	mdb_cnf - "$dir/check.cnf" ka_check "$KA_DB_PASS_CHECK"
	mdb_cnf - "$dir/wrong.cnf" ka_check wrongpassword
	mdb_cnf - "$dir/app.cnf" app "$KA_DB_PASS_APP"
	export KA_TEST_ROOT CNF="$dir/check.cnf"
}

teardown_file() {
	load ../helpers/mariadb
	mdb_stop_all
}

setup() {
	load ../helpers/common
	load ../helpers/mariadb
}

check() {
	ka-check-mariadb --defaults-file "$CNF" "$@"
}

@test "exits 0 on a healthy primary and says it is writable" {
	run -0 check --host 127.0.0.1 --port 23301
	assert_output --regexp '^OK healthy \| code=0 role=writable read_only=OFF gtid=0-1-[0-9]+ elapsed_ms=[0-9]+$'
}

@test "connects over the unix socket as well as TCP" {
	run -0 check --socket "$(mdb_socket p)"
	assert_output --partial "OK healthy"
}

@test "treats a server without replication as a primary with --replication" {
	run -0 check --host 127.0.0.1 --port 23301 --replication --max-lag 5
	assert_output --partial "role=primary"
	assert_output --partial "io=- sql=- lag=-"
}

@test "exits 0 on a healthy replica with both threads running and no lag" {
	run -0 check --host 127.0.0.1 --port 23302 --replication --max-lag 10
	assert_output --partial "role=replica read_only=ON io=Yes sql=Yes lag=0"
}

@test "exits 3 within the deadline when mysqld is stopped with SIGSTOP" {
	local pid
	pid=$(mdb_pid h)
	kill -STOP "$pid"
	timed run check --host 127.0.0.1 --port 23303 --timeout 300
	local tcp_status=$status tcp_ms=$TIMED_MS tcp_out=$output
	timed run check --socket "$(mdb_socket h)" --timeout 300
	kill -CONT "$pid"
	[ "$tcp_status" -eq 3 ] && [ "$status" -eq 3 ]
	[[ "$tcp_out" == *"timed out"* ]]
	[ "$tcp_ms" -lt 2000 ] && [ "$TIMED_MS" -lt 2000 ]
	run -0 check --host 127.0.0.1 --port 23303
}

@test "exits 3 when mysqld hangs after the connection was made" {
	# A query that takes longer than the deadline stands in for a stall mid-session:
	# the checker's own query is bounded the same way as the connect.
	local pid
	pid=$(mdb_pid h)
	( sleep 0.2; kill -STOP "$pid" ) 3>&- &
	local stopper=$!
	timed run check --host 127.0.0.1 --port 23303 --timeout 1500 --verbose
	wait "$stopper"
	kill -CONT "$pid"
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
	[ "$TIMED_MS" -lt 4000 ]
}

@test "exits 4 when the password is wrong" {
	run -4 ka-check-mariadb --defaults-file "$(mdb_root)/wrong.cnf" --host 127.0.0.1 --port 23301
	assert_output --partial "Access denied"
	assert_output --partial "code=4"
}

@test "exits 4 when the account lacks SLAVE MONITOR for --replication" {
	run -4 ka-check-mariadb --defaults-file "$(mdb_root)/app.cnf" --host 127.0.0.1 \
		--port 23302 --replication
	assert_output --partial "SHOW ALL SLAVES STATUS"
}

@test "exits 5 when max_connections is reached, and CONNECTION ADMIN still gets through" {
	# 10 is MariaDB's smallest max_connections; an 11th ordinary login is refused, while
	# CONNECTION ADMIN gets the one connection kept past the limit.
	mdb_sql h "SET GLOBAL max_connections=10"
	local pids=() i n=0
	# One login at a time (concurrent logins refuse each other near the limit); a
	# sleeper refused because our own polling connection took a slot is started again.
	for i in $(seq 40); do
		n=$(mdb_sql h "SELECT COUNT(*) FROM information_schema.PROCESSLIST
			WHERE INFO LIKE 'SELECT SLEEP%'")
		[ "$n" -ge 10 ] && break
		mariadb --defaults-file="$(mdb_root)/app.cnf" -h127.0.0.1 -P23303 \
			-e "SELECT SLEEP(20)" >/dev/null 2>&1 3>&- &
		pids+=($!)
		sleep 0.3
	done
	[ "$n" -ge 10 ]
	run ka-check-mariadb --defaults-file "$(mdb_root)/app.cnf" --host 127.0.0.1 --port 23303
	local app_status=$status app_out=$output
	run check --host 127.0.0.1 --port 23303
	local check_status=$status
	mdb_sql h "KILL USER app; SET GLOBAL max_connections=50" || true
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
	[ "$app_status" -eq 5 ]
	[[ "$app_out" == *"Too many connections"* ]]
	[ "$check_status" -eq 0 ]
}

@test "exits 7 when the replica's SQL thread is stopped" {
	mdb_sql r "STOP SLAVE SQL_THREAD"
	run check --host 127.0.0.1 --port 23302 --replication
	mdb_sql r "START SLAVE SQL_THREAD"
	[ "$status" -eq 7 ]
	assert_output --partial "replication SQL thread of connection 'default' is No"
	assert_output --partial "io=Yes sql=No"
}

@test "exits 6 when the IO thread cannot log in to the primary" {
	mdb_sql r "STOP SLAVE; CHANGE MASTER TO MASTER_PASSWORD='wrong'; START SLAVE"
	mdb_wait_for r "SELECT 1 FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='SLAVE_RUNNING' AND VARIABLE_VALUE='OFF'" 10
	sleep 1
	run check --host 127.0.0.1 --port 23302 --replication
	mdb_sql r "STOP SLAVE; CHANGE MASTER TO MASTER_PASSWORD='$KA_DB_PASS_REPL'; START SLAVE"
	mdb_wait_replicating r
	[ "$status" -eq 6 ]
	assert_output --partial "replication IO thread of connection 'default' is"
	assert_output --regexp "io=(No|Connecting)"
}

@test "exits 8 when lag exceeds --max-lag, and lowers the LVS weight as lag grows" {
	mdb_sql r "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=60; START SLAVE"
	mdb_wait_replicating r
	mdb_sql p "INSERT INTO t.a VALUES (2)"
	mdb_wait_for r "SELECT 1 FROM DUAL WHERE 1" 5
	local i lag=0
	for i in $(seq 40); do
		lag=$(check --host 127.0.0.1 --port 23302 --replication --json | jq -r '.lag // 0')
		[ "$lag" -ge 3 ] && break
		sleep 0.25
	done
	run check --host 127.0.0.1 --port 23302 --replication --max-lag 1
	local lag_status=$status lag_out=$output
	run check --host 127.0.0.1 --port 23302 --max-lag 100 --lvs-weight 100
	local lvs_status=$status
	run check --host 127.0.0.1 --port 23302 --max-lag 1 --lvs-weight 100
	local lvs_over=$status
	mdb_sql r "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE"
	mdb_wait_replicating r
	mdb_wait_synced r p
	[ "$lag" -ge 3 ]
	[ "$lag_status" -eq 8 ]
	[[ "$lag_out" == *"above --max-lag 1"* ]]
	# weight = 100 * (100 - lag) / 100: below the full 102, above down (1)
	[ "$lvs_status" -ge 2 ] && [ "$lvs_status" -lt 102 ]
	[ "$lvs_over" -eq 1 ]
}

@test "returns 2+MAX in LVS mode on a healthy node and 2+MAX on an in-sync replica" {
	run -52 check --host 127.0.0.1 --port 23301 --lvs-weight 50
	assert_output --partial "weight=50"
	run -102 check --host 127.0.0.1 --port 23302 --max-lag 30 --lvs-weight 100
}

@test "passes on both nodes of a master-master pair" {
	mdb_sql mm1 "CREATE DATABASE mm; CREATE TABLE mm.x (id INT PRIMARY KEY); INSERT INTO mm.x VALUES (1)"
	mdb_wait_synced mm2 mm1
	run -0 check --host 127.0.0.1 --port 23305 --replication --max-lag 5 --expect-read-only off
	assert_output --partial "role=replica read_only=OFF io=Yes sql=Yes"
	run -0 check --host 127.0.0.1 --port 23306 --replication --max-lag 5 --expect-read-only on
	assert_output --partial "role=replica read_only=ON io=Yes sql=Yes"
}

@test "exits 1 when read_only differs from --expect-read-only" {
	run -1 check --host 127.0.0.1 --port 23301 --expect-read-only on
	assert_output --partial "read_only is OFF, expected ON"
	run -1 check --host 127.0.0.1 --port 23302 --expect-read-only off
	assert_output --partial "read_only is ON, expected OFF"
	run -0 check --host 127.0.0.1 --port 23302 --expect-read-only on
}

@test "exits 0 when a witness accepts and 10 when none does" {
	run -0 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23339,127.0.0.1:23302
	assert_output --partial "witness=127.0.0.1:23302"
	timed run -10 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23338,127.0.0.1:23339 --timeout 500
	assert_output --partial "no witness reachable: 127.0.0.1:23338"
	[ "$TIMED_MS" -lt 2000 ]
}

@test "exits 11 when the peer is writable too and holds transactions this node lacks" {
	mdb_sql w1 "CREATE DATABASE s; CREATE TABLE s.a (id INT PRIMARY KEY)"
	mdb_sql w2 "CREATE DATABASE s; CREATE TABLE s.a (id INT PRIMARY KEY);
		INSERT INTO s.a VALUES (1); INSERT INTO s.a VALUES (2); INSERT INTO s.a VALUES (3)"
	run -11 check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23308
	assert_output --partial "peer 127.0.0.1:23308 is writable too and holds transactions this node lacks: 0-8-5 > 0-7-2"
	assert_output --partial "peer=writable"
}

@test "exits 0 when the writable peer is behind this node" {
	run -0 check --host 127.0.0.1 --port 23308 --peer 127.0.0.1:23307
	assert_output --partial "peer=writable"
}

@test "exits 0 when the peer is read-only or unreachable" {
	run -0 check --host 127.0.0.1 --port 23301 --peer 127.0.0.1:23302
	assert_output --partial "peer=read-only"
	run -0 check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23339
	assert_output --partial "peer=unreachable"
}

@test "prints one JSON object with the result fields under --json" {
	run -0 check --host 127.0.0.1 --port 23302 --replication --max-lag 10 --json
	echo "$output" | jq -e '.status == "OK" and .code == 0 and .role == "replica"
		and .read_only == true and .io == "Yes" and .sql == "Yes" and .lag == 0
		and (.gtid | test("^0-1-")) and (.elapsed_ms | type == "number")'
}

@test "prints a diagnostic report to stderr under --verbose" {
	run -0 check --host 127.0.0.1 --port 23302 --replication --verbose
	assert_output --partial "report for '127.0.0.1:23302'"
	assert_output --regexp "version +10\.11"
	assert_output --regexp "Uptime +[0-9]+"
	assert_output --regexp "Threads_connected +[0-9]+"
	assert_output --partial "Rpl_semi_sync_slave_status"
	assert_output --partial "Gtid_IO_Pos"
	assert_output --regexp "max_connections +50"
}

@test "runs concurrently with itself without interference" {
	local pids=() i rc=0
	for i in $(seq 10); do
		check --host 127.0.0.1 --port 23302 --replication > "$(mdb_root)/par.$i" 3>&- &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ "$rc" -eq 0 ]
	[ "$(cat "$(mdb_root)"/par.* | grep -c '^OK healthy')" -eq 10 ]
}

@test "changes nothing on the server" {
	local before after
	before=$(mdb_sql p "SELECT @@gtid_binlog_pos, @@read_only")
	for _ in 1 2 3; do check --host 127.0.0.1 --port 23301 --replication --peer 127.0.0.1:23302 >/dev/null; done
	after=$(mdb_sql p "SELECT @@gtid_binlog_pos, @@read_only")
	[ "$before" = "$after" ]
}
