#!/usr/bin/env bats
# vagrant/: the Vagrantfile and its provisioning, without Vagrant and without VMs. The
# Vagrantfile is read by vagrant/tools/vagrantfile-dump (a recorder in place of Vagrant);
# the provisioning's render step (vagrant/provision/render-node) and SQL are compared with
# the namespace lab's own (tests/helpers/lab.bash): same templates, same values, same
# statements -- only the paths (and the VM's interface name) differ.

load '../helpers/common'
load '../helpers/lab'

VG=$KA_REPO/vagrant
DUMP=$VG/tools/vagrantfile-dump
RENDER_NODE=$VG/provision/render-node

setup_file() {
	# The Vagrantfile on the lab's own network (its default is 198.51.100.0/24, which
	# libvirt accepts where the host sits in 192.0.2.0/24), so that its values can be
	# compared with lab_vars'. No setting of the Vagrant tier (tests/vagrant) leaks in.
	unset KA_VAGRANT_BOX KA_VAGRANT_MACHINES KA_VAGRANT_WITNESS KA_VAGRANT_BINARIES \
		KA_VAGRANT_PREFIX KA_VAGRANT_KERNEL KA_VAGRANT_TIMING
	export KA_VAGRANT_NET=192.0.2
	export VG_JSON=$BATS_FILE_TMPDIR/vagrantfile.json
	"$DUMP" > "$VG_JSON"
}

setup() {
	# shellcheck source=../../vagrant/provision/lib.sh
	. "$VG/provision/lib.sh"
	LAB_DIR=$BATS_TEST_TMPDIR/lab
	mkdir -p "$LAB_DIR/db1" "$LAB_DIR/db2"
	unset LAB_MODE LAB_VRRP_VERSION LAB_ADVERT_INT LAB_UNICAST LAB_NOTIFY LAB_WITNESS
	lab_settings_load
	# The passwords file the Vagrantfile would create, with the lab's passwords.
	SECRETS=$BATS_TEST_TMPDIR/secrets
	printf '%s\n' "CHECK_PASSWORD=$LAB_PW_CHECK" "HA_PASSWORD=$LAB_PW_HA" \
		"REPL_PASSWORD=$LAB_PW_REPL" "APP_PASSWORD=$LAB_PW_APP" \
		PROXYSQL_ADMIN_PASSWORD=admin-pw-1 PROXYSQL_CLUSTER_PASSWORD=cluster-pw-1 > "$SECRETS"
}

# ---- helpers ----------------------------------------------------------------------------

# Dumps a copy of the Vagrantfile edited by the sed script $1; prints the JSON's path.
dump_edited() {
	local copy=$BATS_TEST_TMPDIR/Vagrantfile.$RANDOM
	sed -e "$1" "$VG/Vagrantfile" > "$copy"
	"$DUMP" "$copy" > "$copy.json" || return 1
	echo "$copy.json"
}

# The provisioner arguments of MACHINE in dump JSON (default: the real Vagrantfile's).
vagrant_args() { jq -r --arg m "$1" '.machines[$m].provisioners[0].args[]' "${2:-$VG_JSON}"; }

# Value of KEY among MACHINE's provisioner arguments.
vagrant_arg() { vagrant_args "$1" "${3:-}" | sed -n "s/^$2=//p"; }

# MACHINE's vars file as the provisioning composes it (vg_node_vars) into OUT.
vagrant_vars() {
	local -a args
	mapfile -t args < <(vagrant_args "$1" "${3:-}")
	vg_node_vars "$SECRETS" "${args[@]}" > "$2"
}

# The lab's values of NODE (lab_vars) with the VM's paths and INTERFACE, into OUT: the
# paths lab_vars points into its temp dir become the VM's (vagrant/provision/lib.sh), and
# render reads the later line of a key.
lab_vm_vars() {
	{
		lab_vars "$1"
		printf '%s\n' "${VG_DB_PATHS[@]}"
		echo "INTERFACE=$3"
	} > "$2"
}

# Renders NODE both ways -- the provisioning (render-node on the vars from the Vagrantfile
# dumped in $2) and the lab (lab_ka_config's render call on lab_vars) -- and diffs the
# keepalived.conf. The lab's settings (LAB_MODE, ...) are the caller's.
same_keepalived_conf() {
	local n=$1 json=${2:-$VG_JSON} d=$BATS_TEST_TMPDIR/$1
	mkdir -p "$d"
	vagrant_vars "$n" "$d/vagrant.vars" "$json"
	"$RENDER_NODE" --no-validate "$d/vagrant.vars" "$d/vagrant" >/dev/null
	lab_vm_vars "$n" "$d/lab.vars" "$(vg_var "$d/vagrant.vars" INTERFACE)"
	"$LAB_RENDER" --vars "$d/lab.vars" --no-validate --out "$d/lab-keepalived.conf" \
		"keepalived-$LAB_MODE" >/dev/null
	diff -u "$d/lab-keepalived.conf" "$d/vagrant/keepalived.conf"
}

# SQL text -> one statement per line, whitespace collapsed, SOURCE paths dropped.
sql_statements() {
	tr '\n\t' '  ' | tr -s ' ' | tr ';' '\n' | sed -e 's/^ *//' -e 's/ *$//' \
		-e 's/^SOURCE .*/SOURCE grants.sql/' | grep -v '^$'
}

# Runs a lab function with lab_sql recording its SQL (no server) into $BATS_TEST_TMPDIR/sql.
lab_sql_of() {
	: > "$BATS_TEST_TMPDIR/sql"
	lab_sql() { printf '%s;\n' "$2" >> "$BATS_TEST_TMPDIR/sql"; }
	lab_wait_sql() { return 0; }
	"$@" >/dev/null
	cat "$BATS_TEST_TMPDIR/sql"
}

# ---- static checks ----------------------------------------------------------------------

@test "every provisioning script passes shellcheck" {
	command -v shellcheck >/dev/null || skip "shellcheck is not installed (make deps)"
	cd "$VG/provision"
	run shellcheck -x ./*.sh render-node
	assert_success
}

@test "build-box, host-deps and the Vagrant tier's helpers pass shellcheck" {
	command -v shellcheck >/dev/null || skip "shellcheck is not installed (make deps)"
	run shellcheck -x "$VG/tools/build-box" "$VG/tools/host-deps" "$KA_REPO/tests/helpers/vm.bash"
	assert_success
}

@test "build-box names the box by its recipe: another package list is another box, another comment is not" {
	local copy=$BATS_TEST_TMPDIR/build-box name
	name=$("$VG/tools/build-box" --print-name)
	[[ $name =~ ^ka-mariadb-bookworm-[0-9a-f]{12}$ ]]
	sed 's/^# build-box: builds/# build-box (edited): builds/' "$VG/tools/build-box" > "$copy"
	[ "$(bash "$copy" --print-name)" = "$name" ]
	sed 's/^\tmariadb-server mariadb-client/\tmariadb-server mariadb-client htop/' "$VG/tools/build-box" > "$copy"
	run bash "$copy" --print-name
	assert_success
	refute_output "$name"
	run "$VG/tools/build-box" --bogus
	assert_failure 64
}

@test "ruby -c accepts the Vagrantfile and the dump tool" {
	run ruby -c "$VG/Vagrantfile"
	assert_success
	assert_output "Syntax OK"
	run ruby -c "$DUMP"
	assert_success
}

@test "the Vagrantfile defines the witness, db1, db2, a client and an optional ProxySQL pair on Debian 12 boxes" {
	run jq -r '.machines | keys_unsorted | join(" ")' "$VG_JSON"
	assert_output "witness db1 db2 client proxysql1 proxysql2"
	run jq -r '[.machines[] | .box] | unique | join(" ")' "$VG_JSON"
	assert_output "debian/bookworm64"
	run jq -r '[.machines | to_entries[] | select(.value.autostart) | .key] | join(" ")' "$VG_JSON"
	assert_output "witness db1 db2 client"
	run jq -r '[.machines | to_entries[] | "\(.key)=\(.value.provisioners[0].name)"] | join(" ")' "$VG_JSON"
	assert_output "witness=ka-witness db1=ka-db db2=ka-db client=ka-client proxysql1=ka-proxysql proxysql2=ka-proxysql"
}

@test "every machine has a libvirt and a VirtualBox provider block and one address on the private network" {
	run jq -r '[.machines[] | .providers | keys | join(",")] | unique | join(" ")' "$VG_JSON"
	assert_output "libvirt,virtualbox"
	run jq -r '[.machines[] | .private_networks | length] | unique | join(" ")' "$VG_JSON"
	assert_output "1"
	run jq -r '[.machines[] | .private_networks[0] | "\(.virtualbox__intnet) \(.libvirt__network_name) \(.libvirt__forward_mode) \(.netmask)"] | unique | join(",")' "$VG_JSON"
	assert_output "ka-mariadb ka-mariadb none 255.255.255.0"
}

@test "the repository is rsync'ed into the VMs without .git and the host's build dir" {
	run jq -r '.synced_folders[] | select(.type == "rsync") | "\(.host) \(.guest) \(.rsync__exclude | join(","))"' "$VG_JSON"
	assert_output ".. /ka-mariadb .git/,build/,vagrant/.vagrant/"
	run jq -r '.machines.db1.provisioners[0].inline' "$VG_JSON"
	assert_output --partial "/ka-mariadb/vagrant/provision/db.sh"
	[ -x "$VG/provision/db.sh" ] && [ -x "$VG/provision/client.sh" ] &&
		[ -x "$VG/provision/witness.sh" ] && [ -x "$VG/provision/proxysql.sh" ]
}

@test "the dump tool does not create the passwords file (the trigger's host code is not run)" {
	run jq -r '.triggers[0] | "\(.when) \(.on | join(","))"' "$VG_JSON"
	assert_output "before up,provision,reload"
	[ ! -e "$VG/.secrets" ] || grep -q '^CHECK_PASSWORD=' "$VG/.secrets"
	copy=$(dump_edited 's/^BOX = .*/BOX = "debian\/bookworm64"/')
	[ ! -e "$(dirname "$copy")/.secrets" ]
}

@test "the Vagrantfile refuses two db machines of role master" {
	copy=$BATS_TEST_TMPDIR/Vagrantfile.bad
	sed 's/kind: "db", role: "backup"/kind: "db", role: "master"/' "$VG/Vagrantfile" > "$copy"
	run "$DUMP" "$copy"
	assert_failure
	assert_output --partial "need exactly two db machines, one role master and one backup"
}

@test "the private network defaults to 198.51.100.0/24 and KA_VAGRANT_NET moves every address, VIP and host pattern" {
	local json=$BATS_TEST_TMPDIR/default.json
	env -u KA_VAGRANT_NET "$DUMP" > "$json"
	[ "$(jq -r '.machines.db1.private_networks[0].ip' "$json")" = 198.51.100.11 ]
	[ "$(vagrant_arg db1 VIP "$json")" = 198.51.100.100 ]
	[ "$(vagrant_arg db2 HA_NET "$json")" = "198.51.100.%" ]
	KA_VAGRANT_NET=10.11.12 "$DUMP" > "$json"
	run jq -r '[.machines[] | .private_networks[0].ip] | join(" ")' "$json"
	assert_output "10.11.12.30 10.11.12.11 10.11.12.12 10.11.12.20 10.11.12.21 10.11.12.22"
	[ "$(vagrant_arg db1 VIP "$json")" = 10.11.12.100 ]
	[ "$(vagrant_arg proxysql1 VIP "$json")" = 10.11.12.101 ]
	[ "$(vagrant_arg db1 APP_NET "$json")" = "10.11.12.%" ]
	[ "$(vagrant_arg client DB_IPS "$json")" = 10.11.12.11,10.11.12.12 ]
}

@test "libvirt runs KVM where the host has /dev/kvm, else qemu's emulation; one vCPU per VM; boot timeout 600 s or more" {
	local driver=qemu
	[ -e /dev/kvm ] && driver=kvm
	run jq -r '[.machines[] | .providers.libvirt.driver] | unique | join(" ")' "$VG_JSON"
	assert_output "$driver"
	run jq -r '[.machines[] | .providers[].cpus] | unique | join(" ")' "$VG_JSON"
	assert_output 1
	[ "$(jq '.boot_timeout' "$VG_JSON")" -ge 600 ]
}

@test "the Vagrant tier's settings start only db1 and db2, name an outside witness and rsync the host's binaries" {
	local json=$BATS_TEST_TMPDIR/tier.json
	KA_VAGRANT_MACHINES=db1,db2 KA_VAGRANT_WITNESS=192.0.2.1:17007 KA_VAGRANT_BINARIES=/srv/bin \
		KA_VAGRANT_BOX=ka-mariadb-bookworm-0 KA_VAGRANT_PREFIX=ka-t- "$DUMP" > "$json"
	run jq -r '[.machines | to_entries[] | select(.value.autostart) | .key] | join(" ")' "$json"
	assert_output "db1 db2"
	[ "$(vagrant_arg db1 WITNESS "$json")" = 192.0.2.1:17007 ]
	[ "$(vagrant_arg db2 WITNESS "$json")" = 192.0.2.1:17007 ]
	run jq -r '.synced_folders[] | select(.guest == "/ka-mariadb-bin") | "\(.host) \(.type)"' "$json"
	assert_output "/srv/bin rsync"
	[ "$(jq -r '.machines.db1.box' "$json")" = ka-mariadb-bookworm-0 ]
	[ "$(jq -r '.machines.db2.providers.libvirt.default_prefix' "$json")" = ka-t- ]
	# Without the settings: Debian's box, no binaries folder (the VMs build them).
	run jq -r '[.synced_folders[] | select(.guest == "/ka-mariadb-bin")] | length' "$VG_JSON"
	assert_output 0
}

@test "KA_VAGRANT_KERNEL boots the box's kernel directly and KA_VAGRANT_TIMING=slow renders slower timers that render accepts" {
	local json=$BATS_TEST_TMPDIR/slow.json n
	KA_VAGRANT_KERNEL=/cache/ka-mariadb-bookworm-0 KA_VAGRANT_TIMING=slow "$DUMP" > "$json"
	run jq -r '.machines.db1.providers.libvirt | "\(.kernel) \(.initrd) \(.cmd_line)"' "$json"
	assert_output "/cache/ka-mariadb-bookworm-0.vmlinuz /cache/ka-mariadb-bookworm-0.initrd root=LABEL=ka-root ro net.ifnames=0 console=tty0 console=ttyS0,115200"
	[ "$(jq -r '.machines.db1.providers.libvirt.kernel' "$VG_JSON")" = null ]
	for n in db1 db2; do
		[ "$(vagrant_arg "$n" ADVERT_INT "$json")" = 3 ]
		[ "$(vagrant_arg "$n" CHECK_INTERVAL "$json")" = 3 ]
		[ "$(vagrant_arg "$n" CHECK_TIMEOUT_MS "$json")" = 2500 ]
		vagrant_vars "$n" "$BATS_TEST_TMPDIR/$n.vars" "$json"
		"$RENDER_NODE" --no-validate "$BATS_TEST_TMPDIR/$n.vars" "$BATS_TEST_TMPDIR/$n" >/dev/null
		grep -qx '    interval 3' "$BATS_TEST_TMPDIR/$n/keepalived.conf"
		grep -qx '    advert_int 3' "$BATS_TEST_TMPDIR/$n/keepalived.conf"
	done
	[ -z "$(vagrant_arg db1 CHECK_INTERVAL)" ]
}

# ---- the values: the Vagrantfile's addresses are what the provisioning renders ----------

@test "the Vagrantfile's addresses, VIP and router id are the lab's and the ones the provisioning gets" {
	local n ip
	for n in db1 db2 client witness; do
		ip=$(jq -r --arg m "$n" '.machines[$m].private_networks[0].ip' "$VG_JSON")
		[ "$ip" = "${LAB_IP[$n]}" ]
		[ "$(vagrant_arg "$n" NODE_IP)" = "$ip" ]
	done
	[ "$(vagrant_arg db1 PEER_IP)" = "${LAB_IP[db2]}" ]
	[ "$(vagrant_arg db2 PEER_IP)" = "${LAB_IP[db1]}" ]
	for n in db1 db2; do
		[ "$(vagrant_arg "$n" VIP)" = "$LAB_VIP" ]
		[ "$(vagrant_arg "$n" ROUTER_ID)" = 51 ]
		[ "$(vagrant_arg "$n" SERVER_ID)" = "${LAB_SID[$n]}" ]
		[ "$(vagrant_arg "$n" WITNESS)" = "${LAB_IP[witness]}:$LAB_WITNESS_PORT" ]
		[ "$(vagrant_arg "$n" INTERFACE)" = eth1 ]
	done
	[ "$(vagrant_arg db1 ROLE)" = master ] && [ "$(vagrant_arg db2 ROLE)" = backup ]
	[ "$(vagrant_arg witness WITNESS_PORT)" = "$LAB_WITNESS_PORT" ]
	[ "$(vagrant_arg client VIP)" = "$LAB_VIP" ]
	[ "$(vagrant_arg client DB_IPS)" = "${LAB_IP[db1]},${LAB_IP[db2]}" ]
}

@test "db1 and db2 get every value lab_vars gives, equal except the paths, the interface and the passwords" {
	local n key lab_v vg_v
	for n in db1 db2; do
		vagrant_vars "$n" "$BATS_TEST_TMPDIR/$n.vars"
		while IFS='=' read -r key lab_v; do
			vg_v=$(vg_var "$BATS_TEST_TMPDIR/$n.vars" "$key")
			grep -q "^$key=" "$BATS_TEST_TMPDIR/$n.vars" || { echo "$n: $key missing"; return 1; }
			case $key in
			KA_BIN|KA_CNF|MYSQL_SOCKET|STATE_DIR|FAULT_FILE|NOTIFY_FIFO_PATH|WATCH_FILE|INTERFACE) ;;
			*) [ "$vg_v" = "$lab_v" ] || { echo "$n: $key lab '$lab_v' vagrant '$vg_v'"; return 1; } ;;
			esac
		done < <(lab_vars "$n")
	done
}

@test "the VM's paths are the real ones: ka.cnf in /etc, the Debian socket, state in /var/lib, binaries in libexec" {
	vagrant_vars db1 "$BATS_TEST_TMPDIR/db1.vars"
	run grep -E '^(KA_BIN|KA_CNF|MYSQL_SOCKET|STATE_DIR|FAULT_FILE|NOTIFY_FIFO_PATH)=' "$BATS_TEST_TMPDIR/db1.vars"
	assert_output "KA_BIN=/usr/local/libexec/ka-mariadb
KA_CNF=/etc/ka-mariadb/ka.cnf
MYSQL_SOCKET=/run/mysqld/mysqld.sock
STATE_DIR=/var/lib/ka-mariadb
FAULT_FILE=/var/lib/ka-mariadb/fault
NOTIFY_FIFO_PATH=/run/ka-mariadb/notify.fifo"
}

# ---- the render step: the same files as the lab ------------------------------------------

@test "the provisioning renders the same keepalived.conf as the lab for db1 and db2" {
	run same_keepalived_conf db1
	assert_success
	run same_keepalived_conf db2
	assert_success
	grep -qx '    virtual_router_id 51' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
	grep -qx '        192.0.2.100/24 dev eth1' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
	grep -qx '    priority 100' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
	grep -qx '    priority 90' "$BATS_TEST_TMPDIR/db2/vagrant/keepalived.conf"
	grep -q -- '--peer 192.0.2.12:3306 --witness 192.0.2.30:7"$' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
	grep -q '^    script "/usr/local/libexec/ka-mariadb/ka-check-mariadb --socket /run/mysqld/mysqld.sock --defaults-file /etc/ka-mariadb/ka.cnf ' \
		"$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
}

@test "MODE = master-master in the Vagrantfile renders the lab's LAB_MODE=master-master config" {
	json=$(dump_edited 's/^MODE *= "primary-replica"/MODE = "master-master"/')
	[ "$(vagrant_arg db1 MODE "$json")" = master-master ]
	LAB_MODE=master-master
	run same_keepalived_conf db1 "$json"
	assert_success
	run same_keepalived_conf db2 "$json"
	assert_success
	grep -q -- '--mode master-master' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
}

@test "unicast, the notify FIFO and VRRPv3 at 0.2 s render as the lab's same settings" {
	json=$(dump_edited 's/^UNICAST *= "no"/UNICAST = "yes"/; s/^NOTIFY *= "scripts"/NOTIFY = "fifo"/; s/^VRRP_VERSION *= 2/VRRP_VERSION = 3/; s/^ADVERT_INT *= 1/ADVERT_INT = 0.2/')
	LAB_UNICAST=yes LAB_NOTIFY=fifo LAB_VRRP_VERSION=3 LAB_ADVERT_INT=0.2
	run same_keepalived_conf db1 "$json"
	assert_success
	run same_keepalived_conf db2 "$json"
	assert_success
	grep -q 'vrrp_notify_fifo /run/ka-mariadb/notify.fifo' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
	grep -qx '    unicast_src_ip 192.0.2.12' "$BATS_TEST_TMPDIR/db2/vagrant/keepalived.conf"
}

@test "without a started witness machine the db nodes render the lab's LAB_WITNESS=no config" {
	json=$(dump_edited '/"witness" *=>/s/autostart: true/autostart: false/')
	[ "$(vagrant_arg db1 WITNESS "$json")" = "" ]
	LAB_WITNESS=no
	run same_keepalived_conf db1 "$json"
	assert_success
	! grep -q -- '--witness' "$BATS_TEST_TMPDIR/db1/vagrant/keepalived.conf"
}

@test "the provisioning renders the lab's mariadb-ha.cnf, ka.cnf and grants.sql" {
	vagrant_vars db1 "$BATS_TEST_TMPDIR/db1.vars"
	"$RENDER_NODE" --no-validate "$BATS_TEST_TMPDIR/db1.vars" "$BATS_TEST_TMPDIR/vagrant" >/dev/null
	lab_db_config db1
	run diff -u "$LAB_DIR/db1/ka-ha.cnf" "$BATS_TEST_TMPDIR/vagrant/mariadb-ha.cnf"
	assert_success
	grep -qx 'read_only                        = ON' "$BATS_TEST_TMPDIR/vagrant/mariadb-ha.cnf"
	lab_vars db1 > "$LAB_DIR/db1/node.vars"
	"$LAB_RENDER" --vars "$LAB_DIR/db1/node.vars" --out "$LAB_DIR/db1/ka.cnf" ka.cnf
	run diff -u "$LAB_DIR/db1/ka.cnf" "$BATS_TEST_TMPDIR/vagrant/ka.cnf"
	assert_success
	lab_sql_of lab_accounts >/dev/null
	run diff -u "$LAB_DIR/grants.sql" "$BATS_TEST_TMPDIR/vagrant/grants.sql"
	assert_success
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/vagrant/ka.cnf")" = 600 ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/vagrant/grants.sql")" = 600 ]
}

# ---- the SQL: the lab's statements ------------------------------------------------------

@test "the replication step sends the lab's lab_replicate statements" {
	lab=$(lab_sql_of lab_replicate db2 db1 | sql_statements)
	vg=$(vg_replicate_sql "${LAB_IP[db1]}" "$LAB_PW_REPL" | sql_statements)
	[ -n "$lab" ]
	run diff -u <(echo "$lab") <(echo "$vg")
	assert_success
	assert_equal "$(echo "$vg" | head -1)" "SET GLOBAL gtid_slave_pos=@@global.gtid_binlog_pos"
}

@test "the accounts step sends the lab's lab_accounts statements, less the lab's own checksum table" {
	lab=$(lab_sql_of lab_accounts | sql_statements | grep -v "^CREATE TABLE IF NOT EXISTS $LAB_DB.writes ")
	vg=$(vg_accounts_sql /var/lib/ka-mariadb-vagrant/grants.sql "$(vagrant_arg db1 APP_DB)" | sql_statements)
	[ -n "$lab" ]
	run diff -u <(echo "$lab") <(echo "$vg")
	assert_success
	grep -qx "SOURCE grants.sql" <<<"$vg"
}

# ---- render-node and the vars file ------------------------------------------------------

@test "render-node checks keepalived.conf with keepalived -t unless --no-validate" {
	command -v keepalived >/dev/null || skip "keepalived is not installed (make deps)"
	[ "$(id -u)" = 0 ] || skip "keepalived -t needs root"
	vagrant_vars db1 "$BATS_TEST_TMPDIR/db1.vars"
	echo "INTERFACE=ka-absent0" >> "$BATS_TEST_TMPDIR/db1.vars"
	run "$RENDER_NODE" "$BATS_TEST_TMPDIR/db1.vars" "$BATS_TEST_TMPDIR/out"
	assert_failure 78
	assert_output --partial "keepalived -t rejected"
	run "$RENDER_NODE" --no-validate "$BATS_TEST_TMPDIR/db1.vars" "$BATS_TEST_TMPDIR/out"
	assert_success
	assert_output --partial "timing: mysqld failure -> VIP on the peer within"
}

@test "render-node refuses a vars file without a VIP (exit 78, naming it) and writes nothing" {
	vagrant_vars db1 "$BATS_TEST_TMPDIR/db1.vars"
	sed -i '/^VIP=/d' "$BATS_TEST_TMPDIR/db1.vars"
	run "$RENDER_NODE" --no-validate "$BATS_TEST_TMPDIR/db1.vars" "$BATS_TEST_TMPDIR/out"
	assert_failure 78
	assert_output --partial "missing value for 'VIP'"
	[ ! -e "$BATS_TEST_TMPDIR/out/keepalived.conf" ]
	run "$RENDER_NODE" only-one-argument
	assert_failure 64
}

@test "the node's vars file takes the Vagrantfile's values, the VM's paths and the passwords, and refuses a malformed argument" {
	run vg_node_vars "$SECRETS" KIND=db NODE_NAME=db1 KA_BIN=/opt/ka
	assert_success
	assert_line KA_BIN=/opt/ka
	refute_line KA_BIN=/usr/local/libexec/ka-mariadb
	assert_line KA_CNF=/etc/ka-mariadb/ka.cnf
	assert_line "HA_PASSWORD=$LAB_PW_HA"
	run vg_node_vars "$SECRETS" KIND=db "not a value"
	assert_failure
	assert_output --partial "malformed argument 'not a value'"
	run vg_node_vars "$BATS_TEST_TMPDIR/absent" KIND=db
	assert_failure
	assert_output --partial "cannot read the passwords file"
}

@test "the ProxySQL pair renders keepalived-proxysql with its own VIP and router id" {
	local n
	for n in proxysql1 proxysql2; do
		vagrant_vars "$n" "$BATS_TEST_TMPDIR/$n.vars"
		run "$RENDER_NODE" --no-validate "$BATS_TEST_TMPDIR/$n.vars" "$BATS_TEST_TMPDIR/$n"
		assert_success
		assert_output --partial "timing: ProxySQL failure"
		grep -qx '    virtual_router_id 52' "$BATS_TEST_TMPDIR/$n/keepalived.conf"
		grep -qx '        192.0.2.101/24 dev eth1' "$BATS_TEST_TMPDIR/$n/keepalived.conf"
		grep -q -- '--defaults-file /etc/ka-mariadb/proxysql.cnf --timeout 800 --writer-hostgroup 10"$' \
			"$BATS_TEST_TMPDIR/$n/keepalived.conf"
	done
	grep -qx '    state MASTER' "$BATS_TEST_TMPDIR/proxysql1/keepalived.conf"
	grep -qx '    state BACKUP' "$BATS_TEST_TMPDIR/proxysql2/keepalived.conf"
}

@test "vagrant/README.md says how to bring up, drill, inject each lab fault, read the journal, clear a FAULT and tear down" {
	local f=$VG/README.md w
	for w in "vagrant up" "vip-drill" "SIGKILL" "SIGSTOP" "SIGCONT" "keepalived" "setlinkstate" \
		"domif-setlink" "nft" "master-master" "journalctl" "journal.jsonl" "clear-fault" \
		"vagrant destroy -f" "192.0.2.0/24" "libvirt" "VirtualBox"; do
		grep -q -- "$w" "$f" || { echo "README lacks '$w'"; return 1; }
	done
}
