#!/usr/bin/env bats
# ka-watch-mariadb against real mariadbd instances on 127.0.0.1:23701-23703:
#   k  gets SIGKILLed and started again (23701)
#   s  gets SIGSTOPped and continued (23702)
#   f  healthy; its read_only flips (23703)
# Run under `flock /tmp/ka-it-watch.lock`: the ports are fixed. Time bounds are wide (a
# loaded 2-core machine); bench/watch-cost and the lab measure the real figures.

setup_file() {
	load ../helpers/common
	load ../helpers/mariadb
	mdb_start k 23701 1
	mdb_start s 23702 2
	mdb_start f 23703 3
	mdb_cnf - "$(mdb_root)/check.cnf" ka_check "$KA_DB_PASS_CHECK"
	export KA_TEST_ROOT CNF="$(mdb_root)/check.cnf"
}

teardown_file() {
	load ../helpers/mariadb
	mdb_stop_all
}

setup() {
	load ../helpers/common
	load ../helpers/mariadb
	load ../helpers/watch
	TF="$BATS_TEST_TMPDIR/track"
}

teardown() {
	stop_watcher
	local pid
	pid=$(mdb_pid s)
	[ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
	mdb_sql f "SET GLOBAL read_only=0" || true
	mdb_sql s "SET GLOBAL read_only=0" || true
	[ -n "$(mdb_pid k)" ] || mdb_launch k
}

# Starts the watcher on server $1; the rest are its options.
watch_server() {
	local name=$1
	shift
	start_watcher --defaults-file "$CNF" --socket "$(mdb_socket "$name")" "$@"
}

# "inode mtime" of the track file.
identity() {
	stat -c '%i %.9Y' "$TF"
}

@test "says 0 after --rise passing probes and never rewrites an unchanged value" {
	watch_server f --rise 3
	wait_value 0 10
	grep -q '^track=0 OK healthy | code=0 role=writable read_only=OFF .* passes=3 ' \
		"$BATS_TEST_TMPDIR/watch.out"
	local before
	before=$(identity)
	sleep 1.5
	[ "$(identity)" = "$before" ]
	[ "$(wc -l < "$BATS_TEST_TMPDIR/watch.out")" -eq 2 ]
}

@test "goes from 0 to 2 within 2 s when mysqld is SIGKILLed, and back to 0 after --rise once it is back" {
	watch_server k --rise 5
	wait_value 0 10
	mdb_kill k
	wait_value 2 2
	echo "SIGKILL noticed after $WAITED_MS ms" >&3
	mdb_launch k
	wait_value 0 30
	grep -q '^track=0 OK healthy .* passes=5 ' "$BATS_TEST_TMPDIR/watch.out"
}

@test "notices a lost connection at once, long before the next interval" {
	watch_server k --interval-ms 10000 --rise 1
	wait_value 0 10
	sleep 0.5
	mdb_kill k
	wait_value 2 4
	echo "SIGKILL noticed after $WAITED_MS ms with a 10 s interval" >&3
}

@test "goes from 0 to 3 within 3 s when mysqld is SIGSTOPped, and back to 0 after SIGCONT" {
	watch_server s --timeout 300 --verbose
	wait_value 0 10
	kill -STOP "$(mdb_pid s)"
	wait_value 3 3
	echo "SIGSTOP noticed after $WAITED_MS ms" >&3
	sleep 1
	# the loop goes on, one probe per timeout at worst: never stalled by the hung server
	[ "$(grep -c 'probe: exit 3' "$BATS_TEST_TMPDIR/watch.err")" -ge 3 ]
	kill -CONT "$(mdb_pid s)"
	wait_value 0 10
}

@test "goes to 1 when read_only flips against --expect-read-only, and back to 0 when it flips back" {
	watch_server f --expect-read-only off
	wait_value 0 10
	mdb_sql f "SET GLOBAL read_only=1"
	wait_value 1 2
	grep -q '^track=1 FAIL read_only is ON, expected OFF ' "$BATS_TEST_TMPDIR/watch.out"
	mdb_sql f "SET GLOBAL read_only=0"
	wait_value 0 5
}

@test "leaves 0 only after --fall failing probes in a row" {
	watch_server f --expect-read-only off --fall 3 --rise 2
	wait_value 0 10
	mdb_sql f "SET GLOBAL read_only=1"
	wait_value 1 3
	grep -q '^track=1 FAIL read_only is ON, expected OFF .* fails=3 passes=0 ' \
		"$BATS_TEST_TMPDIR/watch.out"
	mdb_sql f "SET GLOBAL read_only=0"
	wait_value 0 3
	grep -q '^track=0 OK healthy .* fails=0 passes=2 ' "$BATS_TEST_TMPDIR/watch.out"
}

@test "replaces the file atomically: a new inode at every change and never a partial file" {
	watch_server f --expect-read-only off --interval-ms 20 --rise 1
	wait_value 0 10
	local ino0 ino1 i bad=0 reader
	ino0=$(stat -c %i "$TF")
	# a reader (bash builtins only: thousands of reads a second) that never sees anything
	# but one whole value, until the flips are done
	(
		for ((i = 0; i < 2000000; i++)); do
			[ -e "$BATS_TEST_TMPDIR/flips-done" ] && exit 0
			v=
			read -r v < "$TF"
			[[ "$v" =~ ^[0-9]+$ ]] || { echo "partial read: '$v'" >&2; exit 1; }
		done
	) 3>&- &
	reader=$!
	for ((i = 0; i < 5; i++)); do
		mdb_sql f "SET GLOBAL read_only=1"
		wait_value 1 2
		ino1=$(stat -c %i "$TF")
		[ "$ino1" != "$ino0" ]
		mdb_sql f "SET GLOBAL read_only=0"
		wait_value 0 2
		ino0=$(stat -c %i "$TF")
		[ "$ino0" != "$ino1" ]
	done
	touch "$BATS_TEST_TMPDIR/flips-done"
	wait "$reader" || bad=1
	[ "$bad" -eq 0 ]
	# no temporary file left behind
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c '^\.track\.')" -eq 0 ]
}

@test "keeps 0 when the server kills its connection" {
	watch_server f --verbose
	wait_value 0 10
	local before
	before=$(identity)
	mdb_sql f "KILL CONNECTION USER ka_check"
	sleep 1
	[ "$(identity)" = "$before" ]
	[ "$(cat "$TF")" = 0 ]
	! grep -q 'FAIL' "$BATS_TEST_TMPDIR/watch.out"
}

@test "guards against every peer of a --peer list: 11 when a writable peer is ahead, 0 once it is read-only" {
	mdb_sql s "SET GLOBAL read_only=1"
	watch_server f --peer 127.0.0.1:23739,127.0.0.1:23702 --rise 1
	wait_value 0 10
	grep -q '^track=0 OK healthy | .* peer=read-only peers=127.0.0.1:23739/unreachable,127.0.0.1:23702/read-only ' \
		"$BATS_TEST_TMPDIR/watch.out"
	mdb_sql s "SET GLOBAL read_only=0; CREATE DATABASE IF NOT EXISTS peer_ahead"
	wait_value 11 5
	grep -q "^track=11 FAIL peer '127.0.0.1:23702' is writable too and ahead of this node: .* peer=writable peers=127.0.0.1:23739/unreachable,127.0.0.1:23702/writable " \
		"$BATS_TEST_TMPDIR/watch.out"
	mdb_sql s "SET GLOBAL read_only=1"
	wait_value 0 5
}

@test "writes 1 and exits 1 on SIGTERM while the server is healthy" {
	watch_server f
	wait_value 0 10
	stop_watcher
	[ "$WATCH_RC" -eq 1 ]
	[ "$(cat "$TF")" = 1 ]
}

@test "exits 78 and writes nothing when the track file's directory is missing" {
	run -78 ka-watch-mariadb --defaults-file "$CNF" --socket "$(mdb_socket f)" \
		--track-file "$BATS_TEST_TMPDIR/missing/track"
	assert_output --partial "cannot write track file '$BATS_TEST_TMPDIR/missing/track': directory '$BATS_TEST_TMPDIR/missing': No such file or directory"
	[ ! -e "$BATS_TEST_TMPDIR/missing" ]
}
