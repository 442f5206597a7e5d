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

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	mdb_start a $PA 1
	mdb_start b $PB 2
	mdb_start c $PC 3
	local n dir
	for n in a b c; do
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
}

teardown() {
	local p
	for p in $APP_PID $MON_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	local n pid
	for n in a b c; do
		pid=$(mdb_pid $n)
		[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
	done
	return 0
}

ka_a() {
	ka-notify-mariadb --defaults-file "$CNF" --port $PA --peer 127.0.0.1:$PB \
		--state-dir "$T/sa" --fault-file "$T/sa/fault" "$@"
}

ka_b() {
	ka-notify-mariadb --defaults-file "$CNF" --port $PB --peer 127.0.0.1:$PA \
		--state-dir "$T/sb" --fault-file "$T/sb/fault" "$@"
}

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

@test "demotes even when a client holds a table lock: kills it and sets read_only again" {
	pair_reset
	mariadb --no-defaults -uroot -S "$(mdb_socket a)" \
		-e "LOCK TABLES t.x WRITE; SELECT SLEEP(30)" >/dev/null 2>&1 3>&- &
	APP_PID=$!
	wait_value a "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'" 1
	run -0 ka_a --no-rejoin --timeout 500 backup
	assert_output --partial "OK demoted"
	[ "$(ro a)" = 1 ]
	app_client_ended
	last_journal sa | jq -e '[.steps[] | select(.step == "SET GLOBAL read_only=1 on local")
		| .result] == ["failed", "ok"]'
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

@test "treats the primary's 1236 answer as divergence and undoes the attempt" {
	pair_reset
	mdb_sql b "STOP SLAVE"
	mdb_sql a "INSERT INTO t.x VALUES (20)"          # errant on a (0-1-4)
	run -0 ka-notify-mariadb --defaults-file "$CNF" --port $PB --peer 127.0.0.1:$PDEAD \
		--state-dir "$T/sb" master
	mdb_sql b "INSERT INTO t.x VALUES (30), (31)"    # b's seq_no passes a's: 0-2-5
	mdb_sql b "INSERT INTO t.x VALUES (32)"
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

@test "exits 64 on bad arguments and 78 on a missing option file" {
	run -64 ka-notify-mariadb --port $PC promote
	assert_output --partial "unknown event 'promote'"
	run -78 ka-notify-mariadb --defaults-file "$T/missing.cnf" --port $PC master
	assert_output --partial "cannot read option file '$T/missing.cnf'"
	[ "$(ro c)" = 0 ]
}
