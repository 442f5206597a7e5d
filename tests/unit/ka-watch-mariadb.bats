#!/usr/bin/env bats
# ka-watch-mariadb without a server: argument handling, the track file's directory,
# failing closed when nothing answers, signals. A silent listener on 127.0.0.1:23719
# stands for a hung server.

setup() {
	load ../helpers/common
	load ../helpers/watch
	TF="$BATS_TEST_TMPDIR/track"
	NOSOCK="$BATS_TEST_TMPDIR/none.sock"
}

teardown() {
	stop_watcher
	stop_silent_listener
}

@test "exits 64 with the usage on an unknown option" {
	run -64 ka-watch-mariadb --track-file "$TF" --bogus
	assert_output --partial "unknown option '--bogus'"
	assert_output --partial "usage: ka-watch-mariadb"
}

@test "exits 64 without --track-file" {
	run -64 ka-watch-mariadb --socket "$NOSOCK"
	assert_output --partial "--track-file is required"
}

@test "exits 64 on an interval, fall, rise or timeout out of range" {
	run -64 ka-watch-mariadb --track-file "$TF" --interval-ms 5
	assert_output --partial "invalid value '5' for --interval-ms"
	run -64 ka-watch-mariadb --track-file "$TF" --fall 0
	assert_output --partial "invalid value '0' for --fall"
	run -64 ka-watch-mariadb --track-file "$TF" --rise 1x
	assert_output --partial "invalid value '1x' for --rise"
	run -64 ka-watch-mariadb --track-file "$TF" --timeout 0.5
	assert_output --partial "invalid value '0.5' for --timeout"
	[ ! -e "$TF" ]
}

@test "refuses the probe's bad options with the checker's words" {
	run -64 ka-watch-mariadb --track-file "$TF" --socket /x --host 127.0.0.1
	assert_output --partial "--socket and --host exclude each other"
	run -64 ka-watch-mariadb --track-file "$TF" --witness 127.0.0.1:22
	assert_output --partial "a witness must be another host"
	run -64 ka-watch-mariadb --track-file "$TF" --witness-connect-only
	assert_output --partial "--witness-connect-only needs --witness"
	run -64 ka-watch-mariadb --track-file "$TF" extra
	assert_output --partial "unexpected argument 'extra'"
}

@test "takes a peer list with the checker's words and refuses a bad one" {
	run -64 ka-watch-mariadb --track-file "$TF" --peer 192.0.2.12,
	assert_output --partial "empty address in '192.0.2.12,' for --peer"
	assert_output --partial "usage: ka-watch-mariadb"
	run -64 ka-watch-mariadb --track-file "$TF" --peer 192.0.2.12,192.0.2.12:3306
	assert_output --partial "duplicate address '192.0.2.12:3306'"
	run -64 ka-watch-mariadb --track-file "$TF" --peer 192.0.2.12,192.0.2.13 --witness 192.0.2.12:22
	assert_output --partial "witness '192.0.2.12:22' is a peer"
	start_watcher --socket "$NOSOCK" --peer 192.0.2.12,192.0.2.13:3307
	wait_value 2 5
	stop_watcher
	run -0 grep -m1 '^track=2 ' "$BATS_TEST_TMPDIR/watch.out"
	assert_output --partial " peer=not-asked peers=192.0.2.12:3306/not-asked,192.0.2.13:3307/not-asked "
}

@test "exits 78 with a clear error when the track file's directory does not exist" {
	run -78 ka-watch-mariadb --track-file "$BATS_TEST_TMPDIR/no/such/dir/track" --socket "$NOSOCK"
	assert_output --partial "cannot write track file '$BATS_TEST_TMPDIR/no/such/dir/track': directory '$BATS_TEST_TMPDIR/no/such/dir': No such file or directory"
}

@test "exits 78 when the track file's directory is a file" {
	: > "$BATS_TEST_TMPDIR/plain"
	run -78 ka-watch-mariadb --track-file "$BATS_TEST_TMPDIR/plain/track" --socket "$NOSOCK"
	assert_output --partial "'$BATS_TEST_TMPDIR/plain' is not a directory"
}

@test "exits 78 when the option file is readable by others" {
	printf '[client]\nuser=ka_check\npassword=x\n' > "$BATS_TEST_TMPDIR/open.cnf"
	chmod 644 "$BATS_TEST_TMPDIR/open.cnf"
	run -78 ka-watch-mariadb --track-file "$TF" --defaults-file "$BATS_TEST_TMPDIR/open.cnf"
	[ ! -e "$TF" ]
}

@test "prints the shared exit-code table, its usage and its version" {
	run -0 ka-watch-mariadb --list-exit-codes
	[ "$output" = "$(ka-check-mariadb --list-exit-codes)" ]
	run -0 ka-watch-mariadb --help
	assert_output --partial "usage: ka-watch-mariadb --track-file PATH"
	run -0 ka-watch-mariadb --version
	assert_output --regexp '^ka-watch-mariadb [0-9]'
}

@test "writes 1 at start, then 2 while no server listens" {
	start_watcher --socket "$NOSOCK" --interval-ms 50
	wait_value 2 5
	run -0 head -1 "$BATS_TEST_TMPDIR/watch.out"
	assert_output --partial "track=1 START watching '$NOSOCK' every 50 ms"
	run -0 sed -n 2p "$BATS_TEST_TMPDIR/watch.out"
	assert_output --partial "track=2 FAIL cannot connect to '$NOSOCK'"
}

@test "writes 1 and exits 1, never 0, on SIGTERM and on SIGINT" {
	local sig
	for sig in TERM INT; do
		start_watcher --socket "$NOSOCK"
		wait_value 2 5
		kill -"$sig" "$WATCH_PID"
		stop_watcher
		[ "$WATCH_RC" -eq 1 ]
		[ "$(cat "$TF")" = 1 ]
		grep -q '^track=1 STOP stopped by a signal' "$BATS_TEST_TMPDIR/watch.out"
	done
}

@test "writes 3 against a silent server and keeps probing every timeout" {
	start_silent_listener 23719
	start_watcher --host 127.0.0.1 --port 23719 --timeout 200 --interval-ms 50 --verbose
	wait_value 3 5
	sleep 1
	# about 5 probes a second: the loop never stalls past one timeout
	[ "$(grep -c 'probe: exit 3' "$BATS_TEST_TMPDIR/watch.err")" -ge 3 ]
}

@test "writes its value again when someone else changes the file" {
	start_watcher --socket "$NOSOCK" --interval-ms 50
	wait_value 2 5
	echo 0 > "$TF"
	wait_value 2 5
	grep -q "track file '$TF' was changed by someone else: 2 written again" \
		"$BATS_TEST_TMPDIR/watch.err"
	rm -f "$TF"
	wait_value 2 5
}

@test "prints JSON lines with --json" {
	start_watcher --socket "$NOSOCK" --json
	wait_value 2 5
	stop_watcher
	run -0 sed -n 1p "$BATS_TEST_TMPDIR/watch.out"
	assert_output --regexp '^\{"event":"start","track":1,"reason":"watching .*","time":"[0-9T:.-]+Z"\}$'
	run -0 sed -n 2p "$BATS_TEST_TMPDIR/watch.out"
	assert_output --regexp '^\{"event":"change","track":2,"status":"FAIL","code":2,"code_name":"unreachable",'
	run -0 sed -n 3p "$BATS_TEST_TMPDIR/watch.out"
	assert_output --regexp '^\{"event":"stop","track":1,'
}
