#!/bin/sh
# The built-in paths follow configure's --sysconfdir, --localstatedir and
# --runstatedir (Makefile.am exports them as CASS_*DIR): cassinyd's help,
# its resolved default config and cassinyctl's help say them.
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
sock="$CASS_RUNSTATEDIR/cassiny/cassiny.sock"
state="$CASS_LOCALSTATEDIR/lib/cassiny"
conf="$CASS_SYSCONFDIR/cassiny/cassinyd.yaml"
has() { # has WHAT FILE TEXT
    if grep -qF -- "$3" "$2"; then
        echo "ok - $1 says $3"
    else
        echo "not ok - $1 does not say $3:"
        cat "$2"
        fail=1
    fi
}
./daemon/cassinyd --help >"$tmp/d.txt" 2>&1 || { echo "not ok - cassinyd --help failed"; fail=1; }
has "cassinyd --help" "$tmp/d.txt" "(default $conf if present)"
has "cassinyd --help" "$tmp/d.txt" "default $state)"
has "cassinyd --help" "$tmp/d.txt" "default $sock)"
: >"$tmp/empty.yaml"
./daemon/cassinyd --config "$tmp/empty.yaml" --check-config >"$tmp/c.json" 2>&1 ||
    { echo "not ok - cassinyd --check-config failed"; fail=1; }
has "cassinyd --check-config" "$tmp/c.json" "\"socket\": \"$sock\""
has "cassinyd --check-config" "$tmp/c.json" "\"stateDir\": \"$state\""
env -u CASSINY_HOST ./cli/cassinyctl --help >"$tmp/c.txt" 2>&1
has "cassinyctl --help" "$tmp/c.txt" "unix://$sock"
exit $fail
