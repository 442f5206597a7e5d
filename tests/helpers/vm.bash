# shellcheck shell=bash
# vm.bash: the Vagrant tier's helpers (tests/vagrant/*.bats). Boots the lab's db1 and db2 as
# libvirt VMs from the local box (vagrant/tools/build-box), with the host as the client
# (ka-drill through the VIP) and as the witness (a socat listener on the host): two VMs
# prove what four would, on a 2-core machine without KVM.
#
# Everything the run starts is recorded in $VM_DIR and removed by vm_down: the VMs
# (vagrant destroy, then virsh by name), the libvirt networks and daemons the run started
# (by PID; daemons that were already running are left alone), the witness, the state dir.
#
# Settings (environment): KA_VAGRANT_NET (default 198.51.100), KA_VAGRANT_CACHE (box cache,
# default /var/cache/ka-mariadb/vagrant), KA_VAGRANT_STATE (default /var/tmp/ka-vagrant-tier).

VM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_DIR=${KA_VAGRANT_STATE:-/var/tmp/ka-vagrant-tier}
VM_CACHE=${KA_VAGRANT_CACHE:-/var/cache/ka-mariadb/vagrant}
VM_NET=${KA_VAGRANT_NET:-198.51.100}
VM_PREFIX=ka-t-
VM_WITNESS_PORT=17007
VM_VIP=$VM_NET.100
VM_DB=ka_lab
# shellcheck disable=SC2034 # used by failover.bats
VM_UP_TIMEOUT=2400          # s for `vagrant up` of both VMs
declare -gA VM_IP=([db1]=$VM_NET.11 [db2]=$VM_NET.12)
VIRSH=(virsh -q -c qemu:///system)

vm_log() { printf 'vagrant-tier %s: %s\n' "$(date +%T)" "$*" >&2; }

# The environment of every vagrant command of the tier.
vm_env() {
	env VAGRANT_HOME="$VM_CACHE/home" VAGRANT_DOTFILE_PATH="$VM_DIR/dot" \
		VAGRANT_DEFAULT_PROVIDER=libvirt VAGRANT_CHECKPOINT_DISABLE=1 \
		KA_VAGRANT_BOX="$(cat "$VM_DIR/box" 2>/dev/null)" KA_VAGRANT_MACHINES=db1,db2 \
		KA_VAGRANT_NET="$VM_NET" KA_VAGRANT_TIMING="${KA_VAGRANT_TIMING:-slow}" KA_VAGRANT_WITNESS="$VM_NET.1:$VM_WITNESS_PORT" \
		KA_VAGRANT_BINARIES="$KA_BIN" KA_VAGRANT_PREFIX="$VM_PREFIX" \
		KA_VAGRANT_KERNEL="$VM_CACHE/$(cat "$VM_DIR/box" 2>/dev/null)" "$@"
}

# vagrant ARGS... in vagrant/, with the tier's environment, for up to $VM_TIMEOUT s (600).
vm_vagrant() { (cd "$VM_REPO/vagrant" && vm_env timeout -k 10 "${VM_TIMEOUT:-600}" vagrant "$@"); }

# Why this machine cannot run the tier (empty when it can).
vm_missing() {
	local c b
	[ "$(id -u)" = 0 ] || { echo "needs root (libvirt daemons, loop devices)"; return; }
	for c in vagrant virsh libvirtd virtlogd qemu-system-x86_64 qemu-img mmdebstrap socat jq; do
		command -v "$c" >/dev/null || { echo "$c is not installed (vagrant/tools/host-deps)"; return; }
	done
	for b in ka-drill ka-check-mariadb ka-notify-mariadb; do
		[ -x "$KA_BIN/$b" ] || { echo "no $KA_BIN/$b (make BUILD=...)"; return; }
	done
}

# Seconds since the epoch; records "STEP SECONDS" in $VM_DIR/timings.
vm_now() { date +%s; }
vm_timing() { echo "$1 $2" >> "$VM_DIR/timings"; vm_log "$1: $2 s"; }

# ---- libvirt daemons --------------------------------------------------------------------

# Starts virtlogd and libvirtd unless they run (no systemd as PID 1 here); records the PIDs
# of those it started in $VM_DIR/started.
vm_daemons_up() {
	mkdir -p /run/libvirt
	if ! pgrep -x virtlogd >/dev/null; then
		virtlogd -d -p "$VM_DIR/virtlogd.pid" || return 1
		vm_wait_file "$VM_DIR/virtlogd.pid" || return 1
		echo "virtlogd $(cat "$VM_DIR/virtlogd.pid")" >> "$VM_DIR/started"
	fi
	if ! "${VIRSH[@]}" version >/dev/null 2>&1; then
		libvirtd -d -p "$VM_DIR/libvirtd.pid" || return 1
		vm_wait_file "$VM_DIR/libvirtd.pid" || return 1
		echo "libvirtd $(cat "$VM_DIR/libvirtd.pid")" >> "$VM_DIR/started"
		for _ in $(seq 60); do
			"${VIRSH[@]}" version >/dev/null 2>&1 && return 0
			sleep 0.5
		done
		vm_log "libvirtd does not answer"
		return 1
	fi
}

vm_wait_file() {
	for _ in $(seq 50); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# True when this run started the daemon NAME.
vm_started() { grep -q "^$1 " "$VM_DIR/started" 2>/dev/null; }

# Stops the daemons this run started, by their recorded PID (libvirtd first).
vm_daemons_down() {
	local name pid
	for name in libvirtd virtlogd; do
		pid=$(sed -n "s/^$name //p" "$VM_DIR/started" 2>/dev/null) || true
		[ -n "$pid" ] || continue
		# Only the recorded process itself, never a PID reused since.
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || continue
		kill "$pid" 2>/dev/null || continue
		vm_wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
	done
	return 0
}

vm_wait_gone() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# ---- the witness on the host ------------------------------------------------------------

# A TCP listener on the host (every address, so also the libvirt bridge's $VM_NET.1 once
# vagrant has made it) that sends a banner line and closes, as the lab's ka-witness.
vm_witness_up() {
	socat TCP-LISTEN:$VM_WITNESS_PORT,fork,reuseaddr "EXEC:echo SSH-2.0-ka-vagrant-witness" \
		</dev/null >/dev/null 2>&1 3>&- &
	echo $! > "$VM_DIR/witness.pid"
	disown $! 2>/dev/null || true
}

vm_witness_down() {
	local pid
	pid=$(cat "$VM_DIR/witness.pid" 2>/dev/null) || return 0
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = socat ] && kill "$pid" 2>/dev/null && vm_wait_gone "$pid" 5
	rm -f "$VM_DIR/witness.pid"
	return 0
}

# ---- the VMs ----------------------------------------------------------------------------

# Writes $VM_DIR/ssh-config for plain ssh (vagrant ssh costs seconds per call).
vm_ssh_config() { vm_vagrant ssh-config db1 db2 > "$VM_DIR/ssh-config"; }

# Runs a command on NODE as root.
vm_ssh() {
	local node=$1
	shift
	timeout -k 2 "${VM_SSH_TIMEOUT:-60}" ssh -F "$VM_DIR/ssh-config" -o LogLevel=ERROR "$node" sudo "$@"
}

# SQL on NODE's local server as root (-N -B).
vm_sql() { vm_ssh "$1" mariadb -N -B -e "\"$2\""; }

vm_has_vip() { vm_ssh "$1" ip -4 -o addr show dev eth1 | grep -q " $VM_VIP/"; }

# "io sql master_host" of NODE's replication, or "none".
vm_replication() {
	vm_ssh "$1" mariadb -e "'SHOW SLAVE STATUS\G'" | awk '/ Master_Host:/ { h = $2 }
		/ Slave_IO_Running:/ { io = $2 } / Slave_SQL_Running:/ { sql = $2 }
		END { print (h == "" ? "none" : io " " sql " " h) }'
}

# Polls "$@" every 2 s for up to LIMIT seconds.
vm_wait_for() {
	local limit=$1 end
	shift
	end=$(($(vm_now) + limit))
	until "$@"; do
		[ "$(vm_now)" -lt "$end" ] || return 1
		sleep 2
	done
}

# db1 is a read-only replica of db2 with both threads running.
vm_db1_rejoined() {
	[ "$(vm_sql db1 'SELECT @@global.read_only' 2>/dev/null)" = 1 ] &&
		[ "$(vm_replication db1 2>/dev/null)" = "Yes Yes ${VM_IP[db2]}" ]
}

# The application account's option file on the host (the passwords of vagrant/.secrets).
vm_app_cnf() {
	local pw
	pw=$(sed -n 's/^APP_PASSWORD=//p' "$VM_REPO/vagrant/.secrets")
	[ -n "$pw" ] || return 1
	printf '[client]\nuser=app\npassword=%s\n' "$pw" > "$VM_DIR/app.cnf"
	chmod 600 "$VM_DIR/app.cnf"
}

# ka-drill on the host through the VIP, verified on both db nodes, in the background.
vm_drill_start() {
	local rate=$1 duration=$2
	"$KA_BIN/ka-drill" --hosts "$VM_VIP:3306" --defaults-file "$VM_DIR/app.cnf" \
		--database "$VM_DB" --rate "$rate" --duration "$duration" \
		--timeout 5000 --failover-timeout 60000 \
		--verify-hosts "${VM_IP[db1]}:3306,${VM_IP[db2]}:3306" --json \
		>"$VM_DIR/drill.json" 2>"$VM_DIR/drill.err" </dev/null 3>&- &
	echo $! > "$VM_DIR/drill.pid"
	disown $! 2>/dev/null || true
}

# Waits up to LIMIT s for the drill to end (then interrupts it); prints its JSON.
vm_drill_wait() {
	local pid
	pid=$(cat "$VM_DIR/drill.pid")
	if ! vm_wait_gone "$pid" "$1"; then
		vm_log "ka-drill did not finish in time; interrupting it"
		kill -INT "$pid" 2>/dev/null
		vm_wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$VM_DIR/drill.pid"
	cat "$VM_DIR/drill.json"
}

# Removes everything the tier made: the drill, the VMs (vagrant destroy, then by name),
# the networks (all of them when this run started libvirtd, else ka-mariadb when no other
# domain uses it), the daemons the run started, the witness, the state dir. Idempotent.
vm_down() {
	local pid d n
	pid=$(cat "$VM_DIR/drill.pid" 2>/dev/null) && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ka-drill ] &&
		kill -KILL "$pid" 2>/dev/null
	if "${VIRSH[@]}" version >/dev/null 2>&1; then
		[ -d "$VM_DIR/dot" ] && vm_vagrant destroy -f >&2
		for d in $("${VIRSH[@]}" list --all --name | grep "^$VM_PREFIX"); do
			vm_log "removing the leftover domain $d"
			"${VIRSH[@]}" destroy "$d" >/dev/null 2>&1
			"${VIRSH[@]}" undefine "$d" --remove-all-storage >/dev/null 2>&1
		done
		for n in $("${VIRSH[@]}" net-list --all --name); do
			if vm_started libvirtd || { [ "$n" = ka-mariadb ] && [ -z "$("${VIRSH[@]}" list --all --name)" ]; }; then
				"${VIRSH[@]}" net-destroy "$n" >/dev/null 2>&1
				[ "$n" = default ] || "${VIRSH[@]}" net-undefine "$n" >/dev/null 2>&1
			fi
		done
	fi
	vm_daemons_down
	vm_witness_down
	if [ -f "$VM_DIR/secrets-made" ]; then rm -f "$VM_REPO/vagrant/.secrets"; fi
	rm -rf "$VM_DIR"
	return 0
}
