#!/usr/bin/env bats
# ka-status without a server: argument handling, option files, nodes that refuse or
# never answer (silent listeners on 127.0.0.1:23611-23613), the journal, --json, --prom,
# --watch and signals.

setup_file() {
	export UNIT_TMP=$(mktemp -d /tmp/kam-unit-st.XXXXXX)
	printf '[client]\nuser=ka_check\npassword=x\n' > "$UNIT_TMP/good.cnf"
	chmod 600 "$UNIT_TMP/good.cnf"
	# Ports where nothing listens: refused at once.
	export DOWN=127.0.0.1:23618,127.0.0.1:23619
}

teardown_file() {
	rm -rf "$UNIT_TMP"
}

setup() {
	load ../helpers/common
	LISTENERS=()
}

teardown() {
	local p
	for p in "${LISTENERS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

status() {
	ka-status --defaults-file "$UNIT_TMP/good.cnf" "$@"
}

# Starts silent listeners (accept, never answer: hung servers) on the given ports.
listen_silently() {
	local port out
	for port in "$@"; do
		out="$BATS_TEST_TMPDIR/listener.$port.out"
		/usr/bin/python3 "$KA_REPO/tests/helpers/silent-listener.py" "$port" 20 > "$out" 3>&- &
		LISTENERS+=($!)
		for _ in $(seq 50); do
			grep -q ready "$out" 2>/dev/null && break
			sleep 0.1
		done
		grep -q ready "$out"
	done
}

@test "exits 64 with the usage on an unknown option" {
	run -64 status --nodes 127.0.0.1 --bogus
	assert_output --partial "unknown option '--bogus'"
	assert_output --partial "usage: ka-status"
}

@test "exits 64 without --nodes or without --defaults-file" {
	run -64 status
	assert_output --partial "--nodes is required"
	run -64 ka-status --nodes 127.0.0.1
	assert_output --partial "--defaults-file is required"
}

@test "exits 64 on a node given by name instead of a numeric address" {
	run -64 status --nodes 127.0.0.1,db2.example
	assert_output --partial "invalid address 'db2.example' for --nodes"
}

@test "exits 64 on a node named twice, also with and without the default port" {
	run -64 status --nodes 127.0.0.1:3306,127.0.0.1
	assert_output --partial "node '127.0.0.1' is named twice in --nodes"
}

@test "exits 64 on more than 32 nodes" {
	local list
	list=$(seq -f '127.0.0.1:%g' 20001 20033 | paste -sd,)
	run -64 status --nodes "$list"
	assert_output --partial "too many nodes for --nodes (at most 32)"
}

@test "exits 64 on an operand, a bad timeout, watch interval or max lag" {
	run -64 status --nodes 127.0.0.1 extra
	assert_output --partial "unexpected argument 'extra'"
	run -64 status --nodes 127.0.0.1 --timeout 5
	run -64 status --nodes 127.0.0.1 --watch 0
	run -64 status --nodes 127.0.0.1 --max-lag -1
	run -64 status --nodes 127.0.0.1 --vip db.example
}

@test "accepts options in any order, before and after --nodes" {
	run -13 ka-status --timeout 200 --nodes "$DOWN" --json --defaults-file "$UNIT_TMP/good.cnf"
	[ "$(jq -r .verdict <<< "$output")" = "NO PRIMARY" ]
}

@test "exits 78 when the option file is readable by others" {
	cp "$UNIT_TMP/good.cnf" "$UNIT_TMP/open.cnf"
	chmod 644 "$UNIT_TMP/open.cnf"
	run -78 ka-status --defaults-file "$UNIT_TMP/open.cnf" --nodes 127.0.0.1
	assert_output --partial "open.cnf"
}

@test "lists the verdict exit codes among the shared ones" {
	run -0 ka-status --list-exit-codes
	assert_line --regexp $'^12\tdegraded\t'
	assert_line --regexp $'^13\tno-primary\t'
	assert_line --regexp $'^14\tdiverged\t'
	assert_line --regexp $'^11\tsplit-brain\t'
	[ "$output" = "$(ka-check-mariadb --list-exit-codes)" ]
}

@test "says NO PRIMARY (exit 13) with every node down, and names each" {
	run -13 status --nodes "$DOWN" --timeout 500
	assert_line --regexp '^127\.0\.0\.1:23618 +down '
	assert_line --regexp '^127\.0\.0\.1:23619 +down '
	assert_line --regexp '^NO PRIMARY no writable node among 2 \(0 answered\); 127\.0\.0\.1:23618 is down: cannot connect .*\| code=13 nodes=2 answered=0 writable=0 elapsed_ms=[0-9]+$'
}

@test "bounds three hung nodes by one 500 ms deadline, not three" {
	listen_silently 23611 23612 23613
	timed run -13 status --nodes 127.0.0.1:23611,127.0.0.1:23612,127.0.0.1:23613 --timeout 500
	echo "took $TIMED_MS ms"
	[ "$TIMED_MS" -ge 450 ] && [ "$TIMED_MS" -lt 3000 ]
	[ "$(grep -c 'timed out' <<< "$output")" -eq 1 ]   # on the verdict line
	[ "$(grep -o "cannot connect to '127.0.0.1:2361[123]': timed out" <<< "$output" | wc -l)" -eq 3 ]
}

@test "prints one valid JSON document with --json" {
	run -13 status --nodes "$DOWN" --timeout 300 --json
	[ "${#lines[@]}" -eq 1 ]
	jq -e '.verdict == "NO PRIMARY" and .code == 13 and .code_name == "no-primary"
		and .nodes_total == 2 and .nodes_answered == 0 and (.nodes | length) == 2
		and .nodes[0].role == "down" and .nodes[0].answered == false
		and (.findings | length) == 2' <<< "$output"
}

@test "writes --prom atomically, leaving no temp file, in the text format" {
	mkdir "$BATS_TEST_TMPDIR/prom"
	run -13 status --nodes "$DOWN" --timeout 300 --prom "$BATS_TEST_TMPDIR/prom/ka.prom"
	[ "$(ls -A "$BATS_TEST_TMPDIR/prom")" = "ka.prom" ]
	run -0 grep -c '^ka_status_up{node="127.0.0.1:2361[89]"} 0$' "$BATS_TEST_TMPDIR/prom/ka.prom"
	[ "$output" -eq 2 ]
	grep -qx 'ka_status_verdict{verdict="no_primary"} 1' "$BATS_TEST_TMPDIR/prom/ka.prom"
	grep -qx 'ka_status_exit_code 13' "$BATS_TEST_TMPDIR/prom/ka.prom"
	run -0 promtool check metrics < "$BATS_TEST_TMPDIR/prom/ka.prom"
}

@test "exits 78 when the --prom file cannot be written, after telling the verdict" {
	run -78 status --nodes "$DOWN" --timeout 300 --prom /nonexistent/dir/ka.prom
	assert_output --partial "NO PRIMARY"
	assert_output --partial "cannot create a temp file beside '/nonexistent/dir/ka.prom'"
}

@test "shows the last five journal lines of --state-dir, one line each" {
	local d="$BATS_TEST_TMPDIR/state" i
	mkdir "$d"
	for i in 1 2 3 4 5 6 7; do
		printf '{"time":"2026-11-28T10:0%d:00.000Z","event":"master","decision":"step-%d","code":%d,"code_name":"x","reason":"r \\"%d\\"","steps":[{"step":"s","detail":"{]"}]}\n' \
			"$i" "$i" "$i" "$i" >> "$d/journal.jsonl"
	done
	echo 'not json' >> "$d/journal.jsonl"
	run -13 status --nodes "$DOWN" --timeout 300 --state-dir "$d"
	assert_line "journal $d/journal.jsonl (last 5):"
	refute_output --partial "step-3"
	assert_line '  2026-11-28T10:04:00.000Z master step-4 4 x: r "4"'
	assert_line '  2026-11-28T10:07:00.000Z master step-7 7 x: r "7"'
	assert_line '  (unreadable line: not json)'
}

@test "says so, and goes on, when the journal cannot be read" {
	run -13 status --nodes "$DOWN" --timeout 300 --state-dir "$BATS_TEST_TMPDIR/none"
	assert_line "journal $BATS_TEST_TMPDIR/none/journal.jsonl: cannot read: No such file or directory"
}

@test "redraws every --watch seconds until SIGINT and exits with the last verdict" {
	run --separate-stderr timeout --preserve-status -s INT 3 \
		ka-status --defaults-file "$UNIT_TMP/good.cnf" --nodes "$DOWN" --timeout 200 --watch 1
	[ "$status" -eq 13 ]
	local n
	n=$(grep -c '^NO PRIMARY ' <<< "$output")
	[ "$n" -ge 2 ] && [ "$n" -le 4 ]
	[ "$(grep -c '^ka-status every 1 s, ' <<< "$output")" -eq "$n" ]
}

@test "ends --watch on SIGTERM too, with one JSON document per run" {
	run --separate-stderr timeout --preserve-status -s TERM 2 \
		ka-status --defaults-file "$UNIT_TMP/good.cnf" --nodes "$DOWN" --timeout 200 --watch 1 --json
	[ "$status" -eq 13 ]
	[ "${#lines[@]}" -ge 1 ]
	local l
	for l in "${lines[@]}"; do jq -e '.code == 13' <<< "$l"; done
}

@test "exits 3 when interrupted before the first run ended, never 0" {
	listen_silently 23611
	run timeout --preserve-status -s INT 0.5 \
		ka-status --defaults-file "$UNIT_TMP/good.cnf" --nodes 127.0.0.1:23611 --timeout 5000
	[ "$status" -eq 3 ]
	assert_output --partial "interrupted before every node answered"
}
