#!/bin/sh
# Starts cassinyd in the background where there is no systemd, its output
# appended to LOG_DIR/cassinyd.log. That log holds the ends of containers'
# output, so it is root's and the cassiny group's only: the directory 0750,
# the file 0640, never world-readable, whatever the caller's umask.
#   run-daemon.sh [cassinyd arguments]
# Environment: LOG_DIR (default /var/log/cassiny), CASSINYD (default
# /usr/local/sbin/cassinyd).
set -eu
log_dir=${LOG_DIR:-/var/log/cassiny}
daemon=${CASSINYD:-/usr/local/sbin/cassinyd}
install -d -m 0750 "$log_dir"
chmod 0750 "$log_dir"
touch "$log_dir/cassinyd.log"
chmod 0640 "$log_dir/cassinyd.log"
if getent group cassiny >/dev/null; then
    chgrp cassiny "$log_dir" "$log_dir/cassinyd.log"
fi
umask 027
nohup "$daemon" "$@" >>"$log_dir/cassinyd.log" 2>&1 &
