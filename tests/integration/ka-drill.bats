#!/usr/bin/env bats
# ka-drill and client/failover.[ch] against a real primary/replica pair: server 1 on
# 127.0.0.1:23400, server 2 (read-only replica) on 127.0.0.1:23401; a stand-in VIP (socat)
# on 23402, a hung stand-in server (accepts, never greets) on 23403, and a stand-in VIP
# that stops its server when a statement passes and moves on SIGUSR1 (stall-proxy.py) on
# 23404. The tests run in
# order and the later ones break the pair (kill, hang, promote by hand with SQL), so the
# pair is rebuilt where a test needs it whole.

S1=127.0.0.1:23400
S2=127.0.0.1:23401

# The drill's account may read SHOW SLAVE STATUS (its replication check), on NAME only.
grant_monitor() {
	mdb_sql "$1" "SET sql_log_bin=0; GRANT SLAVE MONITOR ON *.* TO app@'localhost', app@'127.0.0.1';
		SET sql_log_bin=1"
}

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	trap mdb_stop_all EXIT
	mdb_start s1 23400 1
	mdb_start s2 23401 2
	mdb_replicate s2 s1
	mdb_sql s2 "SET GLOBAL read_only=1"
	grant_monitor s1
	grant_monitor s2
	mdb_cnf s1 "$KA_TEST_ROOT/app.cnf" app "$KA_DB_PASS_APP"
	local san=()
	[ "${SANITIZE:-}" = 1 ] && san=(-fsanitize=address,undefined)
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "${san[@]}" -I"$KA_REPO/lib" \
		-I"$KA_REPO/client" $(pkg-config --cflags libmariadb) -o "$KA_TEST_ROOT/ka-fo-exec" \
		"$KA_REPO/tests/helpers/ka-fo-exec.c" "$KA_REPO/client/failover.c" "$KA_REPO"/lib/*.c \
		$(pkg-config --libs libmariadb) -lcrypto
	trap - EXIT
}

teardown_file() {
	load ../helpers/mariadb
	mdb_stop_all
}

setup() {
	load ../helpers/common
	load ../helpers/mariadb
	CNF=$KA_TEST_ROOT/app.cnf
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
}

teardown() {
	stop_forwarder
	stop_silent_listener
	local n
	for n in ${THAW:-}; do             # a server a test stopped runs again
		kill -CONT "$(mdb_pid "$n")" 2>/dev/null || true
	done
	THAW=
	if [ -n "${PROXY_PID:-}" ]; then
		kill "$PROXY_PID" 2>/dev/null
		wait "$PROXY_PID" 2>/dev/null
	fi
	PROXY_PID=
	if [ -n "${DRILL_PID:-}" ] && kill -0 "$DRILL_PID" 2>/dev/null; then
		kill -KILL "$DRILL_PID" 2>/dev/null
		wait "$DRILL_PID" 2>/dev/null
	fi
	return 0
}

# Starts ka-drill in the background (stdout $OUT, stderr $ERR).
drill_bg() {
	ka-drill --defaults-file "$CNF" "$@" >"$OUT" 2>"$ERR" 3>&- &
	DRILL_PID=$!
}

# Waits for the background drill (bounded by its own --duration); status in DRILL_RC.
drill_wait() {
	DRILL_RC=0
	wait "$DRILL_PID" || DRILL_RC=$?
	DRILL_PID=
	echo "exit $DRILL_RC"; cat "$OUT"; cat "$ERR" >&2
}

j() { jq -r "$1" "$OUT"; }

fo_exec() { "$KA_TEST_ROOT/ka-fo-exec" --defaults-file "$CNF" "$@"; }

# Promotes a replica by hand (what ka-notify-mariadb does): drain what it received,
# stop replication, make it writable.
promote() {
	local pos
	pos=$(mdb_sql "$1" "SHOW SLAVE STATUS\G" | sed -n 's/^ *Gtid_IO_Pos: //p')
	mdb_sql "$1" "SELECT MASTER_GTID_WAIT('$pos', 10)" >/dev/null
	mdb_sql "$1" "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=0"
}

# A fresh, empty NAME on its port, replica of PRIMARY, read-only.
fresh_replica() {
	mdb_kill "$1" || true
	mdb_start "$1" "$2" "$3"
	grant_monitor "$1"
	mdb_replicate "$1" "$4"
	mdb_sql "$1" "SET GLOBAL read_only=1"
	# caught up before a test writes: a fresh replica still copying the primary's binlog
	# leaves semi-sync off (async), and a failover then loses what it had not received
	mdb_wait_synced "$1" "$4"
}

# A fresh pair: server 1 (server_id 1) primary, server 2 (server_id 2) its replica.
fresh_pair() {
	mdb_kill s1
	mdb_kill s2
	mdb_start s1 23400 1
	grant_monitor s1
	fresh_replica s2 23401 2 s1
}

# A TCP forwarder on 127.0.0.1:23402 to PORT (a stand-in for a VIP): FWD_PID, and
# FWD_OLD for the children of replaced forwarders (their connections stay open).
start_forwarder() {
	socat TCP-LISTEN:23402,bind=127.0.0.1,reuseaddr,fork "TCP:127.0.0.1:$1" 3>&- &
	FWD_PID=$!
	local i
	for i in $(seq 50); do
		(exec 5<>/dev/tcp/127.0.0.1/23402) 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Points the forwarder at PORT: new connections go there, open ones stay where they are.
move_forwarder() {
	FWD_OLD="${FWD_OLD:-} $FWD_PID $(pgrep -P "$FWD_PID" | tr '\n' ' ' || true)"
	kill "$FWD_PID"
	wait "$FWD_PID" 2>/dev/null || true
	start_forwarder "$1"
}

# Cuts the connections the forwarder carries now (the old holder of the VIP is gone).
cut_forwarded() {
	local p
	for p in ${FWD_OLD:-} $(pgrep -P "$FWD_PID" | tr '\n' ' ' || true); do
		kill "$p" 2>/dev/null || true
	done
	FWD_OLD=
}

ms_now() { echo $(($(date +%s%N) / 1000000)); }

stop_forwarder() {
	local p kids=
	if [ -n "${FWD_PID:-}" ]; then
		kids=$(pgrep -P "$FWD_PID" | tr '\n' ' ') || true
	fi
	for p in ${FWD_OLD:-} ${FWD_PID:-} $kids; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "${FWD_PID:-}" ]; then
		wait "$FWD_PID" 2>/dev/null || true
	fi
	FWD_PID= FWD_OLD=
	return 0
}

@test "writes at the rate and finds every acknowledged id exactly once on both nodes" {
	run -0 ka-drill --defaults-file "$CNF" --hosts "$S1,$S2" --rate 20 --duration 2 \
		--verify-all --json
	echo "$output" > "$OUT"
	for k in attempted acknowledged lost duplicated ambiguous longest_outage_ms \
		outage_start_ms outage_end_ms phases switches nodes run_id; do
		jq -e "has(\"$k\")" "$OUT" >/dev/null || { echo "missing key $k"; return 1; }
	done
	[ "$(j .status)" = OK ]
	[ "$(j .attempted)" -ge 20 ] && [ "$(j .attempted)" -le 45 ]
	[ "$(j .acknowledged)" = "$(j .attempted)" ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ] && [ "$(j .ambiguous)" = 0 ]
	[ "$(j .longest_outage_ms)" = 0 ]
	[ "$(j '.phases | length')" = 1 ] && [ "$(j '.phases[0].server')" = "$S1" ]
	[ "$(j '.nodes | map(select(.verified and .missing == 0 and .rows == '"$(j .acknowledged)"')) | length')" = 2 ]
	[ "$(j .replication)" = ok ] && [ "$(j '.nodes[1].replication')" = ok ]
	[ "$(j '.nodes[1].replication_source_id')" = 1 ] && [ "$(j .not_caught_up)" = 0 ]
	[ "$(mdb_sql s1 'SELECT COUNT(*) FROM ka_drill.drill')" -ge "$(j .acknowledged)" ]
}

@test "rows a replica with a stopped SQL thread has not applied are reported not caught up, not lost" {
	mdb_sql s2 "STOP SLAVE SQL_THREAD"
	run ka-drill --defaults-file "$CNF" --hosts "$S1,$S2" --rate 20 --duration 2 --verify-all --json
	mdb_sql s2 "START SLAVE SQL_THREAD"
	echo "$output" > "$OUT"
	cat "$OUT"
	[ "$status" = 0 ] && [ "$(j .status)" = OK ]
	[ "$(j .lost)" = 0 ] && [ "$(j .not_caught_up)" = "$(j .acknowledged)" ]
	[ "$(j '.nodes[1].caught_up')" = false ] && [ "$(j '.nodes[1].missing')" = "$(j .acknowledged)" ]
	[ "$(j '.nodes[1].replication')" = stopped ] && [ "$(j .replication)" = not-replicating ]
	mdb_wait_synced s2 s1
}

@test "--verify-hosts naming the primary itself reports it as the primary, not as a node that does not replicate" {
	run -0 ka-drill --defaults-file "$CNF" --hosts "$S1" --rate 20 --duration 1 \
		--verify-hosts "$S1,$S2" --json
	echo "$output" > "$OUT"
	[ "$(j '.nodes[1].server')" = "$S1" ] && [ "$(j '.nodes[1].replication')" = primary ]
	[ "$(j '.nodes[2].server')" = "$S2" ] && [ "$(j '.nodes[2].replication')" = ok ]
	[ "$(j .replication)" = ok ] && [ "$(j .status)" = OK ]
}

@test "the final count refuses a server that is not the writer the drill wrote to" {
	# A stand-in VIP leads to server 1; mid-run it is moved to the read-only server 2.
	# The drill's session stays on server 1; a fresh connection for the count would
	# land on server 2 and count a replica's rows as the primary's.
	start_forwarder 23400
	drill_bg --hosts 127.0.0.1:23402 --rate 20 --duration 3 --timeout 500 \
		--failover-timeout 1000 --json
	sleep 1
	move_forwarder 23401
	drill_wait
	stop_forwarder
	[ "$DRILL_RC" = 2 ] && [ "$(j .verified)" = false ]
	[ "$(j '.phases[0].server_id')" = 1 ] && [ "$(j '.phases | length')" = 1 ]
	[[ "$(j .reason)" == *"'127.0.0.1:23402' is read-only"* ]]
	grep -q "answered as server_id 2, read-only, not as the writer the drill wrote to (server_id 1)" "$ERR"
}

@test "repeated runs on one table use their own ids and verify only their own rows" {
	run -0 ka-drill --defaults-file "$CNF" --hosts "$S1" --rate 20 --duration 1 --json
	echo "$output" > "$OUT"
	local first=$(j .run_id)
	run -0 ka-drill --defaults-file "$CNF" --hosts "$S1" --rate 20 --duration 1 --json
	echo "$output" > "$OUT"
	[ "$(j .run_id)" != "$first" ]
	[ "$(j '.nodes[0].rows')" = "$(j .acknowledged)" ]
	[ "$(mdb_sql s1 'SELECT COUNT(*) FROM ka_drill.drill')" -gt "$(j .acknowledged)" ]
}

@test "prints a live progress line on a terminal and none otherwise" {
	run -0 script -qec "ka-drill --defaults-file $CNF --hosts $S1 --rate 20 --duration 1" /dev/null
	assert_output --partial $'\r'"ka-drill: "
	assert_output --partial "acknowledged"
	run -0 ka-drill --defaults-file "$CNF" --hosts "$S1" --rate 20 --duration 1
	refute_output --partial $'\r'
	assert_output --partial "OK every acknowledged write is present exactly once"
}

@test "SIGTERM ends the writing, and the run is still verified and reported" {
	drill_bg --hosts "$S1" --rate 20 --json
	sleep 1.5
	kill -TERM "$DRILL_PID"
	drill_wait
	[ "$DRILL_RC" = 0 ]
	[ "$(j .verified)" = true ] && [ "$(j .acknowledged)" -ge 5 ] && [ "$(j .lost)" = 0 ]
}

@test "an acknowledged row deleted behind the drill's back is reported lost (exit 1)" {
	drill_bg --hosts "$S1" --database lostdb --rate 20 --duration 3 --json
	sleep 1.5
	mdb_sql s1 "DELETE FROM lostdb.drill ORDER BY pk LIMIT 1"
	drill_wait
	[ "$DRILL_RC" = 1 ]
	[ "$(j .status)" = FAIL ] && [ "$(j .code_name)" = unfit ]
	[ "$(j .lost)" = 1 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j .reason)" = "1 acknowledged write(s) lost, 0 duplicated" ]
}

@test "a row applied twice is reported duplicated (exit 1)" {
	drill_bg --hosts "$S1" --database dupdb --rate 20 --duration 3 --json
	sleep 1.5
	mdb_sql s1 "INSERT INTO dupdb.drill (id, payload)
		SELECT id, 'copy' FROM dupdb.drill ORDER BY pk LIMIT 1"
	drill_wait
	[ "$DRILL_RC" = 1 ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 1 ]
	[ "$(j '.nodes[0].rows')" = "$(j '.acknowledged + 1')" ]
}

@test "a duplicate key or a syntax error goes back to the caller and never fails over" {
	run --separate-stderr -0 fo_exec "$S1,$S2" "CREATE DATABASE IF NOT EXISTS fo" \
		"CREATE TABLE IF NOT EXISTS fo.k (id INT PRIMARY KEY)" "INSERT INTO fo.k VALUES (1)" \
		"INSERT INTO fo.k VALUES (1)" "SELEC 1" "SELECT @@server_id"
	assert_line --index 0 "open server=$S1"
	assert_line --index 3 "ok errno=0 server=$S1 switches=0 value="
	assert_line --index 4 --partial "sql-error errno=1062 server=$S1 switches=0"
	assert_line --index 5 --partial "sql-error errno=1064 server=$S1 switches=0"
	assert_line --index 6 "ok errno=0 server=$S1 switches=0 value=1"
	refute_output --partial "switch "
}

# Waits (up to 2 s) for the one session of user app on NAME, then kills it.
kill_app_session() {
	local id i
	for i in $(seq 20); do
		id=$(mdb_sql "$1" "SELECT ID FROM information_schema.PROCESSLIST WHERE USER='app'")
		[ -n "$id" ] && break
		sleep 0.1
	done
	mdb_sql "$1" "KILL CONNECTION $id"
}

@test "a session the server closed while idle is reconnected before sending, skipping a read-only server" {
	fo_exec "$S1,$S2" "SELECT @@server_id" sleep:1500 "SELECT 1 + 1" >"$OUT" 2>"$ERR" 3>&- &
	local pid=$!
	kill_app_session s1
	wait "$pid"
	cat "$OUT" "$ERR"
	grep -qx "switch $S1 -> $S1 errno=2006" "$OUT"
	grep -qx "ok errno=0 server=$S1 switches=1 value=2" "$OUT"
	! grep -q ambiguous "$OUT"
}

# Waits (up to 5 s) until SQL on NAME prints a non-empty line.
wait_sql() { mdb_wait_for "$1" "$2" 5; }

@test "a statement after COMMIT in an autocommit=0 session the server killed is transaction-lost, not re-run with autocommit on" {
	mdb_sql s1 "CREATE DATABASE IF NOT EXISTS fo; CREATE TABLE IF NOT EXISTS fo.ac (id INT PRIMARY KEY);
		DELETE FROM fo.ac"
	fo_exec "$S1,$S2" "SET autocommit=0" "INSERT INTO fo.ac VALUES (1)" "COMMIT" sleep:1500 \
		"INSERT INTO fo.ac VALUES (2)" "SELECT @@autocommit" "ROLLBACK" >"$OUT" 2>"$ERR" 3>&- &
	local pid=$!
	wait_sql s1 "SELECT 1 FROM fo.ac WHERE id = 1"   # committed: the session is idle now
	kill_app_session s1
	wait "$pid"
	cat "$OUT" "$ERR"
	sed -n 4p "$OUT" | grep -qx "ok errno=0 server=$S1 switches=0 value="
	# INSERT 2 was provably not sent, but the session it belonged to had autocommit off:
	# run on a new session (autocommit on) it would commit at once. Not run.
	sed -n 6p "$OUT" | grep -qx "transaction-lost errno=2006 server=$S1 switches=1 value="
	# the new session is a plain one: session state is not restored (documented)
	sed -n 7p "$OUT" | grep -qx "ok errno=0 server=$S1 switches=1 value=1"
	[ "$(mdb_sql s1 'SELECT GROUP_CONCAT(id) FROM fo.ac')" = 1 ]
}

@test "the seed's call: failover() returns 2 when the lost session had autocommit off" {
	mdb_sql s1 "CREATE DATABASE IF NOT EXISTS fo; CREATE TABLE IF NOT EXISTS fo.ar (id INT PRIMARY KEY);
		DELETE FROM fo.ar"
	fo_exec "$S1,$S2" "raw:SET autocommit=0" "raw:INSERT INTO fo.ar VALUES (1)" "raw:COMMIT" \
		sleep:1500 "raw:INSERT INTO fo.ar VALUES (2)" "raw:SELECT 1" >"$OUT" 2>"$ERR" 3>&- &
	local pid=$!
	wait_sql s1 "SELECT 1 FROM fo.ar WHERE id = 1"
	kill_app_session s1
	wait "$pid"
	cat "$OUT" "$ERR"
	sed -n 6p "$OUT" | grep -qE "^raw errno=20(06|13) failover=2 server=$S1\$"
	# a plain session afterwards: autocommit on, so a lost statement moves with 1 again
	sed -n 7p "$OUT" | grep -qx "raw errno=0 failover=0 server=$S1"
	[ "$(mdb_sql s1 'SELECT GROUP_CONCAT(id) FROM fo.ar')" = 1 ]
}

@test "the seed's call: failover() returns 0 for a duplicate key and moves a lost session" {
	fo_exec "$S1,$S2" "raw:CREATE DATABASE IF NOT EXISTS fo" \
		"raw:CREATE TABLE IF NOT EXISTS fo.r (id INT PRIMARY KEY)" "raw:DELETE FROM fo.r" \
		"raw:INSERT INTO fo.r VALUES (1)" "raw:INSERT INTO fo.r VALUES (1)" sleep:1500 \
		"raw:SELECT 1" "raw:SELECT 2" >"$OUT" 2>"$ERR" 3>&- &
	local pid=$!
	sleep 0.5
	kill_app_session s1
	wait "$pid"
	cat "$OUT" "$ERR"
	sed -n 5p "$OUT" | grep -qx "raw errno=0 failover=0 server=$S1"
	sed -n 6p "$OUT" | grep -qx "raw errno=1062 failover=0 server=$S1"
	# the seed's blocking call finds the session gone (2006/2013): failover() moves it,
	# past the read-only server 2, back to server 1
	sed -n 7p "$OUT" | grep -qx "switch $S1 -> $S1 errno=20[01][36]"
	sed -n 8p "$OUT" | grep -qE "^raw errno=20(06|13) failover=1 server=$S1\$"
	sed -n 9p "$OUT" | grep -qx "raw errno=0 failover=0 server=$S1"
}

@test "reads may go to the second server, writes stay on the first" {
	run --separate-stderr -0 fo_exec --read-secondary --read "$S1,$S2" "SELECT @@server_id"
	assert_line --index 1 "ok errno=0 server=$S1 switches=0 value=2"
	run --separate-stderr -0 fo_exec "$S1,$S2" "SELECT @@server_id"
	assert_line --index 1 "ok errno=0 server=$S1 switches=0 value=1"
}

@test "a primary SIGKILLed and started again on its port: the drill's outage exceeds the downtime by less than 600 ms" {
	drill_bg --hosts "$S1" --database downdb --rate 50 --duration 6 --json
	sleep 1.5
	local t0 t1
	t0=$(ms_now)
	mdb_kill s1
	sleep 1
	mdb_launch s1
	# up = the first write it commits (semi-sync waits for the replica's reconnect)
	mdb_sql s1 "INSERT INTO downdb.drill (id, payload) VALUES (0, 'test: up')"
	t1=$(ms_now)
	drill_wait
	local down=$((t1 - t0)) outage
	outage=$(j .longest_outage_ms)
	echo "server down $down ms, drill outage $outage ms, excess $((outage - down)) ms"
	[ "$DRILL_RC" = 0 ] && [ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$outage" -ge 800 ]
	[ $((outage - down)) -lt 600 ]
}

@test "a stand-in VIP moved from a hung server to a live one: the drill's outage exceeds the move by less than 600 ms, not by a connect timeout" {
	start_silent_listener 23403        # a hung server: its kernel accepts, it never greets
	start_forwarder 23400
	drill_bg --hosts 127.0.0.1:23402 --database vipdb --rate 50 --duration 6 --timeout 3000 --json
	sleep 1.5
	local t0 t1 t2
	move_forwarder 23403               # the VIP is on the hung server now ...
	t0=$(ms_now)
	cut_forwarded                      # ... and the drill's session to server 1 is gone
	sleep 1
	t1=$(ms_now)
	move_forwarder 23400               # the VIP moves to a live server
	t2=$(ms_now)
	drill_wait
	stop_forwarder
	# the VIP was live again between t1 and t2 (the forwarder's start, slow under load)
	local down=$((t2 - t0)) outage
	outage=$(j .longest_outage_ms)
	echo "VIP live again $((t1 - t0))..$down ms after the cut, drill outage $outage ms," \
		"excess $((outage - down))..$((outage - t1 + t0)) ms"
	# each connect attempt to the hung server is cut after 200 ms, not after --timeout
	[ "$DRILL_RC" = 0 ] && [ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$outage" -ge 800 ]
	[ $((outage - down)) -lt 600 ]
}

@test "a reconnect cuts an attempt on a hung endpoint after 200 ms, not the whole connect timeout" {
	start_silent_listener 23403
	# the session is dropped; the reconnect starts with the next endpoint (the hung one)
	timed run --separate-stderr -0 fo_exec --timeout 3000 "$S1,127.0.0.1:23403" \
		"SELECT 1" disconnect "SELECT @@server_id"
	echo "$output"
	echo "took $TIMED_MS ms"
	assert_line --index 2 "switch $S1 -> $S1 errno=0"
	assert_line --index 3 "ok errno=0 server=$S1 switches=1 value=1"
	[ "$TIMED_MS" -lt 2500 ]
}

@test "a commit lost in a hung server (SIGSTOP) is ambiguous and resolved by id" {
	drill_bg --hosts "$S1" --rate 20 --duration 4 --timeout 400 --json
	sleep 1
	kill -STOP "$(mdb_pid s1)"
	sleep 1.5
	kill -CONT "$(mdb_pid s1)"
	drill_wait
	[ "$DRILL_RC" = 0 ]
	[ "$(j .ambiguous)" -ge 1 ]
	# each one found by its id: present (committed, acknowledged late) or absent (written again)
	[ "$(j '.ambiguous_committed + .ambiguous_reinserted')" = "$(j .ambiguous)" ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j .longest_outage_ms)" -ge 400 ]
	[ "$(j .acknowledged)" = "$(j '.attempted - .failed')" ]
}

@test "writes stuck on a row lock are ambiguous, fenced by KILL, looked up and stored once" {
	drill_bg --hosts "$S1" --rate 20 --duration 4 --timeout 300 --json
	sleep 1
	# Another transaction locks every id (and the gaps) for 1.5 s: INSERTs wait in InnoDB.
	# A wait the drill gives up on stays in the server (InnoDB does not notice the client
	# left) and would commit when the lock goes, after the lookup said "absent": the fence
	# kills it first. Without the fence this run ends with duplicated 1 (tried).
	mdb_sql s1 "BEGIN; SELECT COUNT(*) FROM ka_drill.drill WHERE id > 0 FOR UPDATE;
		SELECT SLEEP(1.5); COMMIT" >/dev/null
	drill_wait
	[ "$DRILL_RC" = 0 ]
	[ "$(j .ambiguous)" -ge 1 ]
	[ "$(j '.ambiguous_committed + .ambiguous_reinserted')" = "$(j .ambiguous)" ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j .longest_outage_ms)" -ge 1000 ]
	[ "$(mdb_sql s1 "SELECT COUNT(*) FROM ka_drill.drill
		WHERE payload LIKE 'ka-drill $(j .run_id) % again'")" -ge 1 ]
}

@test "a resolution whose session is lost in the middle starts over on the new session and stores the write once" {
	drill_bg --hosts "$S1" --database movedb --rate 20 --duration 4 --timeout 300 --json
	sleep 1
	# A table lock makes INSERTs and the look-ups wait past --timeout: each look-up's
	# session is dropped and a new one opened. The resolution starts over from the
	# fence instead of carrying on with a look-up on another session.
	mdb_sql s1 "LOCK TABLES movedb.drill WRITE; SELECT SLEEP(1.5); UNLOCK TABLES" >/dev/null
	drill_wait
	[ "$DRILL_RC" = 0 ]
	[ "$(j .ambiguous)" -ge 1 ] && [ "$(j .resolution_restarts)" -ge 1 ]
	[ "$(j '.ambiguous_committed + .ambiguous_reinserted')" = "$(j .ambiguous)" ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
}

@test "the fences of writes still ambiguous at the end stop within one bound when the primary hangs" {
	drill_bg --hosts "$S1" --database fencedb --rate 20 --duration 4 --timeout 100 \
		--failover-timeout 2000 --json
	sleep 1
	# INSERTs and look-ups wait on a table lock: writes stay ambiguous, unresolved
	mdb_sql s1 "LOCK TABLES fencedb.drill WRITE; SELECT SLEEP(30)" >/dev/null 2>&1 3>&- &
	local lock=$!
	sleep 2.5
	kill -STOP "$(mdb_pid s1)"   # hung at the end: each fence alone would cost a failover
	local t0=$(date +%s%N)
	drill_wait
	local end_ms=$((($(date +%s%N) - t0) / 1000000))
	kill -CONT "$(mdb_pid s1)"
	kill "$lock"
	wait "$lock" || true
	echo "from the stop to the report: $end_ms ms"
	[ "$DRILL_RC" = 2 ] || [ "$DRILL_RC" = 3 ]
	[ "$(j .ambiguous_unfenced)" -ge 2 ]
	[ "$(j .ambiguous_unresolved)" -ge 2 ]
	# fences of all pending writes within failover + statement timeout (2.1 s), then one
	# failed verification (about 2 s); each fence on its own took about 2 s before
	[ "$end_ms" -lt 8000 ]
}

@test "server 1 killed mid-run: the drill continues on server 2 and reports the outage" {
	drill_bg --hosts "$S1,$S2" --rate 20 --duration 5 --timeout 1000 --verify-all --json
	sleep 1.5
	mdb_kill s1
	sleep 0.5
	promote s2
	drill_wait
	[ "$DRILL_RC" = 0 ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j .outage_count)" -ge 1 ] && [ "$(j .longest_outage_ms)" -gt 0 ]
	[ "$(j .outage_end_ms)" -gt "$(j .outage_start_ms)" ]
	[ "$(j '.phases[0].server')" = "$S1" ] && [ "$(j '.phases[-1].server')" = "$S2" ]
	[ "$(j '.phases[-1].server_id')" = 2 ] && [ "$(j '.phases[-1].acknowledged')" -ge 10 ]
	[ "$(j '.switches[0].from')" = "$S1" ] && [ "$(j '.switches[0].to')" = "$S2" ]
	[ "$(j '.nodes[0].server')" = "$S2" ] && [ "$(j '.nodes[0].role')" = primary ]
	[ "$(j '.nodes[1].verified')" = false ]
	[ "$(j '.ambiguous_committed + .ambiguous_reinserted')" = "$(j .ambiguous)" ]
}

@test "a write in flight when the primary hangs and dies is resolved by id on the new primary" {
	fresh_replica s1 23400 3 s2        # server 2 is now the primary, server 1 its replica
	drill_bg --hosts "$S2,$S1" --rate 20 --duration 5 --timeout 400 --verify-all --json
	sleep 1
	kill -STOP "$(mdb_pid s2)"         # the next INSERT waits in its socket
	sleep 1
	kill -KILL "$(mdb_pid s2)"         # still stopped: it never runs it
	mdb_kill s2
	promote s1
	drill_wait
	[ "$DRILL_RC" = 0 ]
	# Usually absent on server 1 and written again; present when the stop caught an
	# INSERT that server 2 had already sent to its replica: both are right.
	[ "$(j .ambiguous)" -ge 1 ]
	[ "$(j '.ambiguous_committed + .ambiguous_reinserted')" = "$(j .ambiguous)" ]
	[ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j '.phases[-1].server')" = "$S1" ] && [ "$(j '.phases[-1].server_id')" = 3 ]
}

@test "both servers down mid-run: a clear error and exit 2" {
	# server 2 is dead since the previous test; server 1 is the primary
	drill_bg --hosts "$S1,$S2" --rate 20 --duration 3 --timeout 300 --failover-timeout 1000
	sleep 1
	mdb_kill s1
	drill_wait
	[ "$DRILL_RC" = 2 ]
	grep -q "^FAIL cannot verify: no usable endpoint" "$OUT"
	grep -q "still open at the end" "$OUT"
	grep -q "cannot connect to '$S1'" "$OUT"
	grep -q "cannot connect to '$S2'" "$OUT"
}

@test "a stale INSERT a hung old primary runs on SIGCONT breaks its rejoin: replication broken, exit 1" {
	fresh_pair
	drill_bg --hosts "$S1,$S2" --rate 20 --duration 60 --timeout 400 --failover-timeout 2000 \
		--verify-all --json
	sleep 1
	kill -STOP "$(mdb_pid s1)"         # the next INSERT waits in server 1's socket buffer
	sleep 1
	promote s2
	sleep 1.5                          # the drill finds the id absent on server 2: written again
	kill -CONT "$(mdb_pid s1)"         # server 1 runs the stale INSERT too (semi-sync gives up in 1 s)
	sleep 2
	# server 1 rejoins under server 2 as an operator would, from its own GTID position
	mdb_sql s1 "SET GLOBAL read_only=1; CHANGE MASTER TO MASTER_HOST='127.0.0.1',
		MASTER_PORT=23401, MASTER_USER='repl', MASTER_PASSWORD='$KA_DB_PASS_REPL',
		MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1; START SLAVE"
	local i
	for i in $(seq 100); do            # -N -B output: one tab-separated row
		mdb_sql s1 "SHOW SLAVE STATUS" | grep -q "fatal error 1236" && break
		sleep 0.1
	done
	kill -TERM "$DRILL_PID"            # the drill ends now, with its verification
	drill_wait
	# on server 2 every acknowledged id once: "duplicated 0" alone would call this a pass
	[ "$(j .verified)" = true ] && [ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j .ambiguous_reinserted)" -ge 1 ]
	[ "$DRILL_RC" = 1 ] && [ "$(j .status)" = FAIL ]
	[ "$(j .replication)" = broken ]
	[ "$(j '.nodes[1].server')" = "$S1" ] && [ "$(j '.nodes[1].replication')" = broken ]
	[ "$(j '.nodes[1].replication_errno')" = 1236 ]
	[ "$(j '.nodes[1].caught_up')" = false ] && [ "$(j .not_caught_up)" -ge 1 ]
	[[ "$(j .reason)" == "replication from the primary is broken on $S1: error 1236"* ]]
}

# ---- a hung server behind a stand-in VIP that moves (hung_probe_ms, --hung-probe-ms) ----

# A stall proxy on 127.0.0.1:23404 in front of server NAME: the first statement that
# contains PATTERN stops NAME (SIGSTOP) with that statement in its socket buffer; SIGUSR1
# (move_proxy) sends the connections opened after it to port MOVE_TO, as a VIP moves.
# teardown continues NAME and ends the proxy.
start_stall_proxy() {
	PROXY_OUT=$BATS_TEST_TMPDIR/proxy.out
	THAW="${THAW:-} $1"
	/usr/bin/python3 "$KA_REPO/tests/helpers/stall-proxy.py" 23404 "$(mdb_port "$1")" \
		"$(mdb_pid "$1")" "$2" 60 "$3" > "$PROXY_OUT" 3>&- &
	PROXY_PID=$!
	proxy_said ready
}

# Waits (up to 10 s) until the proxy printed WORD.
proxy_said() {
	local i
	for i in $(seq 200); do
		grep -qsx "$1" "$PROXY_OUT" && return 0
		sleep 0.05
	done
	echo "stall proxy never said $1" >&2
	return 1
}

move_proxy() {
	kill -USR1 "$PROXY_PID"
	proxy_said moved
}

# Two writable servers: server 1 (server_id 1) and server 2 (server_id 2), both holding the
# table hp.t; semi-sync off on both (no commit waits for a replica that is gone).
two_writers() {
	fresh_pair
	mdb_sql s1 "CREATE DATABASE hp; CREATE TABLE hp.t (id INT PRIMARY KEY)"
	mdb_wait_synced s2 s1
	mdb_sql s2 "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=0"
	mdb_sql s1 "SET GLOBAL rpl_semi_sync_master_enabled=0"
	mdb_sql s2 "SET GLOBAL rpl_semi_sync_master_enabled=0"
}

# The value of KEY=... on line N (1-based) of $OUT.
field() { sed -n "$1p" "$OUT" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

@test "a write in flight on a hung server is abandoned as a lost connection within 1.8 s once its endpoint leads to another writer" {
	two_writers
	start_stall_proxy s1 "INSERT INTO hp.t" 23401
	fo_exec --timeout 5000 --measure 127.0.0.1:23404 "SELECT @@server_id" \
		"INSERT INTO hp.t VALUES (1)" "SELECT @@server_id" >"$OUT" 2>"$ERR" 3>&- &
	local pid=$!
	proxy_said stopped                 # server 1 stopped 0.3 s ago, the INSERT in its buffer
	sleep 0.5
	move_proxy                         # the VIP is on server 2 now
	wait "$pid"
	cat "$OUT" "$ERR"
	local ms=$(field 4 ms)
	echo "abandoned after $ms ms, $(field 4 probes) side connections"
	sed -n 2p "$OUT" | grep -q "^ok errno=0 server=127.0.0.1:23404 switches=0 value=1 "
	sed -n 3p "$OUT" | grep -qx "switch 127.0.0.1:23404 -> 127.0.0.1:23404 errno=2013"
	# sent, then lost: the library's rule for a 2013 (ambiguous, not re-run)
	sed -n 4p "$OUT" | grep -q "^ambiguous errno=2013 server=127.0.0.1:23404 switches=1 value= "
	[ "$(field 4 abandoned)" = 1 ] && [ "$(field 4 probes)" -ge 2 ]
	[ "$ms" -ge 700 ] && [ "$ms" -lt 1800 ]
	grep -q "failed: abandoned after [0-9]* ms: '127.0.0.1:23404' now leads to writable server_id 2, not 1 (2013)" "$ERR"
	sed -n 5p "$OUT" | grep -q "^ok errno=0 server=127.0.0.1:23404 switches=1 value=2 "
	[ "$(mdb_sql s2 'SELECT COUNT(*) FROM hp.t')" = 0 ]   # never re-run on server 2
}

@test "with hung_probe_ms 0 the write on a hung server waits for its own deadline although its endpoint moved" {
	two_writers
	start_stall_proxy s1 "INSERT INTO hp.t" 23401
	fo_exec --timeout 2000 --hung-probe 0 --measure 127.0.0.1:23404 \
		"INSERT INTO hp.t VALUES (2)" >"$OUT" 2>"$ERR" 3>&- &
	local pid=$!
	proxy_said stopped
	sleep 0.5
	move_proxy
	wait "$pid"
	cat "$OUT" "$ERR"
	echo "gave up after $(field 3 ms) ms"
	sed -n 3p "$OUT" | grep -q "^ambiguous errno=0 .* probes=0 abandoned=0$"
	[ "$(field 3 ms)" -ge 1900 ]
	grep -q "failed: timed out" "$ERR"
}

@test "side connections that reach no server, or the same one, change nothing: the write waits for its deadline, a slow statement ends normally" {
	two_writers
	start_stall_proxy s1 "INSERT INTO hp.t" 23401
	# the proxy never moves: each side connection reaches the stopped server 1 and is cut
	# (then the reconnect finds no writer there either: 3 s of failover_timeout_ms)
	fo_exec --timeout 2000 --measure 127.0.0.1:23404 "INSERT INTO hp.t VALUES (3)" \
		>"$OUT" 2>"$ERR" 3>&- || true
	cat "$OUT" "$ERR"
	echo "gave up after $(field 2 ms) ms, $(field 2 probes) side connections"
	sed -n 2p "$OUT" | grep -q "^ambiguous errno=0 server=none .* abandoned=0$"
	[ "$(field 2 ms)" -ge 1900 ] && [ "$(field 2 probes)" -ge 5 ]
	grep -q "failed: timed out" "$ERR"
	# a running server and a statement slower than hung_probe_ms: each side connection
	# finds the session's own server_id again
	fo_exec --timeout 5000 --measure "$S2" "SELECT SLEEP(1)" >"$OUT" 2>"$ERR" 3>&-
	cat "$OUT" "$ERR"
	echo "$(field 2 probes) side connections"
	sed -n 2p "$OUT" | grep -q "^ok errno=0 server=$S2 switches=0 value=0 .* abandoned=0$"
	[ "$(field 2 ms)" -ge 1000 ] && [ "$(field 2 probes)" -ge 5 ]
}

@test "ka-drill through a stand-in VIP: a write in flight on a hung primary is abandoned once the VIP leads to the promoted replica, not after --timeout; nothing lost" {
	fresh_pair
	start_stall_proxy s1 " 20')" 23401     # the drill's 20th write stops server 1
	drill_bg --hosts 127.0.0.1:23404 --database hungdb --rate 20 --duration 7 \
		--timeout 8000 --json
	proxy_said stopped
	local t0 t1
	t0=$(ms_now)
	move_proxy                         # the VIP moves first: server 2 is read-only still
	promote s2                         # what ka-notify-mariadb does, semi-sync off
	mdb_sql s2 "SET GLOBAL rpl_semi_sync_master_enabled=0"
	t1=$(ms_now)
	drill_wait
	# the write began about 300 ms before the proxy said "stopped"
	local writer=$((t1 - t0 + 300)) outage waited
	outage=$(j .longest_outage_ms)
	waited=$(j '.switches[0].reason' | sed -n 's/.*abandoned after \([0-9]*\) ms.*/\1/p')
	echo "server 1 stopped, server 2 a writer behind the VIP after about $writer ms;" \
		"write abandoned after $waited ms; drill outage $outage ms, excess $((outage - writer)) ms"
	[ "$DRILL_RC" = 0 ] && [ "$(j .lost)" = 0 ] && [ "$(j .duplicated)" = 0 ]
	[ "$(j .ambiguous)" = 1 ]
	[ "$(j '.ambiguous_committed + .ambiguous_reinserted')" = 1 ]
	[ "$(j '.switches[0].errno')" = 2013 ] && [ "$(j '.switches[0].to_server_id')" = 2 ]
	[[ "$(j '.switches[0].reason')" == *"now leads to writable server_id 2"* ]]
	[ "$(j '.phases[-1].server_id')" = 2 ]
	# a side connection that found server 2 read-only changed nothing
	[ "$waited" -ge $((writer - 300)) ]
	[ $((outage - writer)) -lt 1000 ] && [ "$outage" -lt 7000 ]
}
