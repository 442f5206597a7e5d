# Planned switchovers on the namespace lab (tests/lab/10-switchover.bats, bench/switchover).
# Needs tests/helpers/lab.bash loaded first.

# The notify command keepalived runs on NODE (from its rendered keepalived.conf), without
# the event word: the options an operator passes to a switchover on that node.
so_notify_cmd() {
	grep -o '"[^"]*/ka-notify-mariadb [^"]*"' "$LAB_DIR/$1/keepalived.conf" | head -1 |
		sed -e 's/^"//' -e 's/"$//' -e 's/ \(master\|backup\|fault\|stop\|--fifo\)$//'
}

# Runs `ka-notify-mariadb ... switchover ARGS` on NODE, as an operator would there; its
# output on stdout, its exit code returned. Bounded (the switchover bounds itself well
# below this).
so_run() {
	local n=$1 cmd
	shift
	cmd=$(so_notify_cmd "$n") || return 78
	[ -n "$cmd" ] || { lab_log "no notify command in $n's keepalived.conf"; return 78; }
	# shellcheck disable=SC2086 # the command is split into its words on purpose
	timeout -k 5 120 ip netns exec "ka-$n" $cmd switchover "$@" </dev/null 3>&-
}

# One switchover from the VIP holder under a ka-drill round of RATE writes/s: the drill
# runs DURATION s, the switchover starts 2 s in. Checks what the issue asks of each: exit
# 0, the VIP and the writes on the other node, the drill verified (none lost or
# duplicated), the former primary replicating from the new one, equal checksums once the
# drill ended. Prints "FROM TO WRITE_PAUSE_MS OUTAGE_MS VIP_MS" (VIP_MS: from the start
# of the switchover to the VIP seen on the new primary). Fails, saying why, otherwise.
so_round() {
	local rate=${1:-50} duration=${2:-8} from to out rc json pause t0 t_vip sp
	from=$(lab_vip_holder)
	case $from in db1|db2) ;; *) lab_log "no single VIP holder ($from)"; return 1 ;; esac
	to=$(lab_peer "$from")
	lab_drill_start "$rate" "$duration" 2>/dev/null
	sleep 2
	t0=$(lab_now_ms)
	so_run "$from" --json > "$LAB_DIR/switchover.json" &
	sp=$!
	t_vip=-1
	while [ "$(lab_now_ms)" -lt $((t0 + 30000)) ] && kill -0 "$sp" 2>/dev/null; do
		if lab_has_vip "$to"; then t_vip=$(($(lab_now_ms) - t0)); break; fi
		sleep 0.02
	done
	rc=0
	wait "$sp" || rc=$?
	out=$(cat "$LAB_DIR/switchover.json")
	json=$(lab_drill_wait 60)
	if [ "$rc" != 0 ]; then
		lab_log "switchover $from -> $to: exit $rc: $(jq -r '.decision + ": " + .reason' <<<"$out" 2>/dev/null || echo "$out")"
		return 1
	fi
	pause=$(jq -r '.write_pause_ms' <<<"$out")
	[ "$(lab_vip_holder)" = "$to" ] || { lab_log "VIP on '$(lab_vip_holder)', not $to"; return 1; }
	[ "$(lab_writable)" = "$to" ] || { lab_log "writable: '$(lab_writable)', not $to"; return 1; }
	lab_is_replica_of "$from" "$to" || { lab_log "$from does not replicate from $to"; return 1; }
	lab_drill_verified "$json" || return 1
	[ "$(lab_drill_last_server_id "$json")" = "${LAB_IP[$to]##*.}" ] ||
		{ lab_log "the drill's last writes went to server $(lab_drill_last_server_id "$json")"; return 1; }
	lab_wait_synced "$from" "$to" 30 >/dev/null || { lab_log "$from never synced"; return 1; }
	lab_no_errant "$from" "$to" || { lab_log "$from holds errant GTIDs"; return 1; }
	lab_checksums_equal "$from" "$to" || return 1
	echo "$from $to $pause $(lab_drill_outage_ms "$json") $t_vip"
}
