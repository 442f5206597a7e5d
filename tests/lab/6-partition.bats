#!/usr/bin/env bats
# Scenario 6: partition and heal, twice, each on a fresh lab with db1 as primary:
#   (a) db1's link down (the cable pulled on the bridge side);
#   (b) a silent partition: links up, every packet to and from db1 dropped (nftables in its
#       namespace). The witness (192.0.2.30) makes the isolated db1 give up (exit 10).
# After the heal: exactly one writable node, it holds every acknowledged write, and the
# stale node does not take the VIP back (split-brain guard, nopreempt). It rejoins -- or,
# when a write was in flight as it was cut off, its binlog keeps that unacknowledged
# transaction and ka-notify-mariadb refuses the rejoin: it stays read-only for an operator.

load '../helpers/common'
load '../helpers/lab'

setup_file() {
	local why
	why=$(lab_missing)
	[ -z "$why" ] || skip "$why"
}

setup() { lab_up || { lab_diagnose; lab_down; return 1; }; }

teardown() {
	[ -n "${BATS_TEST_COMPLETED:-}" ] || lab_diagnose
	lab_down
}

# partition CUT HEAL: db1 cut off for 8 s under a write load, then healed.
partition_and_heal() {
	local cut=$1 heal=$2 t0 json
	lab_drill_start 50 40
	sleep 4
	t0=$(lab_now_ms)
	$cut
	lab_log "db1 partitioned ($cut)"
	lab_wait_for 20 lab_has_vip db2
	echo "# VIP on db2 after $(($(lab_now_ms) - t0)) ms" >&3
	lab_wait_read_only db2 0 20
	lab_wait_for 20 lab_vip_not_on db1
	lab_wait_read_only db1 1 20
	sleep 8
	$heal
	lab_log "db1 healed ($heal)"
	# For 15 s after the heal the stale db1 must never hold the VIP.
	lab_vip_never_on db1 15000
	[ "$(lab_vip_holder)" = db2 ]
	[ "$(lab_writable)" = db2 ]
	json=$(lab_drill_wait 60)
	lab_drill_summary "$json" >&3
	lab_drill_verified "$json"
	[ "$(lab_drill_last_server_id "$json")" = 12 ]
	outcome=$(lab_rejoined_or_refused "$(lab_json "$json" .ambiguous)")
	echo "# after the heal db1 $outcome" >&3
	[ "$(lab_writable)" = db2 ]
	[ "$(lab_vip_holder)" = db2 ]
}

cut_link() { lab_link db1 down; }
heal_link() { lab_link db1 up; }
cut_silent() { lab_isolate db1; }
heal_silent() { lab_heal db1; }

@test "db1's link down, then up: one writable node with every acknowledged write, no VIP back to db1" {
	partition_and_heal cut_link heal_link
}

@test "silent partition of db1 (nftables drop), then healed: the witness makes db1 step down, no split brain" {
	partition_and_heal cut_silent heal_silent
}
