#!/usr/bin/env bats
# Scenarios 2 and 3: mysqld SIGKILL on the primary (db1) moves the VIP and the writes to
# db2 without losing an acknowledged write; the restarted old primary stays read-only and
# rejoins as a replica of db2 by itself, with equal table checksums.

load '../helpers/common'
load '../helpers/lab'

setup_file() { lab_setup_file; }

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

@test "mysqld SIGKILL on the primary: VIP and writes move to db2, no acknowledged write lost" {
	lab_drill_start 50 20
	sleep 5
	t0=$(lab_now_ms)
	lab_db_kill db1
	lab_log "mysqld on db1 killed"
	lab_wait_vip db2 15
	t_vip=$(($(lab_now_ms) - t0))
	lab_wait_read_only db2 0 20
	t_rw=$(($(lab_now_ms) - t0))
	echo "# VIP on db2 after ${t_vip} ms, db2 writable after <= ${t_rw} ms" >&3
	run lab_vip_holder
	assert_output db2
	run lab_writable
	assert_output db2
	run lab_repl_threads db2
	assert_output none
	run lab_drill_wait 40
	json=$output
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	[ "$(lab_drill_last_server_id "$json")" = 12 ]
	[ "$(lab_drill_outage_ms "$json")" -lt 10000 ]
	touch "$BATS_FILE_TMPDIR/failed-over"
}

@test "the old primary's mysqld restarts read-only and rejoins as a replica of db2 by itself" {
	[ -e "$BATS_FILE_TMPDIR/failed-over" ] || skip "needs the failover of the previous test"
	lab_drill_start 20 20
	lab_db_start db1
	run lab_read_only db1
	assert_output 1
	# While it rejoins, the VIP must never come back to db1 (nopreempt) and db2 stays primary.
	end=$(($(lab_now_ms) + 40000))
	until lab_is_replica_of db1 db2; do
		lab_vip_not_on db1
		[ "$(lab_now_ms)" -lt "$end" ] || { lab_log "db1 did not rejoin within 40 s"; false; }
		sleep 0.3
	done
	lab_log "db1 replicates from db2"
	run lab_wait_vip_stays db2 5
	assert_success
	run lab_writable
	assert_output db2
	run lab_drill_wait 40
	json=$output
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	lab_wait_synced db1 db2 30
	lab_no_errant db1 db2
	lab_checksums_equal db1 db2
	run lab_sql db2 "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'"
	assert_output --regexp $'\t1$'
}
