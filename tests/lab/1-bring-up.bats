#!/usr/bin/env bats
# Scenario 1, bring-up: keepalived with the rendered templates puts the VIP on db1, whose
# notify promotes it; db2 stays a read-only replica with both threads running.

load '../helpers/common'
load '../helpers/lab'

setup_file() { lab_setup_file; }

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

@test "the VIP is on db1 and only on db1" {
	run lab_vip_holder
	assert_output db1
	run lab_wait_vip_stays db1 3
	assert_success
}

@test "db1 is writable and db2 is read-only" {
	run lab_writable
	assert_output db1
	run lab_read_only db2
	assert_output 1
}

@test "db2 replicates from db1 with both threads running and semi-sync on" {
	run lab_repl_threads db2
	assert_output "Yes Yes"
	run lab_source_of db2
	assert_output 192.0.2.11
	run lab_sql db1 "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'"
	assert_output --regexp $'\t1$'
}

@test "keepalived runs db1 at priority 100 and db2 at 90, both state BACKUP with nopreempt" {
	grep -qx '    priority 100' "$LAB_DIR/db1/keepalived.conf"
	grep -qx '    priority 90' "$LAB_DIR/db2/keepalived.conf"
	for n in db1 db2; do
		grep -qx '    state BACKUP' "$LAB_DIR/$n/keepalived.conf"
		grep -qx '    nopreempt' "$LAB_DIR/$n/keepalived.conf"
	done
	run lab_ka_state db1
	assert_output MASTER
	run lab_ka_state db2
	assert_output BACKUP
}

@test "writes through the VIP land on db1, reach db2, and none is lost" {
	lab_drill_start 20 5
	run lab_drill_wait 30
	lab_drill_summary "$output" >&3
	json=$output
	lab_drill_verified "$json"
	[ "$(lab_json "$json" .acknowledged)" -gt 50 ]
	[ "$(lab_drill_last_server_id "$json")" = 11 ]
	lab_wait_synced db2 db1 30
	lab_checksums_equal db1 db2
}
