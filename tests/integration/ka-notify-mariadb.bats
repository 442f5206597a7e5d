#!/usr/bin/env bats
# ka-notify-mariadb against real mariadbd instances on 127.0.0.1:23450-23452:
#   a  primary (23450)   b  GTID replica of a, read-only (23451)   (pair_reset rebuilds both)
#   c  standalone (23452): concurrency, FIFO, hung-server tests
# Nothing listens on 23499: a peer there is down. The HA account is ka_ha (FACTS 27
# privileges, plus RELOAD for RESET SLAVE ALL); [ka-replication] is repl.

PA=23450
PB=23451
PC=23452
PDEAD=23499
PD=23453   # d, e: MariaDB's default semi-sync timeouts, semi-sync on both sides
PE=23454
PF=23455   # f, g: a third and a fourth node (several peers, --replica; issue 12)
PG=23456

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	mdb_start a $PA 1
	mdb_start b $PB 2
	mdb_start c $PC 3
	# d, e: a pair on MariaDB's default semi-sync timeouts (issue 10 part 4)
	mdb_start d $PD 4 --rpl-semi-sync-master-timeout=10000
	mdb_start e $PE 5 --rpl-semi-sync-master-timeout=10000
	mdb_start f $PF 6
	mdb_start g $PG 7
	local n dir
	for n in d e; do
		mdb_sql $n "SET sql_log_bin=0; GRANT RELOAD ON *.* TO ka_ha@'localhost', ka_ha@'127.0.0.1'"
	done
	for n in a b c f g; do
		# RESET SLAVE ALL needs RELOAD; semi-sync off so a lone primary commits at once.
		mdb_sql $n "SET sql_log_bin=0; GRANT RELOAD ON *.* TO ka_ha@'localhost', ka_ha@'127.0.0.1';
			SET GLOBAL rpl_semi_sync_master_enabled=0"
	done
	dir=$(mdb_root)
	mdb_cnf - "$dir/ha.cnf" ka_ha "$KA_DB_PASS_HA"
	printf '[ka-replication]\nuser=repl\npassword=%s\n' "$KA_DB_PASS_REPL" >> "$dir/ha.cnf"
	printf '[ka-check-mariadb]\nuser=ka_check\npassword=%s\n' "$KA_DB_PASS_CHECK" >> "$dir/ha.cnf"
	export KA_TEST_ROOT CNF="$dir/ha.cnf"
}

teardown_file() {
	load ../helpers/mariadb
	mdb_stop_all
}

setup() {
	load ../helpers/common
	load ../helpers/mariadb
	T=$(mdb_root)/t$BATS_TEST_NUMBER
	mkdir -p "$T"
	APP_PID=
	MON_PID=
	GREETER_PIDS=
	SEMI_ON=
}

teardown() {
	local p
	for p in $APP_PID $MON_PID $GREETER_PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	local n pid
	for n in a b c d e f g; do
		pid=$(mdb_pid $n)
		[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
	done
	# semi-sync off again: it also releases commits still waiting for an ACK
	[ -z "$SEMI_ON" ] || mdb_sql "$SEMI_ON" "SET GLOBAL rpl_semi_sync_master_enabled=0"
	return 0
}

# ka-notify-mariadb for one node of a pair: its port, the peer's port, its state dir.
ka_pair_node() {
	local port=$1 peer=$2 dir=$3
	shift 3
	ka-notify-mariadb --defaults-file "$CNF" --port "$port" --peer "127.0.0.1:$peer" \
		--state-dir "$T/$dir" --fault-file "$T/$dir/fault" "$@"
}

ka_a() { ka_pair_node "$PA" "$PB" sa "$@"; }
ka_b() { ka_pair_node "$PB" "$PA" sb "$@"; }

ka_c() {
	ka-notify-mariadb --defaults-file "$CNF" --port $PC --state-dir "$T/sc" \
		--catchup-timeout 1 --timeout 1000 "$@"
}

# a: writable primary with t.x holding one row; b: its read-only GTID replica, synced.
pair_reset() {
	local n
	for n in b a; do
		mdb_sql $n "STOP ALL SLAVES; RESET SLAVE ALL; SET GLOBAL read_only=0;
			DROP DATABASE IF EXISTS t; RESET MASTER; SET GLOBAL gtid_slave_pos=''"
	done
	mdb_sql a "CREATE DATABASE t; CREATE TABLE t.x (i INT PRIMARY KEY); INSERT INTO t.x VALUES (1)"
	mdb_replicate b a
	mdb_sql b "SET GLOBAL read_only=1"
	mdb_wait_synced b a
}

ro() { mdb_sql "$1" "SELECT @@global.read_only"; }
slave_running() { mdb_sql "$1" "SHOW GLOBAL STATUS LIKE 'Slave_running'" | cut -f2; }
replication_rows() { mdb_sql "$1" "SHOW ALL SLAVES STATUS" | wc -l; }
positions() { mdb_sql "$1" "SELECT @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_current_pos"; }
io_pos() {
	mariadb --no-defaults -uroot -S "$(mdb_socket "$1")" -e "SHOW SLAVE STATUS\G" |
		awk '$1 == "Gtid_IO_Pos:" { print $2 }'
}
journal() { cat "$T/$1/journal.jsonl"; }
last_journal() { tail -1 "$T/$1/journal.jsonl"; }

# Waits until SQL on NAME prints EXPECTED (up to 10 s).
wait_value() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(mdb_sql "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
		sleep 0.1
	done
	echo "'$1' never answered '$3' to: $2 (last: $(mdb_sql "$1" "$2" 2>&1))" >&2
	return 1
}

# An application connection that sits in SELECT SLEEP(30) on port $1.
start_app_client() {
	mariadb --no-defaults -uapp -p"$KA_DB_PASS_APP" -h127.0.0.1 -P"$1" \
		-e "SELECT SLEEP(30)" >/dev/null 2>&1 3>&- &
	APP_PID=$!
	local n=${2:?}
	wait_value "$n" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='app'" 1
}

# Succeeds when the background app client has ended (its connection was killed).
app_client_ended() {
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$APP_PID" 2>/dev/null || { wait "$APP_PID" || true; APP_PID=; return 0; }
		sleep 0.1
	done
	return 1
}

@test "promotes a replica: relay log drained, replication reset, writable, journaled" {
	pair_reset
	mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=2; START SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (2), (3)"
	local pos
	pos=$(mdb_sql a "SELECT @@gtid_binlog_pos")
	for _ in $(seq 50); do [ "$(io_pos b)" = "$pos" ] && break; sleep 0.1; done
	[ "$(io_pos b)" = "$pos" ]
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 1 ]   # received, not applied yet

	run -0 ka_b --catchup-timeout 30 master
	assert_output --partial "OK promoted: read_only=OFF, promotion GTID $pos"
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 3 ]
	[ "$(ro b)" = 0 ]
	[ "$(replication_rows b)" = 0 ]
	[ "$(ro a)" = 1 ]                                     # the old primary is fenced
	[ "$(wc -l < "$T/sb/journal.jsonl")" = 1 ]
	last_journal sb | jq -e --arg pos "$pos" '.event == "master" and .decision == "promoted"
		and .code == 0 and .ticket == 1 and .before.read_only == true
		and .before.replication[0].source == "127.0.0.1"
		and .before.replication[0].gtid_io_pos == $pos
		and .after.read_only == false and .after.gtid_binlog_pos == $pos
		and .peer.fenced == true
		and ([.steps[] | select(.step | startswith("promotion mark"))] == [])
		and ([.steps[] | select(.step == "catch up" and .result == "ok")] | length == 1)
		and ([.steps[] | select(.step | startswith("RESET SLAVE ALL"))] | length == 1)
		and all(.steps[]; .duration_ms >= 0)'
}

@test "switchover under writes: every write the old primary acknowledged is on the new one" {
	pair_reset
	(
		for i in $(seq 2 3000); do
			mariadb --no-defaults -uapp -p"$KA_DB_PASS_APP" -h127.0.0.1 -P$PA \
				-e "INSERT INTO t.x VALUES ($i)" 2>>"$T/writer.err" || break
			echo "$i" >> "$T/acked"
		done
	) 3>&- &
	APP_PID=$!
	for _ in $(seq 50); do
		[ -f "$T/acked" ] && [ "$(wc -l < "$T/acked")" -ge 20 ] && break
		sleep 0.1
	done
	run -0 ka_b master
	assert_output --partial "OK promoted"
	app_client_ended                                     # its writes now fail on a
	[ "$(ro a)" = 1 ]
	local acked missing
	acked=$(wc -l < "$T/acked")
	[ "$acked" -ge 20 ]
	missing=$(mdb_sql b "SELECT i FROM t.x" | sort | comm -13 - <(sort "$T/acked"))
	[ -z "$missing" ] || { echo "acknowledged on a, missing on b: $missing"; return 1; }
	last_journal sb | jq -e '.peer.fenced == true'
}

@test "promoting a node that already is the primary changes nothing" {
	pair_reset
	local before
	before=$(positions a)
	run -0 ka_a master
	assert_output --partial "OK already-primary"
	[ "$(ro a)" = 0 ]
	[ "$(positions a)" = "$before" ]
	[ "$(ro b)" = 1 ]
	[ "$(slave_running b)" = ON ]
	last_journal sa | jq -e '.decision == "already-primary" and .code == 0
		and ([.steps[] | select(.step | startswith("SET GLOBAL"))] | length == 0)'
}

@test "demotes a primary: read_only=1, the app connection is killed, Binlog Dump is not" {
	pair_reset
	start_app_client $PA a
	# the checker's account ([ka-check-mariadb] in the option file) is spared
	mariadb --no-defaults -uka_check -p"$KA_DB_PASS_CHECK" -h127.0.0.1 -P$PA \
		-e "SELECT SLEEP(30)" >/dev/null 2>&1 3>&- &
	MON_PID=$!
	wait_value a "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='ka_check'" 1
	local dump pos
	dump=$(mdb_sql a "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
	[ -n "$dump" ]
	pos=$(positions a)
	run -0 ka_a --no-rejoin backup
	assert_output --partial "OK demoted: read_only=ON, 1 client connection(s) killed"
	[ "$(ro a)" = 1 ]
	app_client_ended
	[ "$(mdb_sql a "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")" = "$dump" ]
	[ "$(slave_running b)" = ON ]
	kill -0 "$MON_PID"
	[ "$(positions a)" = "$pos" ]                        # nothing binlogged: no errant GTID
}

@test "--keep-user spares the named accounts and --no-kill spares everyone" {
	pair_reset
	start_app_client $PA a
	run -0 ka_a --no-rejoin --keep-user nobody,app backup
	assert_output --partial "0 client connection(s) killed"
	kill -0 "$APP_PID"
	mdb_sql a "SET GLOBAL read_only=0"
	run -0 ka_a --no-rejoin --no-kill backup
	assert_output --partial "clients kept (--no-kill)"
	kill -0 "$APP_PID"
	[ "$(ro a)" = 1 ]
}

@test "demotes a writable replica without touching its replication threads" {
	pair_reset
	mdb_sql b "SET GLOBAL read_only=0"
	start_app_client $PB b
	run -0 ka_b fault
	assert_output --partial "OK demoted"
	[ "$(ro b)" = 1 ]
	app_client_ended
	[ "$(slave_running b)" = ON ]
	mdb_sql a "INSERT INTO t.x VALUES (7)"
	mdb_wait_synced b a
}

@test "demotes even when a client holds a table lock: kills it while read_only=1 waits" {
	pair_reset
	mariadb --no-defaults -uroot -S "$(mdb_socket a)" \
		-e "LOCK TABLES t.x WRITE; SELECT SLEEP(30)" >/dev/null 2>&1 3>&- &
	APP_PID=$!
	wait_value a "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'" 1
	run -0 ka_a --no-rejoin --timeout 500 backup
	assert_output --partial "OK demoted"
	[ "$(ro a)" = 1 ]
	app_client_ended
	# the lock holder is killed while read_only=1 waits; on a loaded host the first try
	# may run out of --timeout and be retried (--hung-retry): the last try is confirmed
	last_journal sa | jq -e '[.steps[] | select(.step == "SET GLOBAL read_only=1 on local")]
		| (.[-1].result == "ok") and (.[-1].detail | startswith("read_only=1 read back; "))
		and ([.[].detail | capture("(?<n>[0-9]+) (writer )?connection").n | tonumber]
			| add >= 1)' || { last_journal sa | jq -c '.steps'; false; }
}

@test "demoting a read-only node again is a no-op that kills nobody" {
	pair_reset
	start_app_client $PB b
	run -0 ka_b --no-rejoin backup
	assert_output --partial "OK already-read-only"
	kill -0 "$APP_PID"
	last_journal sb | jq -e '.decision == "already-read-only" and .after.read_only == true'
}

@test "rejoins the old primary under the new one: both threads run, data equal" {
	pair_reset
	run -0 ka_b master
	mdb_sql b "INSERT INTO t.x VALUES (10), (11)"
	run -0 ka_a backup
	assert_output --partial "rejoin: rejoined 127.0.0.1:$PB"
	[ "$(ro a)" = 1 ]
	[ "$(slave_running a)" = ON ]
	mdb_sql b "INSERT INTO t.x VALUES (12)"
	mdb_wait_synced a b
	[ "$(mdb_sql a 'CHECKSUM TABLE t.x' | cut -f2)" = "$(mdb_sql b 'CHECKSUM TABLE t.x' | cut -f2)" ]
	[ "$(mdb_sql a 'SELECT COUNT(*) FROM t.x')" = 4 ]
	last_journal sa | jq -e '.rejoin | startswith("rejoined")'
	[ ! -e "$T/sa/fault" ]
	! grep -q "$KA_DB_PASS_REPL" "$T/sa/journal.jsonl"
	[[ "$output" != *"$KA_DB_PASS_REPL"* ]]
	# a second BACKUP leaves the running replica alone
	run -0 ka_a backup
	assert_output --partial "rejoin: not needed: replicating from 127.0.0.1:$PB"
}

@test "switches back and forth: a rejoined former primary is promoted again at once" {
	pair_reset
	run -0 ka_b master
	run -0 ka_a backup                                   # rejoins, current_pos, no new writes
	assert_output --partial "rejoined 127.0.0.1:$PB"
	timed run -0 ka_a master
	assert_output --partial "OK promoted"
	[ "$TIMED_MS" -lt 5000 ]                             # the catch-up did not stall
	run -0 ka_b backup
	assert_output --partial "rejoined 127.0.0.1:$PA"
	mdb_sql a "INSERT INTO t.x VALUES (15)"
	mdb_wait_synced b a
	[ "$(ro a)" = 0 ]
	[ "$(ro b)" = 1 ]
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 2 ]
}

@test "refuses to rejoin a node with errant transactions: exit 9, nothing changed" {
	pair_reset
	mdb_sql b "STOP SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (20)"          # never reaches b: errant on a later
	run -0 ka-notify-mariadb --defaults-file "$CNF" --port $PB --peer 127.0.0.1:$PDEAD \
		--state-dir "$T/sb" master                  # a is "down": b takes over
	assert_output --partial "OK promoted"
	mdb_sql a "SET GLOBAL read_only=1"               # a restarts read-only (rule 1)
	local before errant
	before=$(positions a)
	errant=$(mdb_sql a "SELECT @@gtid_binlog_pos")
	run -9 ka_a backup
	assert_output --partial "FAIL rejoin-diverged: this node holds transactions the primary 127.0.0.1:$PB lacks: $errant"
	[ "$(ro a)" = 1 ]
	[ "$(replication_rows a)" = 0 ]
	[ "$(positions a)" = "$before" ]
	[ "$(cat "$T/sa/fault")" = 1 ]
	last_journal sa | jq -e --arg e "$errant" '.code == 9 and (.diverged | startswith($e))
		and (.operator_action | contains("clear-fault"))'
}

@test "treats the primary's 1236 answer (binlogs purged) as divergence and undoes the attempt" {
	pair_reset
	mdb_sql b "STOP SLAVE"
	run -0 ka-notify-mariadb --defaults-file "$CNF" --port $PB --peer 127.0.0.1:$PDEAD \
		--state-dir "$T/sb" master                  # b takes over at 0-1-3, as a has
	# a's history is in b's (the errant check passes), but b can no longer serve it
	mdb_sql b "INSERT INTO t.x VALUES (30); FLUSH BINARY LOGS; INSERT INTO t.x VALUES (31)"
	mdb_sql b "PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 DAY"
	mdb_sql a "SET GLOBAL read_only=1"
	local before
	before=$(positions a)
	run -9 ka_a backup
	assert_output --partial "does not have this node's position"
	assert_output --partial "1236"
	[ "$(ro a)" = 1 ]
	[ "$(replication_rows a)" = 0 ]
	[ "$(positions a)" = "$before" ]
	[ "$(cat "$T/sa/fault")" = 1 ]
	last_journal sa | jq -e '.decision == "rejoin-diverged" and
		([.steps[] | select(.step == "confirm replication" and .result == "failed")] | length == 1)'
}

@test "refuses promotion when the reachable peer holds transactions this node lacks" {
	pair_reset
	mdb_sql b "STOP SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (40)"
	run -9 ka_b master
	assert_output --partial "FAIL refused-peer-ahead: peer 127.0.0.1:$PA holds transactions this node lacks"
	[ "$(ro b)" = 1 ]
	[ "$(replication_rows b)" = 1 ]
	[ "$(ro a)" = 0 ]                                   # not fenced: nothing was promoted
	[ "$(cat "$T/sb/fault")" = 1 ]
	last_journal sb | jq -e '.decision == "refused-peer-ahead" and .fault_file == "set"'
	# the next event does not lift it; the operator does
	run -0 ka_b --no-rejoin backup
	[ "$(cat "$T/sb/fault")" = 1 ]
	run -0 ka_b clear-fault
	assert_output --partial "OK fault-cleared"
	[ "$(cat "$T/sb/fault")" = 0 ]
}

@test "a node refused for being behind is rejoined by the operator, which lifts the FAULT" {
	pair_reset
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"
	mdb_sql a "INSERT INTO t.x VALUES (45)"
	run -9 ka_b master
	[ "$(cat "$T/sb/fault")" = 1 ]
	run -0 ka_b rejoin
	assert_output --partial "OK rejoin: rejoined 127.0.0.1:$PA"
	[ "$(cat "$T/sb/fault")" = 0 ]
	mdb_wait_synced b a
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 2 ]
	[ "$(ro b)" = 1 ]
}

# --- issue 16, cases 3, 5, 6, 8, 9: catch-up, GTID lineage, whole positions, file/position
# replication, stale standbys (see the man page's "When a GTID is held") ---

# ka_b with a peer that is down (the usual failover: nothing answers on PDEAD).
ka_b_alone() {
	ka-notify-mariadb --defaults-file "$CNF" --port $PB --peer 127.0.0.1:$PDEAD \
		--state-dir "$T/sb" --fault-file "$T/sb/fault" "$@"
}

# Field $2 of NAME's SHOW SLAVE STATUS.
slave_field() {
	mariadb --no-defaults -uroot -S "$(mdb_socket "$1")" -e "SHOW SLAVE STATUS\G" |
		awk -v f="$2:" '$1 == f { print $2 }'
}

# Waits (up to 10 s) until field $2 of NAME's SHOW SLAVE STATUS is $3.
wait_slave_field() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(slave_field "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	echo "'$1': $2 is '$(slave_field "$1" "$2")', never '$3'" >&2
	return 1
}

@test "case 3: catch-up stops the IO thread first: every batch acknowledged by semi-sync is on the promoted node" {
	pair_reset
	SEMI_ON=a
	mdb_sql a "SET GLOBAL rpl_semi_sync_master_timeout=60000; SET GLOBAL rpl_semi_sync_master_enabled=1"
	mdb_sql b "STOP SLAVE; START SLAVE"                # b acknowledges as a semi-sync replica
	wait_value a "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_CLIENTS'" 1
	(
		for k in $(seq 1 3000); do
			mariadb --no-defaults -uapp -p"$KA_DB_PASS_APP" -h127.0.0.1 -P$PA \
				-Dt -e "INSERT INTO t.x SELECT $k * 1000 + seq FROM seq_1_to_300" \
				2>>"$T/writer.err" || break
			echo "$k" >> "$T/acked"
		done
	) 3>&- &
	APP_PID=$!
	for _ in $(seq 100); do
		[ -f "$T/acked" ] && [ "$(wc -l < "$T/acked")" -ge 10 ] && break
		sleep 0.1
	done
	kill -0 "$APP_PID" || { cat "$T/writer.err"; return 1; }   # still writing
	# b's applier lags for a second (a lock its SQL thread waits for); its IO thread
	# receives and acknowledges all the while
	mdb_sql b "LOCK TABLES t.x READ; DO SLEEP(1); UNLOCK TABLES" 3>&- &
	MON_PID=$!
	wait_value b "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'DO SLEEP%'" 1
	run ka_b_alone --catchup-timeout 30 master         # a "unreachable", still writing
	echo "$output"
	[ "$status" -eq 0 ]
	kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; APP_PID=
	assert_output --partial "OK promoted"
	local acked missing
	acked=$(wc -l < "$T/acked")
	[ "$acked" -ge 10 ]
	# every batch a acknowledged (b's IO thread had received it) is whole on b
	missing=$(mdb_sql b "SELECT i DIV 1000 FROM t.x WHERE i >= 1000 GROUP BY 1 HAVING COUNT(*) = 300" |
		sort | comm -13 - <(sort "$T/acked"))
	[ -z "$missing" ] || { echo "acknowledged on a, missing on b: $missing"; return 1; }
	last_journal sb | jq -e '
		([.steps | to_entries[] | select(.value.step == "kill IO threads on local") | .key][0]) as $i
		| ([.steps | to_entries[] | select(.value.step == "RESET SLAVE ALL on local") | .key][0]) as $j
		| $i != null and $j != null and $i < $j'
}

@test "case 5: refuses to promote a node whose higher seq_no is another lineage (0-1-5 does not hold 0-2-5)" {
	pair_reset                                       # a and b hold 0-1-3
	mdb_sql b "STOP SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (2); INSERT INTO t.x VALUES (3)"   # 0-1-5, never on b
	run -0 ka_b_alone master                         # a is "down": b takes over
	assert_output --partial "OK promoted"
	mdb_sql b "INSERT INTO t.x VALUES (30)"          # 0-2-5 (0-2-4 is the promotion mark)
	mdb_sql b "SET GLOBAL read_only=1"
	mdb_sql a "SET GLOBAL read_only=1"               # a comes back read-only (rule 1)
	[ "$(mdb_sql a 'SELECT @@gtid_binlog_pos')" = 0-1-5 ]
	[ "$(mdb_sql b 'SELECT @@gtid_binlog_pos')" = 0-2-5 ]
	run -9 ka_a master
	assert_output --partial "FAIL refused-peer-ahead: peer 127.0.0.1:$PB holds transactions this node lacks"
	assert_output --partial "0-2-5 (holds 0-1-5)"
	[ "$(ro a)" = 1 ]
	[ "$(cat "$T/sa/fault")" = 1 ]
}

@test "case 5: master-master: a SQL thread stopped by 1950 at Gtid_IO_Pos 0-2-4 refuses a node at 0-1-5" {
	pair_reset
	mdb_sql a "SET GLOBAL gtid_slave_pos=@@gtid_binlog_pos"
	mdb_replicate a b                                # both ways, at 0-1-3
	mdb_sql b "STOP SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (2); INSERT INTO t.x VALUES (3)"   # 0-1-5 on a only
	mdb_sql b "SET GLOBAL read_only=0; INSERT INTO t.x VALUES (40); SET GLOBAL read_only=1"
	wait_slave_field a Last_SQL_Errno 1950
	[ "$(io_pos a)" = 0-2-4 ]
	mdb_sql a "SET GLOBAL read_only=1"
	run -9 ka-notify-mariadb --defaults-file "$CNF" --port $PA --peer 127.0.0.1:$PDEAD \
		--mode master-master --state-dir "$T/sa" --fault-file "$T/sa/fault" master
	assert_output --partial "FAIL refused-sql-stopped"
	assert_output --partial "received 0-2-4"
	[ "$(ro a)" = 1 ]
}

# b holds 0-2-4 (a local write while it was not replicating) behind 0-1-10 from a: its
# positions all say 0-1-10, only its gtid_binlog_state still names 0-2-4.
hide_errant_gtid_on_b() {
	mdb_sql b "STOP SLAVE"
	mdb_sql b "SET GLOBAL read_only=0; INSERT INTO t.x VALUES (50); SET GLOBAL read_only=1"
	mdb_sql a "SET SESSION gtid_seq_no=10; INSERT INTO t.x VALUES (51)"
	mdb_sql b "START SLAVE"
	mdb_wait_synced b a
	[ "$(mdb_sql b 'SELECT @@gtid_binlog_pos, @@gtid_current_pos')" = "0-1-10	0-1-10" ]
	[ "$(mdb_sql b 'SELECT @@gtid_binlog_state')" = "0-2-4,0-1-10" ]
}

@test "case 5: a GTID the peer holds behind a newer one from another server still refuses the promotion" {
	pair_reset
	hide_errant_gtid_on_b
	mdb_sql a "SET GLOBAL read_only=1"
	run -9 ka_a master
	assert_output --partial "FAIL refused-peer-ahead: peer 127.0.0.1:$PB holds transactions this node lacks"
	assert_output --partial ": 0-2-4 (holds 0-1-10)"
	[ "$(ro a)" = 1 ]
}

@test "case 5: rejoin refuses a node whose errant GTID hides behind a newer one from the primary" {
	pair_reset
	hide_errant_gtid_on_b
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"
	run -9 ka_b backup
	assert_output --partial "FAIL rejoin-diverged: this node holds transactions the primary 127.0.0.1:$PA lacks: 0-2-4"
	[ "$(replication_rows b)" = 0 ]
	[ "$(cat "$T/sb/fault")" = 1 ]
}

@test "every replication connection is read, not only 8: a promotion resets all ten" {
	pair_reset
	local i
	for i in $(seq 1 9); do                           # nine more sources, never started
		mdb_sql b "CHANGE MASTER 'src$i' TO MASTER_HOST='127.0.0.1', MASTER_PORT=$((23489 + i)),
			MASTER_USER='repl', MASTER_USE_GTID=slave_pos"
	done
	[ "$(mdb_sql b 'SHOW ALL SLAVES STATUS' | wc -l)" = 10 ]
	run -0 ka_b master
	assert_output --partial "OK promoted"
	[ "$(mdb_sql b 'SHOW ALL SLAVES STATUS' | wc -l)" = 0 ]
	last_journal sb | jq -e '.before.replication | length == 10'
}

@test "case 9: file/position replication (MASTER_USE_GTID=no) is drained to Read_Master_Log_Pos before the promotion" {
	pair_reset
	mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_USE_GTID=no, MASTER_DELAY=5; START SLAVE"
	mdb_wait_replicating b
	mdb_sql a "INSERT INTO t.x VALUES (2), (3)"
	wait_slave_field b Read_Master_Log_Pos "$(mdb_sql a 'SHOW MASTER STATUS' | cut -f2)"
	[ "$(slave_field b Exec_Master_Log_Pos)" -lt "$(slave_field b Read_Master_Log_Pos)" ]
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 1 ]   # received, not applied yet
	run -0 ka_b_alone --catchup-timeout 30 master
	assert_output --partial "OK promoted"
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 3 ]
	[ "$(replication_rows b)" = 0 ]
}

@test "case 8: positions longer than 1024 characters (80 domains) are read whole and the gate holds" {
	pair_reset
	local d sql=""
	for d in $(seq 1000000001 1000000080); do
		sql+="SET SESSION gtid_domain_id=$d; INSERT INTO t.x VALUES ($((d - 1000000000 + 100)));"
	done
	mdb_sql a "$sql"
	mdb_wait_synced b a
	[ "$(mdb_sql b 'SELECT LENGTH(@@gtid_binlog_pos)')" -gt 1024 ]
	mdb_sql b "STOP SLAVE"
	mdb_sql a "SET SESSION gtid_domain_id=1000000080; INSERT INTO t.x VALUES (999)"
	run -9 ka_b master                               # a answers: the gate must see it
	assert_output --partial "FAIL refused-peer-ahead"
	assert_output --partial "1000000080-1-2 (holds 1000000080-1-1)"
	[ "$(ro b)" = 1 ]
	[ "$(ro a)" = 0 ]
}

@test "case 8: a GTID history that cannot be read whole refuses the promotion (exit 9), never counts as empty" {
	pair_reset
	local s sql=""
	for s in $(seq 1001 1513); do                   # 513 servers in domain 0: past KA_GTID_MAX
		sql+="SET SESSION server_id=$s; INSERT INTO t.x VALUES ($s);"
	done
	mdb_sql a "$sql"
	mdb_wait_synced b a
	run -9 ka_b_alone master
	assert_output --partial "FAIL refused-position-unreadable"
	assert_output --partial "gtid_binlog_state"
	[ "$(ro b)" = 1 ]
	[ "$(cat "$T/sb/fault")" = 1 ]
}

@test "case 6: a BACKUP whose peer is not a primary yet retries the rejoin and joins once the peer is promoted" {
	pair_reset
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"           # both read-only, b replicates from no one
	mdb_sql a "SET GLOBAL read_only=1"
	ka_b --rejoin-retry 30 backup >"$T/backup.out" 2>&1 3>&- &
	local pid=$! rc=0
	sleep 2
	mdb_sql a "SET GLOBAL read_only=0; INSERT INTO t.x VALUES (70)"   # a became the primary
	wait $pid || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/backup.out"; return 1; }
	grep -q "rejoin: rejoined 127.0.0.1:$PA" "$T/backup.out"
	[ "$(slave_running b)" = ON ]
	mdb_wait_synced b a
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x WHERE i = 70')" = 1 ]
	[ ! -e "$T/sb/fault" ]
}

@test "case 6: a stale standby is forced to FAULT when no rejoin happens within --rejoin-retry" {
	pair_reset
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"
	mdb_sql a "SET GLOBAL read_only=1"
	timed run -9 ka_b --rejoin-retry 2 backup
	assert_output --partial "FAIL rejoin-stale: this node is read-only and replicates from no one"
	[ "$TIMED_MS" -lt 15000 ]
	[ "$(cat "$T/sb/fault")" = 1 ]
	last_journal sb | jq -e '.decision == "rejoin-stale" and .code == 9
		and (.rejoin | startswith("stale: no rejoin within 2 s"))
		and (.operator_action | contains("rejoin"))'
	# the peer unreachable instead: the same
	run -9 ka_b_alone --rejoin-retry 1 backup
	assert_output --partial "the peer is unreachable"
	# the operator's rejoin lifts it once the peer is the primary
	mdb_sql a "SET GLOBAL read_only=0"
	run -0 ka_b rejoin
	[ "$(cat "$T/sb/fault")" = 0 ]
}

@test "case 6: a BACKUP retrying its rejoin gives way to the MASTER that follows it at start, without a FAULT" {
	pair_reset
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"           # a fresh pair: both read-only
	mdb_sql a "SET GLOBAL read_only=1"
	ka_b --rejoin-retry 60 backup >"$T/backup.out" 2>&1 3>&- &
	local pid=$! rc=0
	sleep 1.5
	timed run -0 ka_b master
	wait $pid || rc=$?
	[ "$rc" -eq 0 ]
	[ "$TIMED_MS" -lt 10000 ]                          # the retry gave way within a pause
	assert_output --partial "OK promoted"
	[ "$(ro b)" = 0 ]
	[ ! -e "$T/sb/fault" ]
	journal sb | jq -s -e '.[0].event == "backup" and (.[0].rejoin | startswith("skipped: superseded"))
		and .[1].event == "master" and .[1].decision == "promoted"'
}

@test "refuses promotion when the relay log is not applied within --catchup-timeout" {
	pair_reset
	mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=60; START SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (50)"
	local pos
	pos=$(mdb_sql a "SELECT @@gtid_binlog_pos")
	for _ in $(seq 50); do [ "$(io_pos b)" = "$pos" ] && break; sleep 0.1; done
	timed run -9 ka_b --catchup-timeout 2 master
	assert_output --partial "FAIL refused-catchup-timeout: catch-up timed out after 2 s: received $pos"
	[ "$TIMED_MS" -lt 10000 ]
	[ "$(ro b)" = 1 ]
	[ "$(replication_rows b)" = 1 ]
	[ "$(ro a)" = 0 ]
	[ "$(cat "$T/sb/fault")" = 1 ]
}

@test "a newer BACKUP stops a promotion that is waiting for catch-up: nothing changes" {
	pair_reset
	mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=60; START SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (55)"
	ka_b --catchup-timeout 30 master >"$T/master.out" 2>&1 3>&- &
	local m=$!
	sleep 1
	timed run -0 ka_b backup
	wait $m
	[ "$TIMED_MS" -lt 5000 ]
	grep -q "OK superseded: a newer event arrived during catch-up" "$T/master.out"
	[ "$(ro b)" = 1 ]
	[ "$(ro a)" = 0 ]
	[ "$(replication_rows b)" = 1 ]
	[ ! -e "$T/sb/fault" ]
	journal sb | jq -s -e '.[0].event == "master" and .[0].decision == "superseded"
		and .[1].event == "backup" and .[1].ticket == 2'
}

@test "a MASTER that waited behind a held lock is superseded by a later BACKUP" {
	mdb_sql c "SET GLOBAL read_only=0"
	mkdir -p "$T/sc"
	flock "$T/sc/ka-notify-mariadb.lock" sleep 1 3>&- &
	local holder=$!
	sleep 0.2
	ka_c master >/dev/null 2>&1 3>&- &
	local m=$!
	sleep 0.2
	ka_c backup >/dev/null 2>&1 3>&- &
	local b=$!
	wait $holder $m $b
	[ "$(ro c)" = 1 ]
	journal sc | jq -s -e 'map({(.event): .decision}) | add
		| .master == "superseded" and .backup == "demoted"'
}

@test "master-master promotion keeps replication running both ways" {
	pair_reset
	mdb_sql a "SET GLOBAL gtid_slave_pos=@@gtid_binlog_pos"
	mdb_replicate a b
	run -0 ka_b --mode master-master master
	assert_output --partial "replication kept (master-master)"
	[ "$(ro b)" = 0 ]
	[ "$(ro a)" = 1 ]
	[ "$(slave_running b)" = ON ]
	[ "$(slave_running a)" = ON ]
	mdb_sql b "INSERT INTO t.x VALUES (60)"
	mdb_wait_synced a b
	[ "$(mdb_sql a 'SELECT COUNT(*) FROM t.x WHERE i = 60')" = 1 ]
}

@test "concurrent BACKUP and MASTER: the final state is always the last event's" {
	local i last ev want
	for i in $(seq 10); do
		ka_c backup >/dev/null 2>&1 3>&- &
		ka_c master >/dev/null 2>&1 3>&- &
		wait
		last=$(jq -s -c 'map(select(.ticket != null)) | max_by(.ticket)' "$T/sc/journal.jsonl")
		ev=$(jq -r .event <<< "$last")
		want=$([ "$ev" = master ] && echo 0 || echo 1)
		jq -e '.decision != "superseded" and .code == 0' <<< "$last"
		[ "$(ro c)" = "$want" ] || { echo "round $i: last event $ev, read_only $(ro c)"; return 1; }
	done
	[ "$(jq -s 'map(.ticket) | unique | length' "$T/sc/journal.jsonl")" = 20 ]
}

@test "--fifo handles keepalived's lines in order until SIGTERM" {
	mkfifo "$T/fifo"
	# the binary itself in the background (not a function's subshell): it gets the TERM
	ka-notify-mariadb --defaults-file "$CNF" --port $PC --state-dir "$T/sc" \
		--fifo "$T/fifo" >"$T/fifo.out" 2>&1 3>&- &
	local pid=$! i
	printf '%s\n' 'INSTANCE "VI_1" BACKUP 100' 'INSTANCE "VI_1" MASTER 100' \
		'GROUP "G1" BACKUP 100' 'INSTANCE "VI_1" BACKUP 100' \
		'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100' 'INSTANCE "VI_1" MASTER 100' > "$T/fifo"
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l < "$T/sc/journal.jsonl" 2>/dev/null)" = 6 ] && break
		sleep 0.1
	done
	run jq -r .event "$T/sc/journal.jsonl"
	[ "$(echo $output)" = "backup master ignored backup ignored master" ]
	[ "$(ro c)" = 0 ]
	jq -s -e '[.[] | select(.event != "ignored") | .ticket] == [1, 2, 3, 4]' "$T/sc/journal.jsonl"
	kill -TERM $pid
	local rc=0
	wait $pid || rc=$?
	[ "$rc" -eq 3 ]
}

@test "case 4: --fifo lines for other instances, the other half of a sync group and MASTER_RX_LOWER_PRI never cancel the event being handled" {
	mdb_sql c "SET GLOBAL read_only=0"
	mkfifo "$T/fifo"
	ka-notify-mariadb --defaults-file "$CNF" --port $PC --state-dir "$T/sc" \
		--instance VI_DB --fifo "$T/fifo" >"$T/fifo.out" 2>&1 3>&- &
	local pid=$! i
	# one write (as keepalived does): the FAULT and three lines that are not events for VI_DB
	printf '%s\n' 'INSTANCE "VI_DB" FAULT 100' 'INSTANCE "VI_READER" FAULT 100' \
		'GROUP "G1" FAULT 100' 'INSTANCE "VI_DB" MASTER_RX_LOWER_PRI 100' > "$T/lines"
	dd if="$T/lines" of="$T/fifo" bs=4096 status=none
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l < "$T/sc/journal.jsonl" 2>/dev/null)" = 4 ] && break
		sleep 0.1
	done
	kill -TERM $pid
	wait $pid || true
	[ "$(ro c)" = 1 ]
	run jq -r .decision "$T/sc/journal.jsonl"
	[ "$(echo $output)" = "demoted ignored ignored ignored" ]
	mdb_sql c "SET GLOBAL read_only=0"
}

@test "--dry-run prints the plan and changes nothing, not even files" {
	pair_reset
	local a_before b_before
	a_before=$(positions a)
	b_before=$(positions b)
	run -0 ka_b --dry-run master
	assert_output --partial "plan: SET GLOBAL read_only=1 on peer"
	assert_output --partial "plan: STOP ALL SLAVES on local"
	assert_output --partial "plan: SET GLOBAL read_only=0 on local"
	assert_output --partial "DRY-RUN promoted"
	[ "$(ro a)" = 0 ]
	[ "$(ro b)" = 1 ]
	[ "$(slave_running b)" = ON ]
	[ "$(positions a)" = "$a_before" ]
	[ "$(positions b)" = "$b_before" ]
	[ ! -e "$T/sb" ]
}

@test "STOP on a hung local mysqld (SIGSTOP) ends within keepalived's one second" {
	kill -STOP "$(mdb_pid c)"
	timed run -3 ka_c --timeout 5000 stop
	kill -CONT "$(mdb_pid c)"
	[ "$TIMED_MS" -lt 2000 ]
	last_journal sc | jq -e '.event == "stop" and .code == 3'
}

@test "FAULT on a hung local mysqld keeps trying and demotes it once it thaws" {
	mdb_sql c "SET GLOBAL read_only=0"
	kill -STOP "$(mdb_pid c)"
	ka_c --timeout 300 --hung-retry 30 fault > "$T/fault.out" 2>&1 3>&- &
	local pid=$! rc=0
	sleep 2
	kill -CONT "$(mdb_pid c)"
	wait $pid || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(ro c)" = 1 ]
	last_journal sc | jq -e '.event == "fault" and .code == 0 and .decision == "demoted"'
	mdb_sql c "SET GLOBAL read_only=0"   # as the tests after this one expect c
}

@test "a newer event ends the retrying of a hung demotion at once" {
	mdb_sql c "SET GLOBAL read_only=0"
	kill -STOP "$(mdb_pid c)"
	ka_c --timeout 300 --hung-retry 60 fault > "$T/fault.out" 2>&1 3>&- &
	local pid=$! rc=0
	sleep 1
	# still hung: the BACKUP itself times out (no retries of its own here)
	timed run ka_c --timeout 300 --hung-retry 0 --no-rejoin backup
	local backup_status=$status
	kill -CONT "$(mdb_pid c)"
	wait $pid || rc=$?
	[ "$rc" -eq 3 ]            # the FAULT run gave way with its last timeout
	[ "$backup_status" -eq 3 ]
	[ "$TIMED_MS" -lt 10000 ]  # it waited at most one try of the FAULT run
	[ "$(ro c)" = 0 ]          # nobody demoted it: both runs timed out on the hung server
}

@test "promotes past a hung peer (SIGSTOP) after one --timeout; it is demoted later" {
	pair_reset
	kill -STOP "$(mdb_pid a)"
	timed run -0 ka_b --timeout 500 master
	kill -CONT "$(mdb_pid a)"
	assert_output --partial "OK promoted"
	[ "$TIMED_MS" -lt 5000 ]
	last_journal sb | jq -e '.peer.state == "unreachable" and .peer.fenced == false'
	# back from the stop, a's own keepalived demotes and rejoins it
	run -0 ka_a backup
	[ "$(ro a)" = 1 ]
	assert_output --partial "rejoined 127.0.0.1:$PB"
}

@test "a promotion past a hung peer writes the promotion mark, so the thawed peer's unsent write does not make it look ahead" {
	pair_reset
	mdb_sql b "STOP SLAVE IO_THREAD"
	mdb_sql a "INSERT INTO t.x VALUES (77)"              # 0-1-4: in flight, never sent to b
	kill -STOP "$(mdb_pid a)"
	run ka_b --timeout 500 master
	kill -CONT "$(mdb_pid a)"
	[ "$status" -eq 0 ]
	assert_output --partial "OK promoted: read_only=OFF, promotion GTID 0-2-4"
	last_journal sb | jq -e '[.steps[] | select(.step | startswith("promotion mark"))
		| .result] == ["ok"] and .after.gtid_binlog_pos == "0-2-4"'
	# both writable, a holds 0-1-4 that b lacks: the checkers' successor rule keeps b
	# (promoted after the parting point) and fails a (the old lineage)
	run -0 ka-check-mariadb --defaults-file "$CNF" --host 127.0.0.1 --port $PB \
		--peer 127.0.0.1:$PA
	run -11 ka-check-mariadb --defaults-file "$CNF" --host 127.0.0.1 --port $PA \
		--peer 127.0.0.1:$PB
}

# --- issue 10: a peer judged gone by the 60 ms greeting budget gets one more chance
# once the promotion is done (latefence.c) ---

PSLOW=23461    # slow-greeter.py in front of a: its greeting held back 300 ms, the rest at once
PSLOW_F=23462  # the same in front of f

# Starts the slow greeter on port $1 in front of port $2 (default: a on $PSLOW); its pid
# goes to GREETER_PIDS, ended by teardown.
start_slow_greeter() {
	local port=${1:-$PSLOW} target=${2:-$PA}
	/usr/bin/python3 "$KA_REPO/tests/helpers/slow-greeter.py" "$port" "$target" 300 60 \
		> "$T/greeter-$port.out" 3>&- &
	GREETER_PIDS="$GREETER_PIDS $!"
	for _ in $(seq 50); do grep -qs ready "$T/greeter-$port.out" && break; sleep 0.1; done
	grep -q ready "$T/greeter-$port.out"
}

# ka-notify-mariadb on b whose peer is a behind the slow greeter.
ka_b_slow() {
	ka-notify-mariadb --defaults-file "$CNF" --port "$PB" --peer "127.0.0.1:$PSLOW" \
		--state-dir "$T/sb" --fault-file "$T/sb/fault" "$@"
}

# Index of the first journal step of sb named $1 (null when none).
step_index() {
	last_journal sb | jq --arg s "$1" '[.steps[] | .step] | index($s)'
}

@test "a writable old primary that greets after the budget is fenced once the promotion is done" {
	pair_reset
	start_slow_greeter
	start_app_client $PA a
	run -0 ka_b_slow --timeout 2000 --dry-run master
	assert_output --partial "plan: after the promotion: connect to late peer 127.0.0.1:$PSLOW"
	[ "$(ro a)" = 0 ]
	run -0 ka_b_slow --timeout 2000 master
	assert_output --partial "OK promoted"
	assert_output --partial "late peer 127.0.0.1:$PSLOW was writable: fenced"
	[ "$(ro b)" = 0 ]
	[ "$(ro a)" = 1 ]
	app_client_ended                                    # its clients were killed
	[ "$(cat "$T/sb/fault")" != 1 ]
	local w l f
	w=$(step_index "SET GLOBAL read_only=0 on local")
	l=$(step_index "late peer 127.0.0.1:$PSLOW")
	f=$(step_index "fence late peer 127.0.0.1:$PSLOW")
	[ "$w" != null ] && [ "$l" -gt "$w" ] && [ "$f" -gt "$l" ]
	last_journal sb | jq -e --arg f "fence late peer 127.0.0.1:$PSLOW" '
		([.steps[] | select(.step == "reach peer")][0].detail | test("greeting budget"))
		and ([.steps[] | select(.step == $f) | .result] == ["ok"])
		and .peer.fenced == true and .code == 0'
}

@test "a late peer that stays writable because its fence cannot be confirmed makes the winner give up: exit 11, read-only, FAULT" {
	pair_reset
	start_slow_greeter
	start_writer $PA 120 6 a                            # holds SET read_only=1; --no-kill spares it
	run -11 ka_b_slow --no-kill --timeout 1000 master
	assert_output --partial "FAIL late-peer-writable"
	[ "$(ro b)" = 1 ]                                   # never two writable nodes
	[ "$(ro a)" = 0 ]
	[ "$(cat "$T/sb/fault")" = 1 ]
	last_journal sb | jq -e --arg f "fence late peer 127.0.0.1:$PSLOW" '
		([.steps[] | select(.step == $f) | .result] == ["failed"])
		and ([.steps[] | select(.step == $f) | .detail][0] | contains("read_only=0 read back"))
		and .decision == "late-peer-writable" and .fault_file == "set"'
	[ "$(writer_status)" -eq 0 ]                        # acknowledged by a, never killed
}

@test "a hung peer (SIGSTOP) is asked again only after read_only=0: no answer, exit 0, one more --timeout" {
	pair_reset
	kill -STOP "$(mdb_pid a)"
	timed run ka_b --timeout 500 master
	kill -CONT "$(mdb_pid a)"
	[ "$status" -eq 0 ]
	assert_output --partial "OK promoted"
	[ "$TIMED_MS" -lt 5000 ]
	[ "$(ro b)" = 0 ]
	[ "$(ro a)" = 0 ]                                   # not fenced: it never answered
	local w l
	w=$(step_index "SET GLOBAL read_only=0 on local")
	l=$(step_index "late peer 127.0.0.1:$PA")
	[ "$w" != null ] && [ "$l" != null ] && [ "$l" -gt "$w" ]
	last_journal sb | jq -e --arg l "late peer 127.0.0.1:$PA" '
		([.steps[] | select(.step == $l) | .result] == ["skipped"])
		and ([.steps[] | select(.step == $l) | .detail][0] | contains("no answer"))
		and ([.steps[] | select(.step | startswith("fence late"))] | length == 0)
		and ([.steps[] | select(.step == $l) | .duration_ms][0] >= 400)'
	# a peer that refused the connect is really down: never asked again
	pair_reset
	mdb_kill a
	run -0 ka_b --timeout 500 master
	last_journal sb | jq -e '[.steps[] | select(.step | startswith("late peer"))] | length == 0'
	mdb_launch a
}

# --- issue 10 part 4: promotion without stalls on MariaDB's default semi-sync settings
# (rpl_semi_sync_master_timeout 10000, rpl_semi_sync_slave_kill_conn_timeout 5,
# rpl_semi_sync_master_wait_no_slave ON; master and slave side enabled on d and e).
# Speed goes to the report (bench, journal); the assertions keep wide margins. ---

ka_d() { ka_pair_node "$PD" "$PE" sd "$@"; }
ka_e() { ka_pair_node "$PE" "$PD" se "$@"; }

semi_status() {
	mdb_sql "$1" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_$2'"
}

# d: writable primary whose commits e acknowledges (semi-sync ON, one client); e: its
# read-only semi-sync replica, synced. e's own master side is as after a restart (status
# ON, no replica of its own, wait_no_slave ON): promoted as it is, its first commit would
# wait the whole 10 s master timeout.
defaults_pair_reset() {
	local n
	for n in d e; do
		[ -n "$(mdb_pid $n)" ] || mdb_launch $n
		kill -CONT "$(mdb_pid $n)"
	done
	for n in e d; do   # wait_no_slave OFF meanwhile: e's applier would wait 10 s too
		mdb_sql $n "STOP ALL SLAVES; RESET SLAVE ALL; SET GLOBAL read_only=0;
			DROP DATABASE IF EXISTS t; RESET MASTER; SET GLOBAL gtid_slave_pos='';
			SET GLOBAL rpl_semi_sync_master_enabled=ON, rpl_semi_sync_slave_enabled=ON,
			rpl_semi_sync_master_wait_no_slave=OFF"
	done
	mdb_replicate e d
	mdb_sql e "SET GLOBAL read_only=1"
	wait_value d "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS'" 1
	mdb_sql d "CREATE DATABASE t; CREATE TABLE t.x (i INT PRIMARY KEY); INSERT INTO t.x VALUES (1)"
	mdb_wait_synced e d
	[ "$(semi_status d YES_TX)" -ge 1 ]   # d's commits were acknowledged by e
	mdb_sql e "SET GLOBAL rpl_semi_sync_master_enabled=OFF; SET GLOBAL rpl_semi_sync_master_enabled=ON;
		SET GLOBAL rpl_semi_sync_master_wait_no_slave=ON"
	mdb_sql d "SET GLOBAL rpl_semi_sync_master_wait_no_slave=ON"
	[ "$(semi_status e STATUS)" = ON ]
}

# Milliseconds the server took to commit one app INSERT of $2 on NAME (measured by the
# server's clock, so a slow client start does not count).
commit_ms() {
	mariadb --no-defaults -uapp -p"$KA_DB_PASS_APP" -h127.0.0.1 -P"$(mdb_port "$1")" -N -B \
		-e "SET @t = SYSDATE(6); INSERT INTO t.x VALUES ($2);
		    SELECT TIMESTAMPDIFF(MICROSECOND, @t, SYSDATE(6)) DIV 1000" 3>&-
}

# The promotion's journal: the IO threads killed (not a STOP that waits on the dead
# source), read_only=0 set, every step up to it under 1 s (STOP ALL SLAVES after it may
# still wait for the killed IO threads to end); prints the steps for the report.
assert_promoted_fast() {
	last_journal se | jq -c '[.steps[] | [.step, .duration_ms]]'
	last_journal se | jq -e '.decision == "promoted" and .peer.state == "unreachable"
		and ([.steps[] | select(.step == "kill IO threads on local" and .result == "ok")] | length == 1)
		and ([.steps | to_entries[] | select(.value.step == "SET GLOBAL read_only=0 on local"
			and .value.result == "ok") | .key][0]) as $k
		| $k != null and ([.steps[0:$k + 1][] | select(.duration_ms >= 1000)] | length == 0)'
	# the whole run, as the binary measured it, but the hung peer's second chance after it
	last_journal se | jq -e '.elapsed_ms - ([.steps[] | select(.step | test("^(fence )?late peer "))
		| .duration_ms] | add // 0) < 2000'
}

@test "defaults: promotes past a killed old primary at once; the first commit is not held by semi-sync" {
	defaults_pair_reset
	mdb_kill d
	timed run -0 ka_e master
	echo "$output"
	assert_output --partial "OK promoted"
	[ "$TIMED_MS" -lt 5000 ]   # process start and exit too (ASan build, loaded host)
	[ "$(ro e)" = 0 ]
	assert_promoted_fast
	last_journal se | jq -e '[.steps[] | select(.step == "reach peer")][0].result == "failed"'
	local ms
	ms=$(commit_ms e 2)
	echo "first commit on e: $ms ms"
	[ "$ms" -lt 2000 ]
	[ "$(replication_rows e)" = 0 ]
}

@test "defaults: promotes past a hung old primary (SIGSTOP) without waiting for it; it rejoins later" {
	defaults_pair_reset
	kill -STOP "$(mdb_pid d)"
	timed run ka_e master
	kill -CONT "$(mdb_pid d)"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_output --partial "OK promoted"
	[ "$TIMED_MS" -lt 7000 ]   # one more --timeout after the promotion (its late peer), ASan
	assert_promoted_fast
	last_journal se | jq -e '[.steps[] | select(.step == "reach peer")][0].detail | test("timed out")'
	local ms
	ms=$(commit_ms e 2)
	echo "first commit on e: $ms ms"
	[ "$ms" -lt 2000 ]
	# resumed, d is a writable old primary: its own keepalived demotes it and it rejoins
	run -0 ka_d backup
	[ "$(ro d)" = 1 ]
	assert_output --partial "rejoined 127.0.0.1:$PE"
}

@test "defaults: semi-sync is back on the new primary as soon as a replica connects" {
	defaults_pair_reset
	mdb_kill d
	run -0 ka_e master
	[ "$(commit_ms e 2)" -lt 2000 ]                     # no replica: not held
	mdb_launch d
	run -0 ka_d backup                                  # d rejoins under e
	assert_output --partial "rejoined 127.0.0.1:$PE"
	wait_value e "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS'" 1
	local yes
	yes=$(semi_status e YES_TX)
	mdb_sql e "SET GLOBAL rpl_semi_sync_master_timeout=60000"   # an ACK, not a timeout
	commit_ms e 3
	mdb_sql e "SET GLOBAL rpl_semi_sync_master_timeout=10000"
	[ "$(semi_status e YES_TX)" -gt "$yes" ]            # acknowledged by d
	[ "$(semi_status e STATUS)" = ON ]
	mdb_wait_synced d e
	[ "$(mdb_sql d 'SELECT COUNT(*) FROM t.x WHERE i = 3')" = 1 ]
}

@test "defaults: a reachable old primary that holds what this node lacks still refuses (exit 9)" {
	defaults_pair_reset
	mdb_sql e "STOP SLAVE"
	mdb_sql d "SET GLOBAL rpl_semi_sync_master_enabled=OFF; INSERT INTO t.x VALUES (7);
		SET GLOBAL rpl_semi_sync_master_enabled=ON"
	run -9 ka_e master
	assert_output --partial "refused-peer-ahead"
	[ "$(ro e)" = 1 ]
	[ "$(ro d)" = 0 ]
	last_journal se | jq -e '[.steps[] | select(.step == "reach peer")][0].result == "ok"'
}

# --- issue 16: read_only=1 under running writes, evidence that a peer is gone, late
# statements, undoing a fence, FIFO look-ahead (see the man page's SAFETY RULES) ---

# An application session on port $1 running a write that holds SET read_only=1 for $3 s
# (FACTS 39); it inserts $2 into t.x. Its exit status lands in $T/writer.rc.
# Gives b a running IO thread with nothing to send: connection 'c' from c by
# file/position, so a promotion's gate fences a and then waits in vain.
b_receives_from_idle_c() {
	local file pos
	read -r file pos _ < <(mdb_sql c "SHOW MASTER STATUS")
	mdb_sql b "CHANGE MASTER 'c' TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PC, MASTER_USER='repl',
		MASTER_PASSWORD='$KA_DB_PASS_REPL', MASTER_LOG_FILE='$file', MASTER_LOG_POS=$pos,
		MASTER_USE_GTID=no; START SLAVE 'c'"
	wait_value b "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
		WHERE VARIABLE_NAME = 'SLAVES_RUNNING'" 1
}

start_writer() {
	( rc=0
	  mariadb --no-defaults -uapp -p"$KA_DB_PASS_APP" -h127.0.0.1 -P"$1" \
		-e "INSERT INTO t.x SELECT $2 + SLEEP($3)" >"$T/writer.out" 2>&1 || rc=$?
	  echo $rc > "$T/writer.rc" ) 3>&- &
	APP_PID=$!
	local n=${4:?}
	wait_value "$n" "SELECT COUNT(*) FROM information_schema.PROCESSLIST
		WHERE USER='app' AND INFO LIKE 'INSERT%'" 1
}

# Waits (up to 15 s) for the writer to end; prints its exit status.
writer_status() {
	local i
	for ((i = 0; i < 150; i++)); do
		[ -s "$T/writer.rc" ] && { cat "$T/writer.rc"; return 0; }
		sleep 0.1
	done
	echo "writer still running" >&2
	return 1
}

@test "case 1: a fence that waits for a running write kills the writer, is confirmed, and no acknowledged write is lost" {
	pair_reset
	start_writer $PA 100 8 a
	run -0 ka_b --timeout 2000 master
	assert_output --partial "OK promoted"
	[ "$(ro a)" = 1 ]
	[ "$(ro b)" = 0 ]
	local rc
	rc=$(writer_status)
	[ "$rc" -ne 0 ]                                     # the write was killed, never acknowledged
	[ "$(mdb_sql a 'SELECT COUNT(*) FROM t.x WHERE i = 100')" = 0 ]
	last_journal sb | jq -e '.peer.fenced == true and .peer.state == "read-only"'
}

@test "case 1: a fence that cannot be confirmed while the peer answers refuses the promotion (exit 9)" {
	pair_reset
	start_writer $PA 110 6 a
	run -9 ka_b --no-kill --timeout 1000 master
	assert_output --partial "FAIL refused-peer-writable"
	[ "$(ro b)" = 1 ]                                   # never two writable nodes
	[ "$(ro a)" = 0 ]
	[ "$(cat "$T/sb/fault")" = 1 ]
	[ "$(writer_status)" -eq 0 ]                        # acknowledged by a, which stays primary
	last_journal sb | jq -e '.peer.fenced == false and .peer.state == "writable"'
}

@test "case 2: STOP demotes a primary within keepalived's second while a write runs: the writer is killed" {
	pair_reset
	start_writer $PA 200 10 a
	timed run -0 ka_a stop
	assert_output --partial "OK demoted"
	[ "$TIMED_MS" -lt 2000 ]
	[ "$(ro a)" = 1 ]
	[ "$(writer_status)" -ne 0 ]
	[ "$(mdb_sql a 'SELECT COUNT(*) FROM t.x WHERE i = 200')" = 0 ]
}

@test "demotes a node whose HA account lacks SLAVE MONITOR: read_only comes first" {
	mdb_sql c "SET sql_log_bin=0; CREATE USER IF NOT EXISTS ka_nomon@'127.0.0.1' IDENTIFIED BY 'nomonpw';
		GRANT READ ONLY ADMIN, CONNECTION ADMIN, PROCESS ON *.* TO ka_nomon@'127.0.0.1';
		SET sql_log_bin=1; SET GLOBAL read_only=0"
	mdb_cnf - "$T/nomon.cnf" ka_nomon nomonpw
	run -0 ka-notify-mariadb --defaults-file "$T/nomon.cnf" --port $PC --state-dir "$T/sc" fault
	assert_output --partial "OK demoted"
	[ "$(ro c)" = 1 ]
	mdb_sql c "SET sql_log_bin=0; DROP USER ka_nomon@'127.0.0.1'; SET GLOBAL read_only=0"
}

@test "a demotion refused with 1040 (too many connections) is retried until it gets in" {
	mdb_sql c "SET GLOBAL read_only=0; SET GLOBAL max_connections=10"   # the least allowed
	local i pids=()
	for i in $(seq 10); do
		mariadb --no-defaults -uapp -p"$KA_DB_PASS_APP" -h127.0.0.1 -P$PC \
			-e "SELECT SLEEP(20)" >/dev/null 2>&1 3>&- &
		pids+=($!)
	done
	APP_PID="${pids[*]}"
	wait_value c "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='app'" 10
	# root takes the one connection past max_connections for 2 s: ka_ha gets 1040
	mariadb --no-defaults -uroot -S "$(mdb_socket c)" -e "SELECT SLEEP(2)" >/dev/null 2>&1 3>&- &
	MON_PID=$!
	sleep 0.5
	run ka_c --hung-retry 20 fault
	assert_output --partial " demoted: read_only=ON"     # a KILL may time out on a full server
	[ "$(ro c)" = 1 ]
	journal sc | jq -s -e '.[-1].steps | map(select(.step == "connect local") | .result)
		| .[0] == "failed" and .[-1] == "ok"'
	mdb_sql c "SET GLOBAL max_connections=50; SET GLOBAL read_only=0"
}

@test "case 7: a read_only=0 that times out on a stalled server never lands later, even past --hung-retry" {
	pair_reset
	/usr/bin/python3 "$KA_REPO/tests/helpers/stall-proxy.py" 23460 $PB "$(mdb_pid b)" \
		"read_only=0" 30 > "$T/proxy.out" 3>&- &
	MON_PID=$!
	for _ in $(seq 50); do grep -qs ready "$T/proxy.out" && break; sleep 0.1; done
	run ka-notify-mariadb --defaults-file "$CNF" --host 127.0.0.1 --port 23460 \
		--peer 127.0.0.1:$PA --state-dir "$T/sb" --fault-file "$T/sb/fault" \
		--timeout 500 --hung-retry 1 master
	[ "$status" -ne 0 ]
	grep -q stopped "$T/proxy.out"                       # b stalled with the SET in its buffer
	sleep 1
	kill -CONT "$(mdb_pid b)"                            # the stall outlasted --hung-retry
	sleep 2
	[ "$(ro b)" = 1 ]                                    # the late statement changed nothing
	[ "$(cat "$T/sb/fault")" = 1 ]
	last_journal sb | jq -e '[.steps[] | select(.step == "settle read_only on local")
		| .result] == ["failed"]'                    # the run could not see it: the guard did
}

@test "case 7 and 10: a promotion whose read_only=0 timed out demotes again and undoes its fence on the peer" {
	pair_reset
	/usr/bin/python3 "$KA_REPO/tests/helpers/stall-proxy.py" 23460 $PB "$(mdb_pid b)" \
		"read_only=0" 30 > "$T/proxy.out" 3>&- &
	MON_PID=$!
	for _ in $(seq 50); do grep -qs ready "$T/proxy.out" && break; sleep 0.1; done
	ka-notify-mariadb --defaults-file "$CNF" --host 127.0.0.1 --port 23460 \
		--peer 127.0.0.1:$PA --state-dir "$T/sb" --fault-file "$T/sb/fault" \
		--timeout 500 --hung-retry 20 master > "$T/master.out" 2>&1 3>&- &
	local m=$! rc=0
	for _ in $(seq 50); do grep -qs stopped "$T/proxy.out" && break; sleep 0.1; done
	sleep 2
	kill -CONT "$(mdb_pid b)"                            # thawed within --hung-retry
	wait $m || rc=$?
	[ "$rc" -ne 0 ]
	[ "$(ro b)" = 1 ]
	[ "$(ro a)" = 0 ]                                    # the fence is undone: a still serves
	[ "$(cat "$T/sb/fault")" = 1 ]
	last_journal sb | jq -e '.decision == "promote-failed" and .peer.fenced == true
		and .peer.unfenced == true and ([.steps[] | select(.step ==
		"settle read_only on local") | .result] == ["ok"])'
}

@test "case 10: a flap (MASTER then BACKUP) while the old primary keeps the VIP leaves it writable again" {
	pair_reset
	run -0 ka_b master
	[ "$(ro a)" = 1 ]                                   # fenced
	run -0 ka_b backup                                  # a never changed state: no event on a
	[ "$(ro a)" = 0 ]
	[ "$(ro b)" = 1 ]
	assert_output --partial "rejoined 127.0.0.1:$PA"
	mdb_sql a "INSERT INTO t.x VALUES (300)"
	mdb_wait_synced b a
	last_journal sb | jq -e '.peer.unfenced == true'
	[ ! -e "$T/sb/ka-notify-mariadb.fenced" ]
}

@test "case 10: a fence followed by a catch-up timeout is undone: the old primary serves again" {
	pair_reset
	mdb_sql b "STOP SLAVE"                                # b does not receive a's next write
	mdb_sql a "INSERT INTO t.x VALUES (400)"
	# an IO thread that is up (from c, file/position, nothing to send): the gate fences a
	# and then waits in vain for 0-1-3
	b_receives_from_idle_c
	run -9 ka_b --catchup-timeout 2 master
	assert_output --partial "FAIL refused-catchup-timeout"
	[ "$(ro b)" = 1 ]
	[ "$(ro a)" = 0 ]                                   # unfenced
	last_journal sb | jq -e '.peer.fenced == true and .peer.unfenced == true'
	mdb_sql b "STOP SLAVE 'c'; RESET SLAVE 'c' ALL"
}

@test "case 10: a promotion superseded by BACKUP after its fence undoes it" {
	pair_reset
	mdb_sql b "STOP SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (410)"
	b_receives_from_idle_c
	ka_b --catchup-timeout 30 master > "$T/master.out" 2>&1 3>&- &
	local m=$!
	wait_value a "SELECT @@global.read_only" 1               # fenced; b waits in vain
	run -0 ka_b --no-rejoin backup
	wait $m
	grep -q "OK superseded" "$T/master.out"
	[ "$(ro a)" = 0 ]
	[ "$(ro b)" = 1 ]
	journal sb | jq -s -e '.[0].decision == "superseded" and .[0].peer.unfenced == true'
	mdb_sql b "STOP SLAVE 'c'; RESET SLAVE 'c' ALL"
}

@test "case 10: a flap does not unfence a peer that lacks what the new primary wrote" {
	pair_reset
	run -0 ka_b master
	mdb_sql b "INSERT INTO t.x VALUES (310)"             # acknowledged by b only
	run -0 ka_b --no-rejoin backup
	[ "$(ro a)" = 1 ]
	[ "$(ro b)" = 1 ]
	last_journal sb | jq -e '[.steps[] | select(.step == "undo fence on peer")
		| .result] == ["skipped"]'
}

@test "exits 64 on bad arguments and 78 on a missing option file" {
	run -64 ka-notify-mariadb --port $PC promote
	assert_output --partial "unknown event 'promote'"
	run -78 ka-notify-mariadb --defaults-file "$T/missing.cnf" --port $PC master
	assert_output --partial "cannot read option file '$T/missing.cnf'"
	[ "$(ro c)" = 0 ]
}

# ---- switchover (issue 11): preflight refusals, catch-up rollback, handover without and
# with the notify runs keepalived would start (played here by the test) ------------------

# Runs SQL as root on NAME in a session held open in the background (APP_PID): a lock
# taken there stays until teardown.
hold_session() {
	mariadb --no-defaults -uroot -S "$(mdb_socket "$1")" -e "$2; SELECT SLEEP(60)" \
		>/dev/null 2>&1 3>&- &
	APP_PID=$!
}

# Ends every held session on a and b (killing the client alone leaves the server's
# SLEEP, and its locks, running), then rebuilds the pair.
so_reset() {
	local n id
	for n in a b; do
		for id in $(mdb_sql $n "SELECT ID FROM information_schema.PROCESSLIST
				WHERE INFO LIKE '%SELECT SLEEP(60)'"); do
			mdb_sql $n "KILL $id" 2>/dev/null || true
		done
	done
	pair_reset
}

# The fault file of a: missing or 0.
a_fault_clear() { [ ! -e "$T/sa/fault" ] || [ "$(cat "$T/sa/fault")" = 0 ]; }

# Waits up to 20 s until a's fault file holds $1.
wait_a_fault() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(cat "$T/sa/fault" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
	done
	echo "a's fault file never held $1" >&2
	return 1
}

@test "switchover --dry-run prints every preflight result and the plan, changes nothing" {
	so_reset
	run -0 ka_a switchover --dry-run
	assert_output --partial "preflight: peer replicates from this node"
	assert_output --partial "preflight: peer has no GTIDs this node lacks"
	assert_output --partial "plan: SET GLOBAL read_only=1 on local"
	assert_output --partial "plan: write 1 to fault file '$T/sa/fault'"
	assert_output --partial "DRY-RUN switchover-planned"
	refute_output --partial "FAILED"
	[ "$(ro a)" = 0 ]
	[ "$(ro b)" = 1 ]
	[ ! -e "$T/sa/fault" ]
	[ ! -e "$T/sa/journal.jsonl" ]
}

@test "switchover --dry-run --json is one JSON object with the preflight steps" {
	so_reset
	run -0 ka_a switchover --dry-run --json
	jq -e '.event == "switchover" and .dry_run == true and .decision == "switchover-planned"
		and ([.steps[] | select(.step | startswith("preflight: ")) | .result]
		     | length >= 7 and all(. == "ok"))' <<<"${lines[-1]}"
}

@test "switchover --dry-run names every failed check and exits 9" {
	so_reset
	mdb_sql b "STOP SLAVE SQL_THREAD"
	run -9 ka_a switchover --dry-run --max-lag 0
	assert_output --regexp "preflight: peer replication threads run +FAILED: io=Yes sql=No"
	assert_output --regexp "preflight: peer lag within --max-lag +FAILED"
	refute_output --partial "plan:"
	[ "$(ro a)" = 0 ]
	mdb_sql b "START SLAVE"
}

@test "switchover refuses (exit 9) when the peer lags beyond --max-lag; nothing changes" {
	so_reset
	hold_session b "LOCK TABLES t.x WRITE"
	sleep 0.5
	mdb_sql a "INSERT INTO t.x VALUES (1101)"
	sleep 3
	run -9 ka_a switchover --max-lag 1
	assert_output --partial "switchover-refused: peer lag within --max-lag: Seconds_Behind_Master="
	[ "$(ro a)" = 0 ]
	a_fault_clear
	last_journal sa | jq -e '.decision == "switchover-refused" and .code == 9'
}

@test "switchover refuses (exit 9) when the peer's replication is broken" {
	so_reset
	mdb_sql b "STOP SLAVE SQL_THREAD"
	run -9 ka_a switchover
	assert_output --partial "peer replication threads run: io=Yes sql=No"
	[ "$(ro a)" = 0 ]
	a_fault_clear
	mdb_sql b "START SLAVE"
}

@test "switchover refuses (exit 9) when the peer is unreachable" {
	so_reset
	run -9 ka-notify-mariadb --defaults-file "$CNF" --port $PA --peer 127.0.0.1:$PDEAD \
		--state-dir "$T/sa" --fault-file "$T/sa/fault" switchover
	assert_output --partial "peer reachable: peer 127.0.0.1:$PDEAD"
	[ "$(ro a)" = 0 ]
	a_fault_clear
}

@test "switchover refuses (exit 9) when the peer has errant GTIDs, naming them" {
	so_reset
	mdb_sql b "INSERT INTO t.x VALUES (1102)"          # written on the replica itself
	run -9 ka_a switchover
	assert_output --partial "peer has no GTIDs this node lacks: "
	assert_output --partial "0-2-"
	[ "$(ro a)" = 0 ]
	a_fault_clear
	last_journal sa | jq -e '.diverged | test("0-2-")'
}

@test "switchover refuses (exit 9) while another switchover holds the lock on a server" {
	so_reset
	hold_session b "SELECT GET_LOCK('ka_mariadb_switchover', 0)"
	wait_value b "SELECT IS_FREE_LOCK('ka_mariadb_switchover')" 0
	run -9 ka_a switchover
	assert_output --partial "another switchover holds the lock"
	[ "$(ro a)" = 0 ]
	a_fault_clear
}

@test "switchover: a catch-up timeout rolls back: exit 9, primary writable, fault file 0, pause journaled" {
	so_reset
	hold_session b "LOCK TABLES t.x WRITE"
	sleep 0.5
	mdb_sql a "INSERT INTO t.x VALUES (1103)"
	run -9 ka_a --catchup-timeout 2 switchover
	assert_output --partial "catch-up timed out after 2 s"
	assert_output --partial "rolled back: read_only=0 again, the VIP never moved"
	[ "$(ro a)" = 0 ]
	[ "$(ro b)" = 1 ]
	a_fault_clear
	last_journal sa | jq -e '.decision == "switchover-rolled-back" and .code == 9
		and .write_pause_ms >= 2000 and .timeline_ms.rolled_back >= .timeline_ms.drain'
	mdb_sql a "INSERT INTO t.x VALUES (1104)"             # writable again
}

@test "switchover: a peer that never becomes writable gets the fault file back to 0, exit 3, this node stays read-only" {
	so_reset
	run -3 ka_a --handover-timeout 1 switchover
	assert_output --partial "handover-failed: the peer did not become writable"
	[ "$(ro a)" = 1 ]                                   # keepalived's MASTER notify decides
	[ "$(ro b)" = 1 ]
	[ "$(cat "$T/sa/fault")" = 0 ]
	last_journal sa | jq -e '.decision == "handover-failed" and .timeline_ms.fault_set != null
		and .timeline_ms.fault_cleared != null'
	run -0 ka_a master                                  # as keepalived would, on MASTER
	[ "$(ro a)" = 0 ]
}

@test "switchover completes when the notify runs keepalived starts do their part" {
	so_reset
	mdb_sql a "INSERT INTO t.x VALUES (1105)"
	ka_a --handover-timeout 20 --rejoin-retry 20 switchover > "$T/so.out" 2>&1 3>&- &
	local so=$!
	wait_a_fault 1
	run -0 ka_a fault                                   # keepalived: FAULT on a
	run -0 ka_b master                                  # keepalived: MASTER on b
	wait_a_fault 0
	run -0 ka_a backup                                  # keepalived: BACKUP on a: rejoin
	wait $so
	cat "$T/so.out"
	grep -q "OK switched-over" "$T/so.out"
	grep -q "timeline: peer_writable" "$T/so.out"
	grep -q "timeline: rejoined" "$T/so.out"
	[ "$(ro a)" = 1 ]
	[ "$(ro b)" = 0 ]
	[ "$(slave_running a)" = ON ]
	[ "$(replication_rows b)" = 0 ]
	mdb_sql b "INSERT INTO t.x VALUES (1106)"
	wait_value a "SELECT COUNT(*) FROM t.x WHERE i IN (1105, 1106)" 2
	jq -s -e '[.[] | select(.event == "switchover")][-1] | .code == 0 and
		.write_pause_ms > 0 and .timeline_ms.vip_released != null' < "$T/sa/journal.jsonl"
}

# --- several nodes (issue 12): a the primary, b and f its replicas (g: a --replica) ---

# a: writable primary with t.x holding one row; b, f (and g): its read-only GTID replicas.
trio_reset() {
	local n
	[ -n "$(mdb_pid a)" ] || mdb_launch a
	for n in g f b a; do
		mdb_sql $n "STOP ALL SLAVES; RESET SLAVE ALL; SET GLOBAL read_only=0;
			DROP DATABASE IF EXISTS t; RESET MASTER; SET GLOBAL gtid_slave_pos=''"
	done
	mdb_sql a "CREATE DATABASE t; CREATE TABLE t.x (i INT PRIMARY KEY); INSERT INTO t.x VALUES (1)"
	for n in b f g; do
		mdb_replicate $n a
		mdb_sql $n "SET GLOBAL read_only=1"
	done
	for n in b f g; do mdb_wait_synced $n a; done
}

# ka-notify-mariadb on b with a and f as its peers.
ka_b3() {
	ka-notify-mariadb --defaults-file "$CNF" --port "$PB" --peer "127.0.0.1:$PA,127.0.0.1:$PF" \
		--state-dir "$T/sb" --fault-file "$T/sb/fault" "$@"
}

# The default connection of $1: "PORT IO SQL" of its source.
source_of() {
	mariadb --no-defaults -uroot -S "$(mdb_socket "$1")" -e "SHOW SLAVE STATUS\G" |
		awk '$1 == "Master_Port:" { p = $2 } $1 == "Slave_IO_Running:" { io = $2 }
			$1 == "Slave_SQL_Running:" { sql = $2 } END { print p, io, sql }'
}

# Waits (up to 5 s) until $1 replicates from port $2 with both threads running.
wait_source() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(source_of "$1")" = "$2 Yes Yes" ] && return 0
		sleep 0.1
	done
	echo "'$1' does not replicate from $2 with both threads running: $(source_of "$1")" >&2
	return 1
}

@test "several peers: the winner catches up from the third node that alone has the last write, before read_only=0" {
	trio_reset
	mdb_sql b "STOP SLAVE IO_THREAD"                  # the ack comes from f alone
	mdb_sql a "INSERT INTO t.x VALUES (2)"
	mdb_wait_synced f a
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x')" = 1 ]
	mdb_kill a
	run -0 ka_b3 master
	assert_output --partial "OK promoted"
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x WHERE i = 2')" = 1 ]
	[ "$(ro b)" = 0 ]
	[ "$(replication_rows b)" = 0 ]                  # ka_catchup and the old source are gone
	last_journal sb | jq -e --arg f "127.0.0.1:$PF" '
		([.steps[] | .step] | index("catch up from peer " + $f)) as $c
		| ([.steps[] | .step] | index("SET GLOBAL read_only=0 on local")) as $w
		| $c != null and $w != null and $c < $w
		and ([.steps[] | select(.step == "catch up from peer " + $f) | .result] == ["ok"])
		and ([.steps[] | select(.step == "most advanced node") | .detail][0] | contains($f))
		and ([.peers[] | select(.endpoint == "127.0.0.1:'"$PA"'") | .state] == ["unreachable"])'
	mdb_launch a
}

@test "several peers: a write the third node acknowledged but has not applied yet (relay log only) is caught up before read_only=0" {
	trio_reset
	mdb_sql b "STOP SLAVE IO_THREAD"                  # the ack comes from f alone
	mdb_sql f "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=3; START SLAVE"   # f applies 3 s late
	mdb_sql a "INSERT INTO t.x VALUES (2)"
	local pos i
	pos=$(mdb_sql a "SELECT @@gtid_binlog_pos")
	for i in $(seq 50); do [ "$(io_pos f)" = "$pos" ] && break; sleep 0.1; done
	[ "$(io_pos f)" = "$pos" ]                       # received (and acknowledged) ...
	[ "$(mdb_sql f 'SELECT COUNT(*) FROM t.x WHERE i = 2')" = 0 ]   # ... not applied
	mdb_kill a
	run -0 ka_b3 master
	assert_output --partial "OK promoted"
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x WHERE i = 2')" = 1 ]
	last_journal sb | jq -e --arg f "127.0.0.1:$PF" '
		([.steps[] | .step] | index("catch up from peer " + $f)) as $c
		| ([.steps[] | .step] | index("SET GLOBAL read_only=0 on local")) as $w
		| $c != null and $w != null and $c < $w'
	mdb_launch a
}

@test "several peers: after the promotion the third node replicates from the winner's real address" {
	trio_reset
	mdb_kill a
	run -0 ka_b3 master
	assert_output --partial "OK promoted"
	assert_output --partial "repointed 1 of 1 node(s) to 127.0.0.1:$PB"
	wait_source f "$PB"
	mdb_sql b "INSERT INTO t.x VALUES (3)"
	wait_value f "SELECT COUNT(*) FROM t.x WHERE i = 3" 1
	last_journal sb | jq -e --arg f "127.0.0.1:$PF" '
		([.steps[] | select(.step == "repoint peer " + $f) | .result] == ["ok"])
		and ([.steps[] | select(.step == "self address") | .detail][0] | contains("no --self"))
		and ([.peers[] | select(.endpoint == $f) | .repointed] == ["ok"])'
	mdb_launch a
}

@test "several peers: a third node with an errant GTID is named in the journal and not repointed" {
	trio_reset
	mdb_sql f "SET GLOBAL read_only=0; INSERT INTO t.x VALUES (66); SET GLOBAL read_only=1"
	local errant
	errant=$(mdb_sql f "SELECT @@gtid_binlog_pos")
	[[ "$errant" == 0-6-* ]]
	mdb_kill a
	run -0 ka_b3 master
	assert_output --partial "OK promoted"
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x WHERE i = 66')" = 0 ]
	[ "$(source_of f | cut -d' ' -f1)" = "$PA" ]      # untouched: still the old source
	last_journal sb | jq -e --arg f "127.0.0.1:$PF" --arg g "$errant" '
		(.diverged | contains($f) and contains($g))
		and ([.steps[] | select(.step == "leave out peer " + $f) | .result] == ["skipped"])
		and ([.steps[] | select(.step == "repoint peer " + $f) | .result] == ["skipped"])
		and ([.steps[] | select(.step | startswith("catch up from"))] | length == 0)'
	mdb_launch a
}

@test "a pair with a --replica: the old primary is fenced and the replica is repointed to --self" {
	trio_reset
	mdb_sql f "STOP SLAVE; RESET SLAVE ALL"           # f plays no part here
	run -0 ka-notify-mariadb --defaults-file "$CNF" --port "$PB" --peer "127.0.0.1:$PA" \
		--replica "127.0.0.1:$PG" --self "127.0.0.1:$PB" --state-dir "$T/sb" \
		--fault-file "$T/sb/fault" master
	assert_output --partial "OK promoted"
	[ "$(ro a)" = 1 ]
	wait_source g "$PB"
	[ "$(source_of a | cut -d' ' -f1)" = "" ]         # the old primary is left to its rejoin
	last_journal sb | jq -e --arg g "127.0.0.1:$PG" '.peer.fenced == true
		and ([.steps[] | select(.step == "repoint replica " + $g) | .result] == ["ok"])
		and ([.steps[] | select(.step == "self address") | .detail][0] | contains("--self"))
		and ([.peers[] | select(.role == "replica") | .repointed] == ["ok"])'
}

@test "rejoin with two peers goes to the writable one, and refuses when both are writable" {
	trio_reset
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"            # b: read-only, replicating from no one
	mdb_sql f "SET GLOBAL read_only=0"
	run -9 ka-notify-mariadb --defaults-file "$CNF" --port "$PB" \
		--peer "127.0.0.1:$PF,127.0.0.1:$PA" --state-dir "$T/sb" --fault-file "$T/sb/fault" \
		rejoin
	assert_output --partial "2 peers are writable (127.0.0.1:$PF, 127.0.0.1:$PA)"
	[ "$(replication_rows b)" = 0 ]
	mdb_sql f "SET GLOBAL read_only=1"
	run -0 ka-notify-mariadb --defaults-file "$CNF" --port "$PB" \
		--peer "127.0.0.1:$PF,127.0.0.1:$PA" --state-dir "$T/sb" --fault-file "$T/sb/fault" \
		rejoin
	assert_output --partial "rejoined 127.0.0.1:$PA"
	wait_source b "$PA"
}

@test "several peers: a read-only old primary that alone holds the last write is caught up from, then repointed" {
	trio_reset
	mdb_sql b "STOP SLAVE IO_THREAD"
	mdb_sql f "STOP SLAVE IO_THREAD"
	mdb_sql a "INSERT INTO t.x VALUES (4); SET GLOBAL read_only=1"   # demoted by its keepalived
	run -0 ka_b3 master
	assert_output --partial "OK promoted"
	[ "$(mdb_sql b 'SELECT COUNT(*) FROM t.x WHERE i = 4')" = 1 ]
	wait_source a "$PB"
	wait_source f "$PB"
	last_journal sb | jq -e --arg a "127.0.0.1:$PA" '
		([.steps[] | select(.step == "catch up from peer " + $a) | .result] == ["ok"])
		and ([.steps[] | select(.step == "repoint peer " + $a) | .detail][0]
			| contains("current_pos"))'
}

@test "several peers: every peer judged gone by the greeting budget is asked again; the writable one is fenced" {
	trio_reset
	start_slow_greeter "$PSLOW" "$PA"
	start_slow_greeter "$PSLOW_F" "$PF"
	run -0 ka-notify-mariadb --defaults-file "$CNF" --port "$PB" \
		--peer "127.0.0.1:$PSLOW,127.0.0.1:$PSLOW_F" --state-dir "$T/sb" \
		--fault-file "$T/sb/fault" --timeout 2000 master
	assert_output --partial "OK promoted"
	assert_output --partial "late peer 127.0.0.1:$PSLOW was writable: fenced"
	[ "$(ro b)" = 0 ]
	[ "$(ro a)" = 1 ]
	[ "$(ro f)" = 1 ]
	local w
	w=$(step_index "SET GLOBAL read_only=0 on local")
	last_journal sb | jq -e --argjson w "$w" --arg a "127.0.0.1:$PSLOW" --arg f "127.0.0.1:$PSLOW_F" '
		([.steps[] | .step] | index("late peer " + $a)) > $w
		and ([.steps[] | .step] | index("late peer " + $f)) > $w
		and ([.steps[] | select(.step == "fence late peer " + $a) | .result] == ["ok"])
		and ([.steps[] | select(.step == "late peer " + $f) | .detail][0] | contains("read-only"))
		and ([.steps[] | select(.step == "fence late peer " + $f)] | length == 0)
		and ([.peers[] | .state] == ["unreachable", "unreachable"])'
}
