#!/usr/bin/env bats
# ka-status against three real mariadbd on 127.0.0.1:23601-23603: p the primary, r1 and
# r2 GTID replicas of p (read_only, semi-sync). Every verdict is made to happen for
# real: OK, DEGRADED (a replica broken or lagging, semi-sync off, a node down or hung),
# NO PRIMARY, SPLIT BRAIN, DIVERGED. The pair view is --nodes p,r1. Each test starts
# from a healthy cluster (wait_verdict OK) and leaves it healthy again.
# Run as: flock /tmp/ka-it-status.lock bats tests/integration/ka-status.bats

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	mdb_start p 23601 1
	mdb_start r1 23602 2 --read-only=1
	mdb_start r2 23603 3 --read-only=1
	mdb_sql p "CREATE DATABASE t; CREATE TABLE t.a (id INT PRIMARY KEY); INSERT INTO t.a VALUES (1)"
	mdb_replicate r1 p
	mdb_replicate r2 p
	mdb_wait_synced r1 p
	mdb_wait_synced r2 p
	local dir
	dir=$(mdb_root)
	mdb_cnf - "$dir/check.cnf" ka_check "$KA_DB_PASS_CHECK"
	mdb_cnf - "$dir/app.cnf" app "$KA_DB_PASS_APP"
	mdb_cnf - "$dir/wrong.cnf" ka_check wrongpassword
	export KA_TEST_ROOT CNF="$dir/check.cnf"
	export P=127.0.0.1:23601 R1=127.0.0.1:23602 R2=127.0.0.1:23603
	export ALL=127.0.0.1:23601,127.0.0.1:23602,127.0.0.1:23603
}

teardown_file() {
	load ../helpers/mariadb
	mdb_stop_all
}

setup() {
	load ../helpers/common
	load ../helpers/mariadb
	wait_verdict OK --nodes "$ALL"
}

status() {
	ka-status --defaults-file "$CNF" "$@"
}

# Runs ka-status with the arguments until its verdict line starts with $1 (at most 20 s);
# the last run's output is in $output.
wait_verdict() {
	local want=$1 i
	shift
	for ((i = 0; i < 40; i++)); do
		output=$(status "$@" 2>&1) || true
		grep -q "^$want " <<< "$output" && return 0
		sleep 0.5
	done
	echo "verdict never became $want; last output:" >&2
	echo "$output" >&2
	return 1
}

next_id() {
	mdb_sql p "SELECT COALESCE(MAX(id), 0) + 1 FROM t.a"
}

@test "says OK (exit 0) for a healthy primary and two replicas, a row per node" {
	run -0 status --nodes "$ALL"
	assert_line --regexp '^NODE +ROLE +RO +GTID_CURRENT_POS +SOURCE +IO +SQL +LAG +SEMI_M +SEMI_S +ERRANT$'
	assert_line --regexp '^127\.0\.0\.1:23601 +primary +OFF +0-1-[0-9]+ +- +- +- +- +ON +OFF +-$'
	assert_line --regexp '^127\.0\.0\.1:23602 +replica +ON +0-1-[0-9]+ +127\.0\.0\.1:23601 +Yes +Yes +0 +OFF +ON +none$'
	assert_line --regexp '^127\.0\.0\.1:23603 +replica +ON +0-1-[0-9]+ +127\.0\.0\.1:23601 +Yes +Yes +0 +OFF +ON +none$'
	assert_line --regexp '^OK primary 127\.0\.0\.1:23601, 2 replicas healthy \| code=0 nodes=3 answered=3 writable=1 elapsed_ms=[0-9]+$'
}

@test "says OK for the pair alone" {
	run -0 status --nodes "$P,$R1"
	assert_line --regexp '^OK primary 127\.0\.0\.1:23601, 1 replica healthy \| code=0 nodes=2 '
}

@test "tells which node answers on the VIP by its server_id" {
	run -0 status --nodes "$ALL" --vip "$P"
	assert_line "vip 127.0.0.1:23601 -> 127.0.0.1:23601 (server_id 1, primary)"
}

@test "says DEGRADED (exit 12) when the VIP answers on a read-only node or not at all" {
	run -12 status --nodes "$ALL" --vip "$R1"
	assert_line "vip 127.0.0.1:23602 -> 127.0.0.1:23602 (server_id 2, replica)"
	assert_line --regexp '^DEGRADED the VIP 127\.0\.0\.1:23602 answers on the read-only node 127\.0\.0\.1:23602 \| code=12'
	run -12 status --nodes "$ALL" --vip 127.0.0.1:23619
	assert_output --partial "DEGRADED the VIP 127.0.0.1:23619 does not answer: cannot connect"
}

@test "says DEGRADED (exit 12) when a replica's SQL thread stops on a real conflict, with the server's error" {
	local id
	id=$(next_id)
	mdb_sql r2 "SET sql_log_bin=0; INSERT INTO t.a VALUES ($id); SET sql_log_bin=1"
	mdb_sql p "INSERT INTO t.a VALUES ($id)"
	wait_verdict DEGRADED --nodes "$ALL" || true
	run status --nodes "$ALL"
	mdb_sql r2 "SET sql_log_bin=0; DELETE FROM t.a WHERE id=$id; SET sql_log_bin=1; START SLAVE SQL_THREAD"
	mdb_wait_synced r2 p
	[ "$status" -eq 12 ]
	assert_line --regexp '^127\.0\.0\.1:23603 +replica +ON +0-1-[0-9]+ +127\.0\.0\.1:23601 +Yes +No +NULL '
	assert_output --regexp "DEGRADED 127\.0\.0\.1:23603: replication SQL thread of 'default' is No: .*Duplicate entry"
}

@test "says DEGRADED when a replica's IO thread is stopped" {
	mdb_sql r1 "STOP SLAVE IO_THREAD"
	run status --nodes "$P,$R1"
	mdb_sql r1 "START SLAVE IO_THREAD"
	mdb_wait_replicating r1
	[ "$status" -eq 12 ]
	assert_line --regexp '^127\.0\.0\.1:23602 +replica +ON .* +No +Yes +NULL +'
	assert_output --partial "DEGRADED 127.0.0.1:23602: replication IO thread of 'default' (from 127.0.0.1:23601) is No"
}

@test "says DEGRADED when a replica lags beyond --max-lag (MASTER_DELAY)" {
	mdb_sql r2 "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=60; START SLAVE"
	mdb_sql p "INSERT INTO t.a VALUES ($(next_id))"
	local lagging=0
	wait_verdict DEGRADED --nodes "$ALL" --max-lag 1 && lagging=1
	local degraded=$output
	run status --nodes "$ALL" --max-lag 100
	mdb_sql r2 "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE"
	mdb_wait_synced r2 p
	[ "$lagging" -eq 1 ] && [ "$status" -eq 0 ]
	[[ "$degraded" =~ "127.0.0.1:23603: replication lag of 'default' is "[0-9]+" s, above --max-lag 1" ]]
}

@test "says DEGRADED when semi-sync is disabled on the primary" {
	mdb_sql p "SET GLOBAL rpl_semi_sync_master_enabled=OFF"
	run status --nodes "$ALL"
	mdb_sql p "SET GLOBAL rpl_semi_sync_master_enabled=ON"
	[ "$status" -eq 12 ]
	assert_line --regexp '^127\.0\.0\.1:23601 +primary +OFF +0-1-[0-9]+ +- +- +- +- +OFF +OFF +-$'
	assert_output --partial "DEGRADED semi-sync is disabled on the primary 127.0.0.1:23601: commits do not wait for a replica"
}

@test "says DEGRADED when semi-sync falls back to async on the primary and is off on a replica" {
	mdb_sql r2 "SET GLOBAL rpl_semi_sync_slave_enabled=OFF; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"
	mdb_wait_replicating r2
	mdb_sql r1 "STOP SLAVE IO_THREAD"
	mdb_sql p "INSERT INTO t.a VALUES ($(next_id))"   # waits rpl_semi_sync_master_timeout (1 s)
	run status --nodes "$ALL"
	mdb_sql r2 "SET GLOBAL rpl_semi_sync_slave_enabled=ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"
	mdb_sql r1 "START SLAVE IO_THREAD"
	mdb_wait_replicating r1
	mdb_wait_replicating r2
	mdb_sql p "INSERT INTO t.a VALUES ($(next_id))"   # an acknowledged commit: semi-sync ON again
	[ "$status" -eq 12 ]
	assert_output --partial "semi-sync on the primary 127.0.0.1:23601 is OFF: it fell back to asynchronous replication"
	assert_output --partial "semi-sync is OFF on the replica 127.0.0.1:23603: it acknowledges no commit"
}

@test "says DEGRADED when a node is down (SIGKILL), and OK again once it is back" {
	mdb_kill r2
	run status --nodes "$ALL"
	mdb_launch r2
	mdb_wait_replicating r2
	[ "$status" -eq 12 ]
	assert_line --regexp '^127\.0\.0\.1:23603 +down +- +- '
	assert_line --regexp "^DEGRADED 127\.0\.0\.1:23603 is down: cannot connect to '127\.0\.0\.1:23603': .*\((2002|2013)\)"
	run -0 status --nodes "$ALL"
}

@test "costs at most --timeout with hung nodes, whatever their count" {
	local r1 r2 p one_ms two_ms three_ms
	r1=$(mdb_pid r1) r2=$(mdb_pid r2) p=$(mdb_pid p)
	kill -STOP "$r2"
	timed run status --nodes "$ALL" --timeout 500
	one_ms=$TIMED_MS
	kill -STOP "$r1"
	timed run status --nodes "$ALL" --timeout 500
	two_ms=$TIMED_MS
	local two_status=$status two_out=$output
	kill -STOP "$p"
	timed run status --nodes "$ALL" --timeout 500
	three_ms=$TIMED_MS
	kill -CONT "$p" "$r1" "$r2"
	echo "one hung: $one_ms ms, two: $two_ms ms, three: $three_ms ms"
	[ "$two_status" -eq 12 ] && [ "$status" -eq 13 ]
	[[ "$two_out" == *"127.0.0.1:23602 is down: cannot connect to '127.0.0.1:23602': timed out"* ]]
	[[ "$two_out" == *"127.0.0.1:23603 is down: cannot connect to '127.0.0.1:23603': timed out"* ]]
	[ "$one_ms" -lt 3000 ] && [ "$two_ms" -lt 3000 ] && [ "$three_ms" -lt 3000 ]
}

@test "says NO PRIMARY (exit 13) when every node is read-only" {
	mdb_sql p "SET GLOBAL read_only=1"
	run status --nodes "$ALL"
	mdb_sql p "SET GLOBAL read_only=0"
	[ "$status" -eq 13 ]
	assert_line --regexp '^127\.0\.0\.1:23601 +detached +ON '
	assert_line --regexp '^NO PRIMARY no writable node among 3 \(3 answered\); 127\.0\.0\.1:23601 is read-only and replicates from no source \| code=13'
}

@test "says SPLIT BRAIN (exit 11) when a replica is made writable too, in the pair and in the set" {
	mdb_sql r1 "SET GLOBAL read_only=0"
	run status --nodes "$P,$R1"
	local pair=$output pair_status=$status
	run status --nodes "$ALL" --prom "$BATS_TEST_TMPDIR/ka.prom"
	mdb_sql r1 "SET GLOBAL read_only=1"
	[ "$pair_status" -eq 11 ] && [ "$status" -eq 11 ]
	[[ "$pair" == *"SPLIT BRAIN 2 writable nodes: 127.0.0.1:23601 127.0.0.1:23602 (both hold the same transactions) | code=11"* ]]
	assert_line --regexp '^127\.0\.0\.1:23602 +primary +OFF '
	assert_output --partial "| code=11 nodes=3 answered=3 writable=2"
	grep -qx 'ka_status_verdict{verdict="split_brain"} 1' "$BATS_TEST_TMPDIR/ka.prom"
	grep -qx 'ka_status_writable_nodes 2' "$BATS_TEST_TMPDIR/ka.prom"
}

@test "says DIVERGED (exit 14) when a replica holds a GTID the primary lacks, by lineage not number" {
	# The classic errant transaction (FACTS 18): a local write on a replica. Its GTID
	# 0-3-N has a higher seq_no than the primary's 0-1-(N-1), yet the primary lacks it.
	mdb_sql r2 "SET sql_log_bin=0; CREATE TABLE t.local (id INT); SET sql_log_bin=1;
		INSERT INTO t.local VALUES (1)"
	local errant
	errant=$(mdb_sql r2 "SELECT @@gtid_binlog_pos")
	[[ "$errant" == 0-3-* ]]
	run status --nodes "$ALL" --json
	local json=$output json_status=$status
	run status --nodes "$ALL" --prom "$BATS_TEST_TMPDIR/ka.prom"
	mdb_sql r2 "STOP SLAVE; SET sql_log_bin=0; DROP TABLE t.local; SET sql_log_bin=1; RESET MASTER; START SLAVE"
	mdb_wait_replicating r2
	[ "$json_status" -eq 14 ] && [ "$status" -eq 14 ]
	assert_line --regexp "^127\.0\.0\.1:23603 +replica +ON +$errant +127\.0\.0\.1:23601 +Yes +Yes +0 +OFF +ON +$errant\$"
	assert_output --partial "DIVERGED errant GTIDs the primary 127.0.0.1:23601 lacks: 127.0.0.1:23603 holds $errant | code=14"
	jq -e --arg e "$errant" '.verdict == "DIVERGED" and .code_name == "diverged"
		and .nodes[2].errant == $e and .nodes[2].errant_count == 1
		and .nodes[1].errant == "" and .nodes[1].errant_count == 0' <<< "$json"
	grep -qx 'ka_status_errant_gtids{node="127.0.0.1:23603"} 1' "$BATS_TEST_TMPDIR/ka.prom"
}

@test "shows a replica as unknown when the account lacks SLAVE MONITOR" {
	run -12 ka-status --defaults-file "$(mdb_root)/app.cnf" --nodes "$P,$R1"
	assert_line --regexp '^127\.0\.0\.1:23601 +primary +OFF '
	assert_line --regexp '^127\.0\.0\.1:23602 +unknown +ON '
	assert_output --regexp "127\.0\.0\.1:23602 answered in part: query 'SHOW ALL SLAVES STATUS' failed: .*SLAVE MONITOR"
}

@test "shows every node as unknown with a wrong password, and no primary" {
	run -13 ka-status --defaults-file "$(mdb_root)/wrong.cnf" --nodes "$ALL"
	assert_line --regexp '^127\.0\.0\.1:23601 +unknown +- '
	assert_output --partial "127.0.0.1:23601 is unknown: cannot connect to '127.0.0.1:23601': Access denied"
}

@test "prints the healthy cluster as one JSON document" {
	run -0 status --nodes "$ALL" --vip "$P" --json
	[ "${#lines[@]}" -eq 1 ]
	jq -e '.verdict == "OK" and .code == 0 and .primary == "127.0.0.1:23601" and .writable == 1
		and .vip.node == "127.0.0.1:23601" and .vip.server_id == 1
		and ([.nodes[].role] == ["primary", "replica", "replica"])
		and .nodes[1].replication[0].source == "127.0.0.1:23601"
		and .nodes[1].replication[0].io == "Yes" and .nodes[1].replication[0].lag == 0
		and .nodes[1].replication[0].master_server_id == 1
		and .nodes[0].semi_sync_master == "ON" and .nodes[1].semi_sync_slave == "ON"
		and (.nodes[0].gtid_current_pos | test("^0-1-[0-9]+$"))' <<< "$output"
}

@test "writes Prometheus metrics of the real cluster that promtool accepts" {
	run -0 status --nodes "$ALL" --prom "$BATS_TEST_TMPDIR/ka.prom"
	run -0 promtool check metrics < "$BATS_TEST_TMPDIR/ka.prom"
	local f="$BATS_TEST_TMPDIR/ka.prom"
	grep -qx 'ka_status_up{node="127.0.0.1:23602"} 1' "$f"
	grep -qx 'ka_status_primary{node="127.0.0.1:23601"} 1' "$f"
	grep -qx 'ka_status_replication_io_running{node="127.0.0.1:23603",connection=""} 1' "$f"
	grep -qx 'ka_status_replication_lag_seconds{node="127.0.0.1:23603",connection=""} 0' "$f"
	grep -qx 'ka_status_semi_sync_master_on{node="127.0.0.1:23601"} 1' "$f"
	grep -qx 'ka_status_verdict{verdict="ok"} 1' "$f"
	grep -qx 'ka_status_nodes_answered 3' "$f"
}

@test "redraws with --watch and shows a change between two runs" {
	(sleep 1.5; mdb_sql r1 "STOP SLAVE SQL_THREAD") 3>&- &
	local bg=$!
	run --separate-stderr timeout --preserve-status -s INT 4 \
		ka-status --defaults-file "$CNF" --nodes "$ALL" --watch 1
	wait "$bg"
	mdb_sql r1 "START SLAVE SQL_THREAD"
	[ "$status" -eq 12 ]
	grep -q '^OK ' <<< "$output"
	grep -q "^DEGRADED 127.0.0.1:23602: replication SQL thread of 'default' is No" <<< "$output"
}
