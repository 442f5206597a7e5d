#!/usr/bin/env bats
# The fuzz tier: every libFuzzer target (tests/fuzz/fuzz-*.c, built by `make fuzz-build`
# into $KA_FUZZ_BIN) runs for $KA_FUZZ_SECONDS (default 10) from its committed seed
# corpus. A crash, a sanitizer report or a broken property fails the test and leaves the
# input as an artifact in $KA_FUZZ_BIN. `make fuzz FUZZ_TIME=600` runs them longer.

setup_file() {
	: "${KA_FUZZ_BIN:=$BATS_TEST_DIRNAME/../../build/fuzz}"
	export KA_FUZZ_BIN
	export KA_FUZZ_SECONDS=${KA_FUZZ_SECONDS:-10}
}

setup() {
	WORK=$(mktemp -d /tmp/ka-fuzz.XXXXXX)
}

teardown() {
	rm -rf "$WORK"
}

# fuzz NAME: runs target fuzz-NAME from tests/fuzz/corpus/NAME into a scratch corpus.
fuzz() {
	local bin="$KA_FUZZ_BIN/fuzz-$1"
	[ -x "$bin" ] || { echo "fuzz target '$bin' is not built (make fuzz-build)"; return 1; }
	run timeout $((KA_FUZZ_SECONDS + 60)) "$bin" -max_total_time="$KA_FUZZ_SECONDS" \
		-timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 -artifact_prefix="$KA_FUZZ_BIN/fuzz-$1-" \
		"$WORK" "$BATS_TEST_DIRNAME/corpus/$1"
	echo "$output" | grep -E 'ERROR|SUMMARY|runtime error|Test unit written|Done' >&2 || true
	[ "$status" -eq 0 ]
}

@test "gtid parsing and the lineage comparison survive fuzzing and keep their properties" {
	fuzz gtid
}

@test "option files survive fuzzing" {
	fuzz optfile
}

@test "addresses, numbers and on/off values survive fuzzing" {
	fuzz values
}

@test "the json writer always writes valid json and round-trips utf-8 under fuzzing" {
	fuzz json
}

@test "ka-check-mariadb's option table survives fuzzing" {
	fuzz args-check
}

@test "ka-watch-mariadb's option table survives fuzzing" {
	fuzz args-watch
}

@test "ka-check-proxysql's option table survives fuzzing" {
	fuzz args-proxysql
}

@test "ka-drill's option table survives fuzzing" {
	fuzz args-drill
}

@test "ka-notify-mariadb's option table and event words survive fuzzing" {
	fuzz args-notify
}

@test "ka-notify-mariadb's state files (ticket, fault file, fence mark) survive fuzzing" {
	TMPDIR=$WORK fuzz state-notify
}

@test "keepalived notify fifo lines survive fuzzing" {
	fuzz fifo-notify
}

@test "ka-status's option table survives fuzzing" {
	fuzz args-status
}

@test "ka-status's journal line reader survives fuzzing and round-trips what lib/json wrote" {
	fuzz journal-status
}
