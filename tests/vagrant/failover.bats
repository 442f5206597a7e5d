#!/usr/bin/env bats
# The Vagrant lab booted for real: db1 and db2 as libvirt VMs (KVM, or qemu's software
# emulation) from the local box of vagrant/tools/build-box, provisioned by vagrant/provision
# from conf-templates with the host's static binaries; the host is the client and the
# witness. One failover under ka-drill writes: mysqld killed on the primary, the VIP moves,
# no acknowledged write is lost, the old primary rejoins. Root; minutes, not seconds
# (tests/helpers/vm.bash has the measured times). The tests run in order and share the VMs;
# teardown_file always destroys them and stops the libvirt daemons this run started.

load '../helpers/common'
load '../helpers/lab'
load '../helpers/vm'

setup_file() {
	local why
	why=$(vm_missing)
	if [ -n "$why" ]; then
		export VM_SKIP="$why"
		return 0
	fi
	vm_down                                   # an interrupted earlier run
	mkdir -p "$VM_DIR"
	[ -e "$VM_REPO/vagrant/.secrets" ] || touch "$VM_DIR/secrets-made"
	vm_daemons_up
	vm_witness_up
}

teardown_file() {
	[ -n "${VM_SKIP:-}" ] && return 0
	local t0
	t0=$(vm_now)
	vm_down
	vm_log "destroy and cleanup: $(($(vm_now) - t0)) s"
	printf '# destroy and cleanup: %s s\n' "$(($(vm_now) - t0))" >&3
}

setup() {
	[ -z "${VM_SKIP:-}" ] || skip "$VM_SKIP"
	# A test after a failed one has nothing to work on: skip it rather than time out.
	[ ! -e "$VM_DIR/broken" ] || skip "an earlier step failed: $(cat "$VM_DIR/broken")"
}

teardown() {
	if [ "${BATS_TEST_COMPLETED:-}" != 1 ] && [ -z "${BATS_TEST_SKIPPED:-}" ] && [ -d "$VM_DIR" ]; then
		echo "$BATS_TEST_DESCRIPTION" > "$VM_DIR/broken"
	fi
}

@test "the box is built from Debian's archive, or reused from the cache while its script is unchanged" {
	local t0 name
	t0=$(vm_now)
	name=$(VAGRANT_HOME="$VM_CACHE/home" KA_VAGRANT_CACHE="$VM_CACHE" "$VM_REPO/vagrant/tools/build-box")
	vm_timing box $(($(vm_now) - t0))
	[[ $name == ka-mariadb-bookworm-* ]]
	[ -f "$VM_CACHE/$name.box" ]
	echo "$name" > "$VM_DIR/box"
}

@test "vagrant up boots db1 and db2 and provisions them from conf-templates with the host's binaries, installing no package" {
	local t0
	t0=$(vm_now)
	VM_TIMEOUT=$VM_UP_TIMEOUT vm_vagrant up --provider=libvirt > "$VM_DIR/up.log" 2>&1 || {
		tr '\r' '\n' < "$VM_DIR/up.log" | grep -av 'Progress:' | tail -40
		return 1
	}
	vm_timing "vagrant up (boot + provisioning, both VMs)" $(($(vm_now) - t0))
	vm_ssh_config
	run grep -c 'apt-get install' "$VM_DIR/up.log"
	assert_output 0
	grep -q "installing the host-built ka-mariadb binaries" "$VM_DIR/up.log"
	grep -q "rendered keepalived-primary-replica (priority 100)" "$VM_DIR/up.log"
	grep -q "rendered keepalived-primary-replica (priority 90)" "$VM_DIR/up.log"
	[ "$(vm_ssh db1 sha256sum /usr/local/libexec/ka-mariadb/ka-drill | cut -d' ' -f1)" = \
		"$(sha256sum "$KA_BIN/ka-drill" | cut -d' ' -f1)" ]
}

@test "db1 holds the VIP and is writable, db2 is a read-only replica of db1 without the VIP" {
	vm_has_vip db1
	run ! vm_has_vip db2
	[ "$(vm_sql db1 'SELECT @@global.read_only')" = 0 ]
	[ "$(vm_sql db2 'SELECT @@global.read_only')" = 1 ]
	[ "$(vm_replication db2)" = "Yes Yes ${VM_IP[db1]}" ]
	vm_app_cnf
}

@test "mysqld killed on db1 under ka-drill writes: the VIP moves to db2 and no acknowledged write is lost" {
	local t0 t_kill t_vip json why
	vm_drill_start 10 90
	sleep 15
	t0=$(vm_now)
	vm_ssh db1 systemctl kill -s SIGKILL mariadb
	t_kill=$(vm_now)
	vm_wait_for 120 vm_has_vip db2
	t_vip=$(vm_now)
	vm_timing "failover: kill to VIP on db2 (polled every 2 s)" $((t_vip - t_kill))
	json=$(vm_drill_wait 240)
	echo "$json" > "$VM_DIR/drill.result"
	vm_timing "failover: kill to end of drill" $(($(vm_now) - t0))
	lab_drill_summary "$json" | sed 's/^/# /' >&3
	why=$(lab_drill_problem "$json")
	[ -z "$why" ] || { echo "drill not verified clean: $why"; cat "$VM_DIR/drill.err"; return 1; }
	[ "$(jq .lost <<<"$json")" = 0 ]
	[ "$(jq -r '.phases[-1].server_id' <<<"$json")" = 12 ]
	vm_has_vip db2
	run ! vm_has_vip db1
}

@test "the old primary comes back read-only and replicates from db2, the new primary" {
	local t0
	t0=$(vm_now)
	vm_wait_for 300 vm_db1_rejoined || {
		vm_ssh db1 tail -3 /var/lib/ka-mariadb/journal.jsonl
		vm_replication db1
		return 1
	}
	vm_timing "old primary rejoined (after the drill)" $(($(vm_now) - t0))
	[ "$(vm_sql db2 'SELECT @@global.read_only')" = 0 ]
	vm_has_vip db2
}

@test "vagrant destroy removes both VMs and the private network" {
	local t0
	t0=$(vm_now)
	vm_vagrant destroy -f
	vm_timing "vagrant destroy" $(($(vm_now) - t0))
	[ -z "$("${VIRSH[@]}" list --all --name | grep "^$VM_PREFIX")" ]
	run ! "${VIRSH[@]}" net-info ka-mariadb
	sed 's/^/# timing: /' "$VM_DIR/timings" >&3
}
