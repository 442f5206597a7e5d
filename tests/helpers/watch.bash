# ka-watch-mariadb in the background for the bats tiers: the track file is $TF, its
# stdout and stderr land in $BATS_TEST_TMPDIR/watch.out and watch.err.
#   start_watcher OPTIONS...   (--track-file "$TF" is added)
#   stop_watcher               SIGTERM, wait; WATCH_RC is its exit status
#   wait_value VALUE SECONDS   until the file says VALUE; WAITED_MS is how long it took

start_watcher() {
	ka-watch-mariadb --track-file "$TF" "$@" > "$BATS_TEST_TMPDIR/watch.out" \
		2> "$BATS_TEST_TMPDIR/watch.err" 3>&- &
	WATCH_PID=$!
}

stop_watcher() {
	[ -n "${WATCH_PID:-}" ] || return 0
	kill -TERM "$WATCH_PID" 2>/dev/null || true
	WATCH_RC=0
	wait "$WATCH_PID" || WATCH_RC=$?
	WATCH_PID=
}

wait_value() {
	local i t0
	t0=$(date +%s%N)
	for ((i = 0; i < $2 * 100; i++)); do
		if [ "$(cat "$TF" 2>/dev/null)" = "$1" ]; then
			WAITED_MS=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		sleep 0.01
	done
	echo "track file says '$(cat "$TF" 2>/dev/null)', not '$1', after $2 s" >&2
	cat "$BATS_TEST_TMPDIR/watch.out" >&2
	return 1
}
