#!/usr/bin/env bats
# Scenario 5: keepalived SIGKILL on the primary, the stand-in for a dead host: no priority-0
# advert, no VIP release. db2 notices the silence (3 x advert_int + skew), takes the VIP
# and is promoted; db1 (mysqld still running) is fenced read-only by db2's promotion.
# When db1's keepalived comes back it drops the stale VIP, stays BACKUP and rejoins (or,
# holding a write that was in flight when it was fenced, is refused and stays read-only).

load '../helpers/common'
load '../helpers/lab'

setup_file() { lab_setup_file; }

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

@test "keepalived SIGKILL on the primary: db2 takes the VIP and is promoted, db1 is fenced" {
	lab_drill_start 50 25
	sleep 4
	t0=$(lab_now_ms)
	lab_ka_kill db1
	lab_log "keepalived on db1 killed (SIGKILL)"
	lab_wait_for 20 lab_has_vip db2
	t_vip=$(($(lab_now_ms) - t0))
	lab_wait_read_only db2 0 20
	lab_wait_read_only db1 1 20
	echo "# VIP on db2 after ${t_vip} ms (3 x advert_int + skew expected)" >&3
	run lab_writable
	assert_output db2
	run lab_drill_wait 60
	json=$output
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	[ "$(lab_drill_last_server_id "$json")" = 12 ]
	echo "$json" > "$BATS_FILE_TMPDIR/drill.json"
	touch "$BATS_FILE_TMPDIR/failed-over"
}

@test "db1's keepalived restarted drops the stale VIP, stays BACKUP, and db1 rejoins db2 or is refused safely" {
	[ -e "$BATS_FILE_TMPDIR/failed-over" ] || skip "needs the failover of the previous test"
	mark=$(lab_ka_log_mark db1)
	lab_ka_start db1
	lab_wait_for 15 lab_vip_not_on db1
	outcome=$(lab_rejoined_or_refused "$(lab_json "$(cat "$BATS_FILE_TMPDIR/drill.json")" .ambiguous)")
	echo "# db1 $outcome" >&3
	run lab_wait_vip_stays db2 5
	assert_success
	run lab_writable
	assert_output db2
	# The restarted keepalived entered BACKUP and never MASTER; a refused rejoin forces
	# FAULT (the fault file) afterwards, a rejoin leaves it in BACKUP.
	states=$(lab_ka_states_since db1 "$mark")
	echo "# db1's restarted keepalived entered: $(tr '\n' ' ' <<<"$states")" >&3
	[ "$(head -1 <<<"$states")" = BACKUP ]
	[ -z "$(grep -x MASTER <<<"$states")" ]
	if [ "$outcome" = rejoined ]; then
		[ "$(tail -1 <<<"$states")" = BACKUP ]
	else
		[ "$(tail -1 <<<"$states")" = FAULT ]
	fi
}
