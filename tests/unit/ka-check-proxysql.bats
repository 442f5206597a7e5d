#!/usr/bin/env bats
# ka-check-proxysql without any server: command line, option files, documentation
# agreement, and the failures that need no ProxySQL (refused, silent port).

bats_require_minimum_version 1.5.0

load '../helpers/common'

MAN="$KA_REPO/check/ka-check-proxysql.8"
DEAD_PORT=23398     # nothing listens here
SILENT_PORT=23397   # accepts TCP, never says a word (a hung ProxySQL)

setup() {
	CNF="$BATS_TEST_TMPDIR/ka.cnf"
	printf '[client]\nuser=radmin\npassword=radminpw\n' > "$CNF"
	chmod 600 "$CNF"
}

teardown() { stop_silent_listener; }

# Text of a man page section (roff escapes for '-' undone, font changes removed).
man_section() {
	sed -n "/^\.SH $1\$/,/^\.SH /p" "$MAN" | sed '1d;$d' |
		sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\(em/--/g'
}

@test "--help prints the usage and exits 0" {
	run -0 ka-check-proxysql --help
	assert_line --index 0 --partial 'usage: ka-check-proxysql [--socket PATH | --host IP [--port N]]'
}

@test "--version prints the name and version" {
	run -0 ka-check-proxysql --version
	assert_output --regexp '^ka-check-proxysql [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "the man page SYNOPSIS matches usage() word for word" {
	local synopsis usage
	synopsis=$(man_section SYNOPSIS | sed -n 's/^\.B //p' | tr -s ' \t\n' ' ' | sed 's/ $//')
	usage=$(ka-check-proxysql --help | sed '1s/^usage: //' | tr -s ' \t\n' ' ' | sed 's/ $//')
	[ -n "$usage" ]
	[ "$synopsis" = "$usage" ] || { echo "man:   $synopsis"; echo "usage: $usage"; false; }
}

@test "the man page EXIT STATUS gives every code its name and the table's meaning" {
	local section code name meaning
	section=$(man_section 'EXIT STATUS')
	while IFS=$'\t' read -r code name meaning; do
		grep -A1 -xF ".B $code $name" <<<"$section" | tail -1 | grep -qxF "$meaning" ||
			{ echo "man page lacks '.B $code $name' followed by '$meaning'"; return 1; }
	done < <(ka-check-proxysql --list-exit-codes)
}

@test "--list-exit-codes never lists 126, 127 or a code above 127" {
	local code
	run -0 ka-check-proxysql --list-exit-codes
	for code in $(cut -f1 <<<"$output"); do
		[ "$code" -lt 126 ]
	done
}

@test "exits 64 on an unknown option" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --bogus
	assert_line --index 0 "ka-check-proxysql: unknown option '--bogus'"
}

@test "exits 64 when an option lacks its value" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --writer-hostgroup
	assert_line --index 0 "ka-check-proxysql: option '--writer-hostgroup' needs a value"
}

@test "exits 64 on a stray argument" {
	run -64 ka-check-proxysql --defaults-file "$CNF" extra
	assert_line --index 0 "ka-check-proxysql: unexpected argument 'extra'"
}

@test "exits 64 without --defaults-file: credentials never come from argv" {
	run -64 ka-check-proxysql
	assert_line --index 0 --partial '--defaults-file is required'
}

@test "exits 64 when --socket and --host are both given" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --socket /tmp/x.sock --host 127.0.0.1
	assert_line --index 0 --partial '--socket and --host exclude each other'
}

@test "exits 64 on --single-writer without --writer-hostgroup" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --single-writer
	assert_line --index 0 --partial '--single-writer needs --writer-hostgroup'
}

@test "exits 64 on --min-readers without --reader-hostgroup" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --min-readers 2
	assert_line --index 0 --partial '--min-readers needs --reader-hostgroup'
}

@test "exits 64 when writer and reader hostgroup are the same" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --writer-hostgroup 10 --reader-hostgroup 10
}

@test "exits 64 on a negative hostgroup" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --writer-hostgroup -1
	assert_line --index 0 --partial "invalid value '-1' for --writer-hostgroup"
}

@test "exits 64 on a --timeout below 10 ms" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --timeout 5
}

@test "exits 64 when --frontend names a host instead of an IP address" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --frontend proxysql.example:6033
	assert_line --index 0 --partial 'use a numeric IP address'
}

@test "exits 64 when --host names a host instead of an IP address" {
	run -64 ka-check-proxysql --defaults-file "$CNF" --host localhost
}

@test "exits 78 when the option file is missing" {
	run -78 ka-check-proxysql --defaults-file "$BATS_TEST_TMPDIR/none.cnf" --port "$DEAD_PORT"
	assert_output --partial "cannot read option file '$BATS_TEST_TMPDIR/none.cnf'"
}

@test "exits 78 when the option file is readable by others" {
	chmod 644 "$CNF"
	run -78 ka-check-proxysql --defaults-file "$CNF" --port "$DEAD_PORT"
	assert_output --partial 'is accessible by others (mode 0644)'
}

@test "exits 78 on a malformed option file" {
	printf '[client\n' >> "$CNF"
	run -78 ka-check-proxysql --defaults-file "$CNF" --port "$DEAD_PORT"
	assert_output --partial 'malformed line 4'
}

@test "exits 78 when the option file names the admin host by name" {
	printf '[ka-check-proxysql]\nhost=proxysql.example\n' >> "$CNF"
	run -78 ka-check-proxysql --defaults-file "$CNF"
	assert_output --partial "invalid address 'proxysql.example'"
}

@test "exits 78 with --frontend when the option file has no [ka-proxysql-frontend] group" {
	run -78 ka-check-proxysql --defaults-file "$CNF" --port "$DEAD_PORT" --frontend 127.0.0.1
	assert_output --partial 'has no [ka-proxysql-frontend] group'
}

@test "exits 78 with --frontend when [ka-proxysql-frontend] has no user" {
	printf '[ka-proxysql-frontend]\npassword=x\n' >> "$CNF"
	run -78 ka-check-proxysql --defaults-file "$CNF" --port "$DEAD_PORT" --frontend 127.0.0.1
	assert_output --partial 'has no user in its [ka-proxysql-frontend] group'
}

@test "exits 2 when nothing listens on the admin port" {
	run -2 ka-check-proxysql --defaults-file "$CNF" --host 127.0.0.1 --port "$DEAD_PORT"
	assert_output --partial "FAIL admin interface: cannot connect to '127.0.0.1:$DEAD_PORT'"
}

@test "--host IP:PORT is accepted and --port wins over its port" {
	run -2 ka-check-proxysql --defaults-file "$CNF" --host "127.0.0.1:$SILENT_PORT" --port "$DEAD_PORT"
	assert_output --partial "admin=127.0.0.1:$DEAD_PORT"
}

@test "exits 3 within bounds when the admin port accepts but never answers" {
	start_silent_listener "$SILENT_PORT"
	timed run -3 ka-check-proxysql --defaults-file "$CNF" --port "$SILENT_PORT" --timeout 300
	assert_output --partial 'timed out'
	[ "$TIMED_MS" -lt 2000 ]
}

@test "--json on a config error is one object that jq parses" {
	run --separate-stderr -78 ka-check-proxysql --defaults-file "$BATS_TEST_TMPDIR/none.cnf" --json
	[ "$(jq -r .code <<<"$output")" = 78 ]
	[ "$(jq -r .failed <<<"$output")" = config ]
	[ "$(jq -r .code_name <<<"$output")" = config ]
}

@test "a SIGTERM never ends a check with exit 0" {
	start_silent_listener "$SILENT_PORT"
	ka-check-proxysql --defaults-file "$CNF" --port "$SILENT_PORT" --timeout 5000 >/dev/null 2>&1 3>&- &
	local pid=$!
	# Signal it once it waits for the greeting (its handlers are installed by then).
	for _ in $(seq 50); do
		ss -Htn state established "( dport = :$SILENT_PORT )" | grep -q . && break
		sleep 0.1
	done
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 3 ]
}
