#!/usr/bin/env bats
# Scenario 10: planned switchovers (ka-notify-mariadb ... switchover, issue 11). Ten
# switchovers back and forth under ka-drill at 50 writes/s: no acknowledged write lost or
# duplicated, the VIP alternates, the former primary replicates from the new one, equal
# table checksums after each; two switchovers at once: one wins, one refuses; then a few
# in master-master mode, replication kept in both directions.

load '../helpers/common'
load '../helpers/lab'
load '../helpers/switchover'

setup_file() { lab_setup_file; }

teardown_file() { lab_down; }

teardown() { lab_teardown_test; }

# N rounds of so_round; the write pauses and outages on fd 3.
so_rounds() {
	local n=$1 i row from to pause outage vip expect
	for ((i = 1; i <= n; i++)); do
		expect=$(lab_peer "$(lab_vip_holder)")
		row=$(so_round 50 8) || { lab_log "round $i failed"; return 1; }
		read -r from to pause outage vip <<<"$row"
		[ "$to" = "$expect" ] || { lab_log "round $i: VIP went to $to, not $expect"; return 1; }
		echo "# round $i: $from -> $to, write pause $pause ms, drill outage $outage ms, VIP after $vip ms" >&3
		# keepalived settles (the former primary BACKUP again) before the next one
		lab_wait_for 15 lab_ka_state_is "$from" BACKUP || return 1
	done
}

lab_ka_state_is() { [ "$(lab_ka_state "$1")" = "$2" ]; }

@test "10 switchovers back and forth under ka-drill: none lost, VIP alternates, former primary replicates, checksums equal" {
	run lab_vip_holder
	assert_output db1
	so_rounds 10
	run lab_vip_holder
	assert_output db1                                   # an even number of rounds
}

@test "two switchovers started at once on both nodes: one wins, one refuses" {
	local from to a b ra rb
	from=$(lab_vip_holder)
	to=$(lab_peer "$from")
	so_run "$from" > "$LAB_DIR/so-a.out" 2>&1 &
	a=$!
	so_run "$to" > "$LAB_DIR/so-b.out" 2>&1 &
	b=$!
	ra=0 rb=0
	wait "$a" || ra=$?
	wait "$b" || rb=$?
	cat "$LAB_DIR/so-a.out" "$LAB_DIR/so-b.out" >&3
	[ "$ra" = 0 ]
	[ "$rb" = 9 ]
	grep -q "switchover-refused" "$LAB_DIR/so-b.out"
	lab_wait_vip "$to" 10
	[ "$(lab_writable)" = "$to" ]
	lab_wait_for 30 lab_is_replica_of "$from" "$to"
	lab_wait_for 15 lab_ka_state_is "$from" BACKUP
}

@test "master-master: 4 switchovers, replication kept in both directions, none lost" {
	lab_down
	export LAB_MODE=master-master
	lab_up
	lab_wait_for 20 lab_is_replica_of db2 db1
	lab_wait_for 20 lab_is_replica_of db1 db2
	so_rounds 4
	lab_is_replica_of db1 db2
	lab_is_replica_of db2 db1
	[ "$(lab_writable)" = db1 ]
}
