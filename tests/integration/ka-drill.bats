#!/usr/bin/env bats
# ka-drill and client/failover.[ch] against a real primary/replica pair: server 1 on
# 127.0.0.1:23400, server 2 (read-only replica) on 127.0.0.1:23401. The tests run in
# order and the later ones break the pair (kill, hang, promote by hand with SQL), so the
# pair is rebuilt where a test needs it whole.

S1=127.0.0.1:23400
S2=127.0.0.1:23401

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	trap mdb_stop_all EXIT
	mdb_start s1 23400 1
	mdb_start s2 23401 2
	mdb_replicate s2 s1
	mdb_sql s2 "SET GLOBAL read_only=1"
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
	mdb_replicate "$1" "$4"
	mdb_sql "$1" "SET GLOBAL read_only=1"
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
	[ "$(mdb_sql s1 'SELECT COUNT(*) FROM ka_drill.drill')" -ge "$(j .acknowledged)" ]
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
