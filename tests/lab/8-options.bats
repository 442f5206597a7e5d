#!/usr/bin/env bats
# The template options together on the lab: the notify FIFO instead of notify_* scripts,
# unicast VRRP peers, and VRRPv3 with a sub-second advert_int (0.2 s). Scenario 2 once:
# mysqld SIGKILL on db1 moves the VIP and the writes to db2, nothing lost.

load '../helpers/common'
load '../helpers/lab'

setup_file() {
	export LAB_NOTIFY=fifo LAB_UNICAST=yes LAB_VRRP_VERSION=3 LAB_ADVERT_INT=0.2
	lab_setup_file
}

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

@test "the rendered configs use the FIFO, unicast peers and VRRPv3 at 0.2 s" {
	grep -q '^    vrrp_notify_fifo ' "$LAB_DIR/db1/keepalived.conf"
	grep -q -- '--fifo"$' "$LAB_DIR/db1/keepalived.conf"
	run grep -c 'notify_master' "$LAB_DIR/db1/keepalived.conf"
	assert_output 0
	grep -qx '    unicast_src_ip 192.0.2.11' "$LAB_DIR/db1/keepalived.conf"
	grep -qx '    version 3' "$LAB_DIR/db1/keepalived.conf"
	grep -qx '    advert_int 0.2' "$LAB_DIR/db1/keepalived.conf"
	run lab_writable
	assert_output db1
	run lab_wait_vip_stays db1 3
	assert_success
}

@test "with these options mysqld SIGKILL on db1 moves VIP and writes to db2, nothing lost" {
	lab_drill_start 50 15
	sleep 4
	t0=$(lab_now_ms)
	lab_db_kill db1
	lab_wait_vip db2 15
	echo "# VIP on db2 after $(($(lab_now_ms) - t0)) ms" >&3
	lab_wait_read_only db2 0 20
	json=$(lab_drill_wait 40)
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	[ "$(lab_drill_last_server_id "$json")" = 12 ]
	lab_db_start db1
	lab_wait_for 40 lab_is_replica_of db1 db2
	run lab_wait_vip_stays db2 3
	assert_success
}
