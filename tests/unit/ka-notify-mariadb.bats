#!/usr/bin/env bats
# ka-notify-mariadb without a server: argument handling, option files, the three ways
# keepalived calls it, dry runs, the lock, tickets ("latest wins"), the journal and the
# fault file. The local "server" is a socket path where nothing listens.

setup_file() {
	export UNIT_TMP=$(mktemp -d /tmp/kam-unit.XXXXXX)
	printf '[client]\nuser=ka_ha\npassword=x\n[ka-replication]\nuser=repl\npassword=y\n' \
		> "$UNIT_TMP/good.cnf"
	chmod 600 "$UNIT_TMP/good.cnf"
	cp "$UNIT_TMP/good.cnf" "$UNIT_TMP/open.cnf"
	chmod 644 "$UNIT_TMP/open.cnf"
}

teardown_file() {
	rm -rf "$UNIT_TMP"
}

setup() {
	load ../helpers/common
	S=$UNIT_TMP/s$BATS_TEST_NUMBER
	BG_PID=
}

teardown() {
	if [ -n "$BG_PID" ]; then
		kill "$BG_PID" 2>/dev/null
		wait "$BG_PID" 2>/dev/null
	fi
	return 0
}

kn() {
	ka-notify-mariadb --defaults-file "$UNIT_TMP/good.cnf" --socket "$UNIT_TMP/no.sock" \
		--state-dir "$S" "$@"
}

journal() { cat "$S/journal.jsonl"; }

# Holds the run lock for $1 seconds in the background (as another run would).
hold_lock() {
	mkdir -p "$S"
	flock "$S/ka-notify-mariadb.lock" sleep "$1" 3>&- &
	BG_PID=$!
	for _ in $(seq 50); do
		flock -n "$S/ka-notify-mariadb.lock" true || return 0
		sleep 0.02
	done
	return 1
}

@test "exits 64 with the usage when no event is given" {
	run -64 ka-notify-mariadb
	assert_output --partial "missing event: master, backup, fault, stop"
	assert_output --partial "usage: ka-notify-mariadb"
}

@test "exits 64 on an unknown option and on an option without its value" {
	run -64 ka-notify-mariadb --bogus master
	assert_output --partial "unknown option '--bogus'"
	run -64 ka-notify-mariadb --timeout
	assert_output --partial "option '--timeout' needs a value"
}

@test "exits 64 on an unknown event word and on extra words" {
	run -64 ka-notify-mariadb promote
	assert_output --partial "unknown event 'promote': expected master, backup, fault, stop"
	run -64 ka-notify-mariadb master backup
	assert_output --partial "got 2 words"
	run -64 ka-notify-mariadb master --dry-run backup
	assert_output --partial "got 2 words"
}

@test "options may follow the event word, as GNU tools allow, for every event word" {
	run -2 ka-notify-mariadb master --dry-run --socket "$UNIT_TMP/no.sock" \
		--defaults-file "$UNIT_TMP/good.cnf"
	assert_output --partial "DRY-RUN local-unreachable: cannot promote"
	for ev in backup fault stop; do
		run -2 ka-notify-mariadb "$ev" --defaults-file "$UNIT_TMP/good.cnf" \
			--socket "$UNIT_TMP/no.sock" --dry-run
		assert_output --partial "DRY-RUN local-unreachable: cannot demote"
	done
	mkdir -p "$S"
	echo 1 > "$S/fault"
	run -0 kn clear-fault --fault-file "$S/fault"
	[ "$(cat "$S/fault")" = 0 ]
	run -0 kn rejoin --peer 192.0.2.2 --mode master-master --help
	assert_output --partial "usage: ka-notify-mariadb"
	run -64 kn rejoin --bogus
	assert_output --partial "unknown option '--bogus'"
}

@test "keepalived's notify words are never options, and -- ends the options" {
	# INSTANCE|GROUP: the words after it are keepalived's (a name may start with '-')
	run -2 kn --dry-run INSTANCE -x MASTER 100
	assert_output --partial "DRY-RUN local-unreachable: cannot promote"
	assert_output --partial "event=master"
	run -64 kn INSTANCE VI_1 MASTER 100 --dry-run
	assert_output --partial "got 5 words"
	run -64 kn -- master --dry-run
	assert_output --partial "got 2 words"
	run -2 kn --dry-run -- backup
	assert_output --partial "DRY-RUN local-unreachable"
}

@test "switchover: usage errors exit 64" {
	run -64 kn switchover
	assert_output --partial "switchover needs --peer and --fault-file"
	run -64 kn switchover --peer 192.0.2.2
	assert_output --partial "switchover needs --peer and --fault-file"
	run -64 kn switchover --fault-file "$S/fault"
	run -64 kn switchover --peer 192.0.2.2 --fault-file "$S/fault" --max-lag -1
	assert_output --partial "invalid value '-1' for --max-lag"
	run -64 kn switchover --peer 192.0.2.2 --fault-file "$S/fault" --handover-timeout 0
	assert_output --partial "invalid value '0' for --handover-timeout"
	run -64 kn switchover now --peer 192.0.2.2 --fault-file "$S/fault"
	assert_output --partial "got 2 words"
	run -64 kn switchover --peer db2.example --fault-file "$S/fault"
	assert_output --partial "use a numeric IP address"
	[ ! -e "$S" ]
}

@test "switchover with the local mysqld down exits 2 and changes nothing" {
	run -2 kn switchover --peer 192.0.2.2 --fault-file "$S/fault"
	assert_output --partial "FAIL local-unreachable: cannot switch over"
	[ ! -e "$S/fault" ]
	journal | jq -e '.event == "switchover" and .ticket == null and .code == 2'
	run -2 --separate-stderr kn switchover --peer 192.0.2.2 --fault-file "$S/fault" --dry-run \
		--json
	jq -e '.event == "switchover" and .dry_run == true' <<<"$output"
}

@test "exits 64 on bad option values" {
	run -64 ka-notify-mariadb --mode active-passive master
	assert_output --partial "invalid value 'active-passive' for --mode"
	run -64 ka-notify-mariadb --timeout 5 master
	assert_output --partial "invalid value '5' for --timeout"
	run -64 ka-notify-mariadb --catchup-timeout -1 master
	run -64 ka-notify-mariadb --catchup-timeout 1.5 master
	run -64 ka-notify-mariadb --rejoin-retry -1 backup
	assert_output --partial "invalid value '-1' for --rejoin-retry"
	run -64 ka-notify-mariadb --peer db2.example:3306 master
	assert_output --partial "use a numeric IP address"
	run -64 ka-notify-mariadb --host db1.example master
	run -64 ka-notify-mariadb --port 0 master
}

@test "exits 64 when options exclude each other" {
	run -64 ka-notify-mariadb --socket /tmp/x.sock --host 127.0.0.1 master
	assert_output --partial "--socket and --host exclude each other"
	run -64 ka-notify-mariadb --instance VI_1 --group G1 master
	assert_output --partial "--instance and --group exclude each other"
	run -64 ka-notify-mariadb --fifo "$UNIT_TMP/fifo" master
	assert_output --partial "--fifo takes no event words"
}

@test "several nodes: --peer, --replica and --self refuse bad values with exit 64" {
	run -64 ka-notify-mariadb --peer 192.0.2.2,192.0.2.2 master
	assert_output --partial "duplicate address '192.0.2.2:3306'"
	run -64 ka-notify-mariadb --peer 192.0.2.2,,192.0.2.3 master
	assert_output --partial "empty address"
	run -64 ka-notify-mariadb --peer 192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5,192.0.2.6,192.0.2.7,192.0.2.8,192.0.2.9 master
	assert_output --partial "too many addresses"
	run -64 ka-notify-mariadb --replica db3.example master
	assert_output --partial "use a numeric IP address"
	run -64 ka-notify-mariadb --replica 192.0.2.3, master
	assert_output --partial "empty address"
	run -64 ka-notify-mariadb --self db1.example:3306 master
	assert_output --partial "use a numeric IP address"
	run -64 ka-notify-mariadb --peer 192.0.2.2:3306 --replica 192.0.2.2 master
	assert_output --partial "address '192.0.2.2:3306' given to both --peer and --replica"
	run -64 ka-notify-mariadb --peer 192.0.2.2 --self 192.0.2.2:3306 master
	assert_output --partial "given to both --peer and --self"
	run -64 ka-notify-mariadb --peer 192.0.2.2,192.0.2.3 --mode master-master master
	assert_output --partial "--mode master-master takes one --peer (got 2)"
	run -64 ka-notify-mariadb master --replica
	assert_output --partial "option '--replica' needs a value"
}

@test "several nodes: the options are accepted in any place, and switchover takes one peer" {
	run -0 kn --peer 192.0.2.2:3307,[2001:db8::3]:3306 --replica 192.0.2.4 --self 192.0.2.1 \
		--dry-run --help
	mkdir -p "$S"
	run -9 kn switchover --peer 192.0.2.2,192.0.2.3 --fault-file "$S/fault"
	assert_output --partial "FAIL switchover-refused: switchover takes one --peer (got 2)"
}

@test "exits 64 for operator actions that lack what they need" {
	run -64 ka-notify-mariadb clear-fault
	assert_output --partial "clear-fault needs --fault-file"
	run -64 ka-notify-mariadb rejoin
	assert_output --partial "rejoin needs --peer and --mode primary-replica"
	run -64 ka-notify-mariadb --peer 192.0.2.2 --mode master-master rejoin
}

@test "exits 64 on a malformed generic notify" {
	run -64 ka-notify-mariadb VS VI_1 MASTER 100
	assert_output --partial "invalid notification kind 'VS'"
	run -64 ka-notify-mariadb INSTANCE VI_1 MASTER high
	assert_output --partial "invalid value 'high' for PRIORITY"
	run -64 ka-notify-mariadb INSTANCE VI_1 MASTER
	assert_output --partial "got 3 words"
}

@test "exits 78 when the option file is missing or readable by others" {
	run -78 ka-notify-mariadb --defaults-file "$UNIT_TMP/missing.cnf" --state-dir "$S" master
	assert_output --partial "cannot read option file '$UNIT_TMP/missing.cnf'"
	run -78 ka-notify-mariadb --defaults-file "$UNIT_TMP/open.cnf" --state-dir "$S" backup
	assert_output --partial "is accessible by others (mode 0644): chmod 600 it"
	[ ! -e "$S/journal.jsonl" ]        # the tickets come first (taken at start), no journal
	[ "$(cat "$S/ka-notify-mariadb.ticket")" = 2 ]
}

@test "prints the shared exit-code table, the usage and the version" {
	run -0 ka-notify-mariadb --list-exit-codes
	assert_line --index 0 "$(printf '0\tok\thealthy; or the action was done, or was already in effect')"
	assert_line "$(printf '9\trefused\trefused by a safety gate')"
	run -0 ka-notify-mariadb --help
	assert_output --partial "master | backup | fault | stop | INSTANCE|GROUP NAME STATE PRIORITY | --fifo PATH"
	run -0 ka-notify-mariadb --version
	assert_output --regexp '^ka-notify-mariadb [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "decodes notify_backup's word (any case) and journals it; mysqld down is exit 2" {
	run -2 kn backup
	assert_output --regexp "^FAIL local-unreachable: cannot demote: cannot connect to '$UNIT_TMP/no.sock'"
	run -2 kn BACKUP
	[ "$(journal | wc -l)" = 2 ]
	journal | jq -s -e '.[0].event == "backup" and .[0].source == "argv backup"
		and .[0].ticket == 1 and .[1].ticket == 2 and .[1].source == "argv BACKUP"
		and .[0].code == 2 and .[0].code_name == "unreachable"'
}

@test "decodes keepalived's generic notify words" {
	run -2 kn INSTANCE VI_1 FAULT 100
	journal | jq -e '.event == "fault" and .source == "notify INSTANCE VI_1 FAULT 100"'
	run -2 kn --group G1 GROUP G1 STOP 0
	journal | tail -1 | jq -e '.event == "stop"'
}

@test "--json prints the journal line as the result" {
	run -2 --separate-stderr kn --json fault
	[ "$(jq -cS 'del(.time, .elapsed_ms)' <<< "$output")" = "$(journal | jq -cS 'del(.time, .elapsed_ms)')" ]
	jq -e <<< "$output" '.event == "fault" and .code == 2 and .decision == "local-unreachable"
		and (.steps | length) == 1 and .steps[0].step == "connect local"'
}

@test "ignores other instances, groups and states: exit 0, journaled, no ticket" {
	run -0 kn --instance VI_1 INSTANCE VI_2 MASTER 100
	assert_output --partial "OK ignored: instance 'VI_2' is not --instance 'VI_1'"
	run -0 kn GROUP G1 MASTER 100
	assert_output --partial "GROUP notifications are acted on only with --group"
	run -0 kn --group G1 INSTANCE VI_1 MASTER 100
	assert_output --partial "INSTANCE notifications are not acted on with --group"
	run -0 kn INSTANCE VI_1 DELETED 100
	assert_output --partial "state 'DELETED' is not acted on"
	[ "$(journal | jq -s 'map(select(.event == "ignored" and .ticket == null)) | length')" = 4 ]
	[ ! -e "$S/ka-notify-mariadb.ticket" ]
}

@test "MASTER with the local mysqld down forces FAULT through the fault file and exits 2" {
	run -2 kn --fault-file "$S/fault" master
	assert_output --partial "FAIL local-unreachable: cannot promote"
	[ "$(cat "$S/fault")" = 1 ]
	[ "$(stat -c %a "$S/fault")" = 644 ]
	[ -z "$(ls -A "$S" | grep '^\.fault\.')" ]          # no temp file left behind
	journal | jq -e '.fault_file == "set" and .decision == "local-unreachable"'
}

@test "clear-fault writes 0 and journals the operator's action" {
	mkdir -p "$S"
	echo 1 > "$S/fault"
	run -0 kn --fault-file "$S/fault" clear-fault
	assert_output --partial "OK fault-cleared"
	[ "$(cat "$S/fault")" = 0 ]
	journal | jq -e '.event == "clear-fault" and .ticket == null and .fault_file == "cleared"'
}

@test "--dry-run writes no journal, no state dir and no fault file" {
	run -2 kn --dry-run --fault-file "$S/fault" master
	assert_output --partial "DRY-RUN local-unreachable"
	assert_output --partial "plan: write 1 to fault file '$S/fault'"
	[ ! -e "$S" ]
}

@test "creates a missing state dir with mode 0700" {
	run -2 kn stop
	[ "$(stat -c %a "$S")" = 700 ]
	[ -f "$S/journal.jsonl" ]
	[ "$(stat -c %a "$S/journal.jsonl")" = 600 ]
}

@test "appends exactly one valid JSON line per run when 20 runs race" {
	local i
	for i in $(seq 20); do
		kn fault >/dev/null 2>&1 3>&- &
	done
	wait
	[ "$(journal | wc -l)" = 20 ]
	journal | jq -s -e 'length == 20 and (map(.ticket) | unique | length == 20)'
}

@test "an event superseded while it waited for the lock does nothing" {
	hold_lock 1
	kn master >"$S/master.out" 2>&1 3>&- &
	local m=$!
	sleep 0.2
	kn backup >"$S/backup.out" 2>&1 3>&- &
	local b=$!
	wait $m || true
	wait $b || true
	grep -q "OK superseded: a newer event took a ticket while this one waited" "$S/master.out"
	journal | jq -s -e 'map(select(.event == "master"))[0] | .decision == "superseded"
		and .ticket == 1 and .lock_wait_ms > 0 and (.steps | length == 0)'
	journal | jq -s -e 'map(select(.event == "backup"))[0] | .decision == "local-unreachable"
		and .ticket == 2'
}

@test "gives up waiting for the lock after its bound and exits 3" {
	hold_lock 5
	timed run -3 kn --catchup-timeout 0 --timeout 20 backup
	[ "$TIMED_MS" -lt 2000 ]
	assert_output --partial "FAIL lock-failed: cannot take lock"
	journal | jq -e '.decision == "lock-failed" and .code == 3'
}

@test "STOP does not wait for a held lock: it demotes without it within one second" {
	hold_lock 5
	timed run -2 kn stop
	[ "$TIMED_MS" -lt 2000 ]
	journal | jq -e '.event == "stop" and .steps[0].step == "lock"
		and .steps[0].result == "skipped" and .lock_wait_ms >= 250'
}

@test "--fifo handles each line in order, journals the rest as ignored, exits 3 on TERM" {
	mkdir -p "$S"
	mkfifo "$S/fifo"
	ka-notify-mariadb --defaults-file "$UNIT_TMP/good.cnf" --socket "$UNIT_TMP/no.sock" \
		--state-dir "$S" --fifo "$S/fifo" >"$S/out" 2>&1 3>&- &
	BG_PID=$!
	printf '%s\n' 'INSTANCE "VI_1" BACKUP 100' 'GROUP "G1" MASTER 100' 'not a line' \
		'VS [192.0.2.1]:tcp:80 UP' 'INSTANCE "VI 1" FAULT 90' > "$S/fifo"
	for _ in $(seq 100); do
		[ "$(journal 2>/dev/null | wc -l)" = 5 ] && break
		sleep 0.05
	done
	run jq -r '[.event, .source] | @tsv' "$S/journal.jsonl"
	assert_line --index 0 "$(printf 'backup\tfifo INSTANCE "VI_1" BACKUP 100')"
	assert_line --index 1 "$(printf 'ignored\tfifo GROUP "G1" MASTER 100')"
	assert_line --index 2 "$(printf "ignored\tfifo not a line")"
	assert_line --index 3 --partial "ignored"
	assert_line --index 4 "$(printf 'fault\tfifo INSTANCE "VI 1" FAULT 90')"
	kill -TERM "$BG_PID"
	local rc=0
	wait "$BG_PID" || rc=$?
	BG_PID=
	[ "$rc" -eq 3 ]
}

@test "--fifo: only a waiting event for this instance in another state cancels the current one" {
	mkdir -p "$S"
	mkfifo "$S/fifo"
	ka-notify-mariadb --defaults-file "$UNIT_TMP/good.cnf" --socket "$UNIT_TMP/no.sock" \
		--state-dir "$S" --instance VI_DB --fifo "$S/fifo" >"$S/out" 2>&1 3>&- &
	BG_PID=$!
	# one write, as keepalived's: the MASTER gives way to the BACKUP; the first BACKUP
	# does not give way to another instance, MASTER_RX_LOWER_PRI or the same state again
	printf '%s\n' 'INSTANCE "VI_DB" MASTER 100' 'INSTANCE "VI_DB" BACKUP 100' \
		'INSTANCE "VI_READER" FAULT 100' 'INSTANCE "VI_DB" MASTER_RX_LOWER_PRI 100' \
		'INSTANCE "VI_DB" BACKUP 100' > "$S/lines"
	dd if="$S/lines" of="$S/fifo" bs=4096 status=none
	for _ in $(seq 100); do
		[ "$(journal 2>/dev/null | wc -l)" = 5 ] && break
		sleep 0.05
	done
	run jq -r '[.event, .decision] | @tsv' "$S/journal.jsonl"
	[ "$(echo $output)" = "master superseded backup local-unreachable ignored ignored ignored ignored backup local-unreachable" ]
	kill -TERM "$BG_PID"
	wait "$BG_PID" || true
	BG_PID=
}

@test "--fifo exits 78 when the path is not a FIFO" {
	mkdir -p "$S"
	touch "$S/plain"
	run -78 kn --fifo "$S/plain"
	assert_output --partial "'$S/plain' is not a FIFO"
	run -78 kn --fifo "$S/missing"
}
