#!/usr/bin/env bats
# ka-check-mariadb against real mariadbd instances on 127.0.0.1:23301-23309:
#   p  primary (23301)          r  GTID replica of p, read_only (23302)
#   h  standalone, gets SIGSTOPped (23303)
#   mm1/mm2 master-master pair (23305/23306)
#   w1/w2 two writable standalone nodes for the split-brain guard (23307/23308); each
#         test that uses them starts from empty GTID histories (fresh_pair)
#   w3    a third node for peer lists (23309; fresh_pair w1 w2 w3)
# Witnesses on loopback need KA_TEST_LOCAL_WITNESS=1: the checker refuses local addresses.

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
	mdb_start w3 23309 9
	mdb_sql p "CREATE DATABASE t; CREATE TABLE t.a (id INT PRIMARY KEY); INSERT INTO t.a VALUES (1)"
	mdb_replicate r p
	mdb_replicate mm2 mm1
	mdb_replicate mm1 mm2
	mdb_wait_synced r p
	local n
	for n in w1 w2 w3; do
		mdb_sql "$n" "SET sql_log_bin=0; CREATE DATABASE s;
			CREATE TABLE s.b (id BIGINT AUTO_INCREMENT PRIMARY KEY); SET sql_log_bin=1"
	done
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

teardown() {
	stop_silent_listener
	if [ -n "${OTHER_LISTENER:-}" ]; then
		kill "$OTHER_LISTENER" 2>/dev/null
		wait "$OTHER_LISTENER" 2>/dev/null || true
	fi
	mdb_sql w3 "STOP ALL SLAVES; RESET SLAVE ALL; SET GLOBAL read_only=0" 2>/dev/null || true
	local pid
	pid=$(mdb_pid h)
	[ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
}

check() {
	ka-check-mariadb --defaults-file "$CNF" "$@"
}

# NODES (default w1 w2) standalone, writable, with empty tables and empty GTID histories.
fresh_pair() {
	local n nodes=("$@")
	[ $# -gt 0 ] || nodes=(w1 w2)
	for n in "${nodes[@]}"; do
		mdb_sql "$n" "STOP ALL SLAVES; RESET SLAVE ALL; SET sql_log_bin=0; TRUNCATE s.b;
			SET sql_log_bin=1; RESET MASTER; SET GLOBAL gtid_slave_pos='';
			SET GLOBAL read_only=0"
	done
}

# Writes one transaction on NODE as GTID D-S-N, as a DBA does by hand with the session's
# gtid_domain_id, server_id and gtid_seq_no.
gtid_write() {
	mdb_sql "$1" "SET gtid_domain_id=$2; SET server_id=$3; SET gtid_seq_no=$4;
		INSERT INTO s.b VALUES ()"
}

# SQL for COUNT transactions on one node, each in its own domain FIRST.. with long ids.
many_domains_sql() {
	local first=$1 count=$2 sid=$3 i
	for ((i = 0; i < count; i++)); do
		echo "SET gtid_domain_id=$((first + i)); SET server_id=$sid;"
		echo "SET gtid_seq_no=18446744073709551000; INSERT INTO s.b VALUES ();"
	done
}

w1_check() { check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23308 "$@"; }
w2_check() { check --host 127.0.0.1 --port 23308 --peer 127.0.0.1:23307 "$@"; }
w1_trio_check() { check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23308,127.0.0.1:23309 "$@"; }

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

@test "exits 0 when a witness sends its banner and 10 when none answers" {
	export KA_TEST_LOCAL_WITNESS=1
	run -0 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23339,127.0.0.1:23302
	assert_output --partial "witness=127.0.0.1:23302"
	timed run -10 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23338,127.0.0.1:23339 --timeout 500
	assert_output --partial "no witness reachable: 127.0.0.1:23338"
	[ "$TIMED_MS" -lt 2000 ]
}

@test "counts a witness that completes the handshake but sends nothing only under --witness-connect-only" {
	export KA_TEST_LOCAL_WITNESS=1
	start_silent_listener 23336
	timed run -10 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23336 --timeout 500
	assert_output --partial "no witness reachable: 127.0.0.1:23336 timed out (no handshake, or no byte after it)"
	[ "$TIMED_MS" -lt 2000 ]
	run -0 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23336 --witness-connect-only
	assert_output --partial "witness=127.0.0.1:23336"
}

@test "counts no witness that accepts and closes without a byte" {
	export KA_TEST_LOCAL_WITNESS=1
	socat TCP-LISTEN:23334,bind=127.0.0.1,fork,reuseaddr /dev/null 3>&- &
	LISTENER_PID=$!
	local i
	for i in $(seq 50); do ss -ltn | grep -q '127.0.0.1:23334 ' && break; sleep 0.1; done
	run -10 check --host 127.0.0.1 --port 23301 --witness 127.0.0.1:23334
	assert_output --partial "127.0.0.1:23334 closed the connection without sending anything"
}

@test "exits 11 on the stale writable node and 0 on the promoted one: ahead is lineage, not gtid_current_pos" {
	# w2 replicated w1 up to 0-7-3, was promoted and wrote 0-8-4; w1, still writable,
	# holds nothing w2 lacks. On w2 gtid_current_pos is 0-8-4 alone: 0-7-3 is held
	# through gtid_binlog_state and gtid_slave_pos.
	fresh_pair
	mdb_replicate w2 w1
	mdb_sql w1 "INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES ()"
	mdb_wait_synced w2 w1
	mdb_sql w2 "STOP SLAVE; RESET SLAVE ALL; INSERT INTO s.b VALUES ()"
	[ "$(mdb_sql w2 'SELECT @@gtid_current_pos')" = 0-8-4 ]
	run -0 w2_check
	assert_output --partial "peer=writable"
	run -11 w1_check
	assert_output --partial "peer '127.0.0.1:23308' is writable too and ahead of this node: this node lacks 1 GTID: 0-8-4 (holds 0-7-3)"
	assert_output --partial "peer=writable"
}

@test "keeps the promoted node fit and fails the old primary that went on writing past the parting point" {
	# The issue's repro: w1 wrote 0-7-4 and 0-7-5 after w2 stopped replicating, w2 was
	# promoted and wrote 0-8-4. Neither holds the other's writes, but w2 changed writer
	# at the common tip 0-7-3 while w1 went on as the old primary: w2 succeeds w1 (the
	# case of a hung old primary's unacknowledged in-flight write after SIGCONT).
	fresh_pair
	mdb_replicate w2 w1
	mdb_sql w1 "INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES ()"
	mdb_wait_synced w2 w1
	mdb_sql w2 "STOP SLAVE; RESET SLAVE ALL"
	mdb_sql w1 "INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES ()"
	mdb_sql w2 "INSERT INTO s.b VALUES ()"
	run -11 w1_check
	assert_output --partial "peer '127.0.0.1:23308' is writable too and succeeds this node: it was promoted after the point where they parted"
	assert_output --partial "this node lacks 1 GTID: 0-8-4 (holds 0-7-5) and holds 1 GTID: 0-7-5 (holds 0-8-4) the peer never got"
	assert_output --partial "gtid_current_pos here '0-7-5', on the peer '0-8-4'"
	run -0 w2_check
	assert_output --partial "peer=writable-stale"
}

@test "fails closed on both nodes at the same seq_no from two servers" {
	fresh_pair
	gtid_write w1 0 7 5
	gtid_write w2 0 8 5
	run -11 w1_check
	assert_output --partial "diverged: this node lacks 1 GTID: 0-8-5 (holds 0-7-5); the peer lacks 1 GTID: 0-7-5 (holds 0-8-5)"
	run -11 w2_check
	assert_output --partial "diverged"
}

@test "fails closed on both nodes when each holds a domain the other lacks, and passes once the operator makes one read-only" {
	fresh_pair
	gtid_write w1 0 7 5
	gtid_write w1 1 7 1
	gtid_write w2 0 8 5
	gtid_write w2 2 8 1
	run -11 w1_check
	assert_output --partial "diverged: this node lacks 2 GTIDs: "
	assert_output --partial "0-8-5 (holds 0-7-5)"
	assert_output --partial "2-8-1 (domain 2 missing)"
	assert_output --partial "the peer lacks 2 GTIDs: "
	assert_output --partial "1-7-1 (domain 1 missing)"
	assert_output --regexp "gtid_current_pos here '(0-7-5,1-7-1|1-7-1,0-7-5)', on the peer '(0-8-5,2-8-1|2-8-1,0-8-5)'"
	run -11 w2_check
	assert_output --partial "1-7-1 (domain 1 missing)"
	assert_output --partial "2-8-1 (domain 2 missing)"
	# The operator picks w1: w2 goes read-only, and w1's next check passes.
	mdb_sql w2 "SET GLOBAL read_only=1"
	run -0 w1_check
	assert_output --partial "peer=read-only"
	run -0 w2_check
	assert_output --partial "peer=not-asked"
}

@test "exits 0 when the writable peer is behind this node or holds the same" {
	fresh_pair
	gtid_write w1 0 7 1
	gtid_write w2 0 7 1
	run -0 w1_check
	assert_output --partial "peer=writable"
	gtid_write w1 0 7 2
	run -0 w1_check
	run -11 w2_check
	assert_output --partial "ahead of this node: this node lacks 1 GTID: 0-7-2 (holds 0-7-1)"
}

@test "exits 11 when the peer answers but refuses the login, instead of counting it as gone" {
	fresh_pair
	gtid_write w2 0 8 1
	mdb_sql w2 "SET sql_log_bin=0; ALTER USER ka_check@'127.0.0.1' IDENTIFIED BY 'rotated'"
	run w1_check
	mdb_sql w2 "SET sql_log_bin=0; ALTER USER ka_check@'127.0.0.1' IDENTIFIED BY '$KA_DB_PASS_CHECK'"
	[ "$status" -eq 11 ]
	assert_output --partial "peer '127.0.0.1:23308' answers but cannot be queried: cannot connect to '127.0.0.1:23308': Access denied"
	assert_output --partial "cannot rule out"
	assert_output --partial "peer=unqueryable"
}

@test "exits 11 when the peer answers but is saturated" {
	# An account without CONNECTION ADMIN on a peer at max_connections: error 1040.
	fresh_pair
	mdb_sql w2 "SET sql_log_bin=0; ALTER USER ka_check@'127.0.0.1' WITH MAX_USER_CONNECTIONS 1"
	mdb_sql w2 "SET sql_log_bin=0; REVOKE CONNECTION ADMIN ON *.* FROM ka_check@'127.0.0.1'"
	mariadb --defaults-file="$CNF" -h127.0.0.1 -P23308 -e "SELECT SLEEP(10)" >/dev/null 2>&1 3>&- &
	local holder=$!
	mdb_wait_for w2 "SELECT 1 FROM information_schema.PROCESSLIST WHERE USER='ka_check'" 5
	run w1_check
	kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
	mdb_sql w2 "SET sql_log_bin=0; KILL USER ka_check;
		ALTER USER ka_check@'127.0.0.1' WITH MAX_USER_CONNECTIONS 0;
		GRANT CONNECTION ADMIN ON *.* TO ka_check@'127.0.0.1'"
	[ "$status" -eq 11 ]
	assert_output --partial "answers but cannot be queried"
	assert_output --partial "max_user_connections"
}

@test "counts a peer as gone only when its port refuses, it has no route or its connect times out" {
	fresh_pair
	run -0 check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23339
	assert_output --partial "peer=unreachable"
	start_silent_listener 23337
	timed run -0 check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23337 --timeout 500 --verbose
	assert_output --partial "peer '127.0.0.1:23337' counts as gone: connect timed out"
	assert_output --partial "peer=unreachable"
	[ "$TIMED_MS" -lt 2000 ]
	timed run -0 check --host 127.0.0.1 --port 23307 --peer 192.0.2.123 --timeout 500
	assert_output --partial "peer=unreachable"
	[ "$TIMED_MS" -lt 2000 ]
}

@test "compares GTID positions longer than 511 characters whole: a peer ahead in its last domain is seen" {
	# 26 domains with 10-digit ids and 20-digit seq_nos: about 1000 characters.
	fresh_pair
	mdb_sql w1 "$(many_domains_sql 4000000001 26 4000000007)"
	mdb_sql w2 "$(many_domains_sql 4000000001 26 4000000007)"
	local last
	last=$(mdb_sql w2 "SELECT @@gtid_binlog_pos" | tr , '\n' | tail -1 | cut -d- -f1)
	mdb_sql w2 "SET gtid_domain_id=$last; SET server_id=4000000007; INSERT INTO s.b VALUES ()"
	[ "$(mdb_sql w2 'SELECT LENGTH(@@gtid_binlog_pos)')" -gt 600 ]
	run -11 w1_check
	assert_output --partial "ahead of this node: this node lacks 1 GTID: $last-4000000007-18446744073709551001"
	run -0 w2_check
}

@test "exits 1, never compares, when a GTID state is too long to read whole" {
	# 400 domains of 42 characters each: longer than the 16383 characters read whole.
	fresh_pair
	mdb_sql w2 "$(many_domains_sql 4000000001 400 4000000008)"
	[ "$(mdb_sql w2 'SELECT LENGTH(@@gtid_binlog_state)')" -gt 16383 ]
	run -1 w1_check
	assert_output --partial "peer '127.0.0.1:23308': gtid_binlog_state is too long to read whole"
	run -1 check --host 127.0.0.1 --port 23308
	assert_output --partial "this node: gtid_binlog_state is too long to read whole"
}

@test "reports the witness and the peer as not asked, exit 3, when the local queries spent the deadline" {
	# The local server answers only after most of the deadline (SIGSTOP, continued at
	# 1.7 s of 2 s): a witness or peer that then gets no answer in the time left is not
	# evidence of isolation or of a gone peer.
	local pid
	pid=$(mdb_pid h)
	kill -STOP "$pid"
	( sleep 1.7; kill -CONT "$pid" ) 3>&- &
	run check --host 127.0.0.1 --port 23303 --timeout 2000 --witness 192.0.2.123:22
	wait
	[ "$status" -eq 3 ]
	assert_output --partial "witness not asked: deadline spent"
	assert_output --partial "witness=not-asked"
	refute_output --partial "no witness reachable"
	kill -STOP "$pid"
	( sleep 1.7; kill -CONT "$pid" ) 3>&- &
	run check --host 127.0.0.1 --port 23303 --timeout 2000 --peer 192.0.2.123:3306
	wait
	[ "$status" -eq 3 ]
	assert_output --partial "peer not asked: deadline spent"
	assert_output --partial "peer=not-asked"
}

@test "exits 0 on a writable node whose two peers are both read-only" {
	fresh_pair w1 w2 w3
	gtid_write w1 0 7 1
	mdb_sql w2 "SET GLOBAL read_only=1"
	mdb_sql w3 "SET GLOBAL read_only=1"
	run -0 w1_trio_check
	assert_output --partial "OK healthy"
	assert_output --partial " peer=read-only peers=127.0.0.1:23308/read-only,127.0.0.1:23309/read-only "
	run -0 w1_trio_check --json
	echo "$output" | grep '^{' | jq -e '.code == 0 and .peer == "read-only" and .peers == [
		{"endpoint": "127.0.0.1:23308", "state": "read-only"},
		{"endpoint": "127.0.0.1:23309", "state": "read-only"}]'
}

@test "fails the old primary with 11 on the successor in a list of three, and keeps the successor fit" {
	# w2 and w3 replicated w1 up to 0-7-3; w2 was promoted and wrote 0-8-4, w3 is a
	# read-only replica, and w1 went on writing 0-7-4 as the old primary. The read-only
	# peer comes first in w1's list: the guard asks every peer, not the first.
	fresh_pair w1 w2 w3
	mdb_replicate w2 w1
	mdb_replicate w3 w1
	mdb_sql w3 "SET GLOBAL read_only=1"
	mdb_sql w1 "INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES (); INSERT INTO s.b VALUES ()"
	mdb_wait_synced w2 w1
	mdb_wait_synced w3 w1
	mdb_sql w2 "STOP SLAVE; RESET SLAVE ALL; INSERT INTO s.b VALUES ()"
	mdb_sql w1 "INSERT INTO s.b VALUES ()"
	run -11 check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23309,127.0.0.1:23308
	assert_output --partial "FAIL peer '127.0.0.1:23308' is writable too and succeeds this node"
	assert_output --partial " peer=writable peers=127.0.0.1:23309/read-only,127.0.0.1:23308/writable "
	run -0 check --host 127.0.0.1 --port 23308 --peer 127.0.0.1:23307,127.0.0.1:23309
	assert_output --partial "OK healthy"
	assert_output --partial " peer=writable-stale peers=127.0.0.1:23307/writable-stale,127.0.0.1:23309/read-only "
}

@test "exits 0 when one peer's port refuses and the other is read-only" {
	fresh_pair w1 w2 w3
	mdb_sql w3 "SET GLOBAL read_only=1"
	run -0 check --host 127.0.0.1 --port 23307 --peer 127.0.0.1:23339,127.0.0.1:23309 --verbose
	assert_output --partial "peer '127.0.0.1:23339' counts as gone: 127.0.0.1:23339 Connection refused"
	assert_output --partial " peer=read-only peers=127.0.0.1:23339/unreachable,127.0.0.1:23309/read-only "
}

@test "asks all peers at once: two silent peers both count as gone within one --timeout" {
	# Asked one after the other, the first silent peer would spend the whole deadline
	# and the second would be "not asked" (exit 3); asked at once, each times out at the
	# one deadline and counts as gone.
	fresh_pair w1 w2 w3
	mdb_sql w3 "SET GLOBAL read_only=1"
	start_silent_listener 23335
	OTHER_LISTENER=$LISTENER_PID
	start_silent_listener 23337
	timed run -0 check --host 127.0.0.1 --port 23307 --timeout 500 --verbose \
		--peer 127.0.0.1:23335,127.0.0.1:23337,127.0.0.1:23339,127.0.0.1:23309
	assert_output --partial "peer '127.0.0.1:23335' counts as gone: connect timed out"
	assert_output --partial "peer '127.0.0.1:23337' counts as gone: connect timed out"
	assert_output --partial "peers=127.0.0.1:23335/unreachable,127.0.0.1:23337/unreachable,127.0.0.1:23339/unreachable,127.0.0.1:23309/read-only "
	[ "$TIMED_MS" -lt 2000 ]
}

@test "exits 11 when one of two peers answers but cannot be queried, even with the other read-only" {
	fresh_pair w1 w2 w3
	mdb_sql w3 "SET GLOBAL read_only=1"
	mdb_sql w2 "SET sql_log_bin=0; ALTER USER ka_check@'127.0.0.1' ACCOUNT LOCK"
	run w1_trio_check --json
	mdb_sql w2 "SET sql_log_bin=0; ALTER USER ka_check@'127.0.0.1' ACCOUNT UNLOCK"
	[ "$status" -eq 11 ]
	echo "$output" | grep '^{' | jq -e '.code == 11 and .peer == "unqueryable"
		and .peers == [{"endpoint": "127.0.0.1:23308", "state": "unqueryable"},
			       {"endpoint": "127.0.0.1:23309", "state": "read-only"}]
		and (.reason | test("^peer .127.0.0.1:23308. answers but cannot be queried: .*locked"))'
}

@test "calls a read-only node without replication detached under --replication, warns, and exits 0" {
	fresh_pair
	mdb_sql w2 "SET GLOBAL read_only=1"
	run -0 check --host 127.0.0.1 --port 23308 --replication
	assert_output --partial "role=detached read_only=ON io=- sql=- lag=-"
	assert_output --partial "node is read-only and has no replication configured (detached)"
	run -0 check --host 127.0.0.1 --port 23308 --replication --json
	echo "$output" | grep '^{' | jq -e '.role == "detached" and .code == 0'
	mdb_sql w2 "SET GLOBAL read_only=0"
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
