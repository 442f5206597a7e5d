#!/bin/bash
# client.sh: provisions the client VM, the lab's ka-client namespace on a real machine:
# the mariadb client, ka-drill (built here like on the db nodes), the application account's
# option file, and vip-drill, which runs ka-drill through the VIP as the lab's
# lab_drill_start does and verifies on both db nodes.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

APP_CNF=/etc/ka-mariadb/app.cnf

main() {
	local verify out
	vg_write_node_vars "$@"
	[ "${V[KIND]:-}" = client ] || vg_die "client.sh is for KIND=client nodes, got '${V[KIND]:-}'"
	vg_check_interface
	vg_apt_install mariadb-client jq
	vg_install_binaries
	# The application account (grants.sql: app@APP_NET), readable by the vagrant user only.
	vg_write_file "$APP_CNF" 0600 vagrant:vagrant <<CNF || true
# The application account of the ka-mariadb lab (grants.sql), for ka-drill and mariadb.
[client]
user=app
password=${V[APP_PASSWORD]}
CNF
	verify=$(printf '%s' "${V[DB_IPS]}" | sed 's/\([^,]*\)/\1:3306/g')
	vg_write_file /usr/local/bin/vip-drill 0755 <<SH || true
#!/bin/sh
# vip-drill: ka-drill writing through the VIP ${V[VIP]}:3306 as the application account,
# verifying at the end on both db nodes (${V[DB_IPS]}). Add --rate N --duration S --json ...
# Written by vagrant/provision/client.sh.
exec ${V[KA_BIN]}/ka-drill --hosts ${V[VIP]}:3306 --defaults-file $APP_CNF \\
	--database ${V[APP_DB]} --verify-hosts $verify "\$@"
SH
	ln -sf "${V[KA_BIN]}/ka-drill" /usr/local/bin/ka-drill
	if out=$(timeout 10 mariadb --defaults-file="$APP_CNF" -h "${V[VIP]}" -P 3306 \
		--connect-timeout=3 -N -B -e 'SELECT @@server_id, @@read_only' 2>&1); then
		vg_log "through the VIP ${V[VIP]}: server_id and read_only $out"
	else
		vg_log "the VIP ${V[VIP]} does not answer yet ($out): bring db1 and db2 up"
	fi
	vg_log "ready: vagrant ssh client -c 'vip-drill --rate 50 --duration 60'"
}

main "$@"
