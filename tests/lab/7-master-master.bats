#!/usr/bin/env bats
# Scenario 7: the master-master template. db1 and db2 replicate from each other all the
# time; only the VIP holder is writable. A failover (mysqld SIGKILL on db1) and db1's
# restart keep both directions of replication healthy, with no acknowledged write lost.

load '../helpers/common'
load '../helpers/lab'

setup_file() {
	export LAB_MODE=master-master
	lab_setup_file
}

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

@test "master-master bring-up: VIP on db1, only db1 writable, both directions replicate" {
	grep -q -- '--mode master-master' "$LAB_DIR/db1/keepalived.conf"
	run lab_vip_holder
	assert_output db1
	run lab_writable
	assert_output db1
	lab_wait_for 20 lab_is_replica_of db1 db2
	lab_wait_for 20 lab_is_replica_of db2 db1
}

@test "a MASTER whose replication check fails keeps the VIP: priority 100 -> 80, db2 stays BACKUP (nopreempt)" {
	mark1=$(lab_ka_log_mark db1)
	mark2=$(lab_ka_log_mark db2)
	t0=$(lab_now_ms)
	lab_sql db1 "STOP SLAVE"
	lab_wait_for 15 lab_ka_logged_since db1 "$mark1" 'Changing effective priority from 100 to 80'
	echo "# db1 at priority 80 after $(($(lab_now_ms) - t0)) ms (chk_replication fall 2)" >&3
	# The weight is applied, db2 (90) now outranks db1 (80): the VIP stays anyway.
	run lab_wait_vip_stays db1 10
	assert_success
	run lab_ka_states_since db2 "$mark2"
	assert_output ""
	run lab_writable
	assert_output db1
	lab_sql db1 "START SLAVE"
	lab_wait_for 15 lab_ka_logged_since db1 "$mark1" 'Changing effective priority from 80 to 100'
	lab_wait_for 20 lab_is_replica_of db1 db2
}

@test "mysqld SIGKILL on db1: VIP and writes move to db2, which keeps its replication" {
	lab_drill_start 50 20
	sleep 4
	lab_db_kill db1
	lab_wait_vip db2 15
	lab_wait_read_only db2 0 20
	run lab_source_of db2
	assert_output 192.0.2.11
	json=$(lab_drill_wait 40)
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	[ "$(lab_drill_last_server_id "$json")" = 12 ]
	touch "$BATS_FILE_TMPDIR/failed-over"
}

@test "db1 restarted: read-only, both directions healthy again, equal checksums, VIP stays on db2" {
	[ -e "$BATS_FILE_TMPDIR/failed-over" ] || skip "needs the failover of the previous test"
	lab_drill_start 20 15
	lab_db_start db1
	run lab_read_only db1
	assert_output 1
	lab_wait_for 40 lab_is_replica_of db1 db2
	lab_wait_for 40 lab_is_replica_of db2 db1
	run lab_wait_vip_stays db2 3
	assert_success
	json=$(lab_drill_wait 40)
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	lab_wait_synced db1 db2 30
	lab_wait_synced db2 db1 30
	lab_checksums_equal db1 db2
	run lab_writable
	assert_output db2
}
