#!/bin/bash
# witness.sh: provisions the witness VM, the lab's ka-witness namespace on a real machine: a
# TCP listener on NODE_IP:WITNESS_PORT that sends a banner line and closes (socat, as
# lab_witness_up): ka-check-mariadb counts a witness only when it sends a byte.
# ka-check-mariadb --witness on the db nodes connects to it: a primary that reaches no
# witness gives up the VIP (exit 10), so an isolated db1 steps down (scenario 6b).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
	local changed=0
	vg_write_node_vars "$@"
	[ "${V[KIND]:-}" = witness ] || vg_die "witness.sh is for KIND=witness nodes, got '${V[KIND]:-}'"
	vg_check_interface
	vg_apt_install socat
	vg_write_file /etc/systemd/system/ka-witness.service 0644 <<UNIT && changed=1
# ka-mariadb witness (vagrant/provision/witness.sh): accepts TCP on ${V[NODE_IP]}:${V[WITNESS_PORT]}
# sends a banner line and closes, for ka-check-mariadb --witness on the db nodes.
[Unit]
Description=ka-mariadb witness: TCP ${V[NODE_IP]}:${V[WITNESS_PORT]} for ka-check-mariadb --witness
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/bin/socat TCP-LISTEN:${V[WITNESS_PORT]},bind=${V[NODE_IP]},fork,reuseaddr "EXEC:echo SSH-2.0-ka-lab-witness"
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
UNIT
	systemctl daemon-reload
	systemctl enable --quiet ka-witness
	if [ $changed = 1 ]; then systemctl restart ka-witness; else systemctl start ka-witness; fi
	vg_wait_for 30 "the witness listening on ${V[NODE_IP]}:${V[WITNESS_PORT]}" witness_listening ||
		vg_die "ka-witness does not listen: $(systemctl status ka-witness --no-pager 2>&1 | tail -5)"
	vg_log "witness listening on ${V[NODE_IP]}:${V[WITNESS_PORT]}"
}

witness_listening() { ss -Hltn "sport = :${V[WITNESS_PORT]}" | grep -q "${V[NODE_IP]}:${V[WITNESS_PORT]}"; }

main "$@"
