#!/bin/sh
# Checks the man pages against what the programs and schemas say, so that a
# page cannot fall behind them:
#  - man --warnings -l prints nothing for each page;
#  - cassiny-spec(5) has an entry for every property path of every kind's
#    schema, in that kind's section; cassinyd.yaml(5) one for every key of
#    the config schema and every key the daemon's code reads by name;
#  - every verb in cassinyctl's usage is in cassinyctl(1), each verb's
#    flags (cassinyctl __complete, built from the table the verbs parse
#    with) in its entry, and the options before the verb under OPTIONS;
#  - every option cassinyd --help lists is under OPTIONS in cassinyd(8);
#  - the default paths the programs print are the ones the pages give;
#  - the examples in the pages are accepted (cassinyctl validate, cassinyd
#    --check-config).
# Run by make check from the build directory (srcdir set); CASS_MAN_DIR
# names another directory of pages to check. Ends with
# "man-pages: N passed, M failed".
set -u
srcdir=${srcdir:-.}
build=$(pwd)
ctl=$build/cli/cassinyctl
daemon=$build/daemon/cassinyd
pages="cassinyctl.1 cassinyd.8 cassiny-spec.5 cassinyd.yaml.5"
for tool in man jq col; do
    command -v $tool >/dev/null 2>&1 || { echo "$tool not found: skipped"; exit 77; }
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

page_path() {
    if [ -n "${CASS_MAN_DIR:-}" ]; then
        echo "$CASS_MAN_DIR/$1"
    elif [ -f "$build/docs/man/$1" ]; then
        echo "$build/docs/man/$1"
    else
        echo "$srcdir/docs/man/$1"
    fi
}

# The page as text: wide, not hyphenated nor justified, no overstrikes.
render() { MANWIDTH=1000 man --nh --nj -l "$1" 2>/dev/null | col -bx; }

# Lines of section $2 (a heading at column 0) of the text file $1.
section() { awk -v s="$2" '/^[A-Z]/ { on = ($0 == s) } on' "$1"; }

# The entry words: the first word of each line that starts an entry (a
# field, a verb, an option), from section text on stdin.
entry_words() { sed -n 's/^ \{7\}\([^ ].*\)$/\1/p' | sed 's/[ ,]\{1,\}/\n/g'; }

for p in $pages; do
    f=$(page_path "$p")
    if [ ! -f "$f" ]; then
        fail "$p: not found ($f)"
        continue
    fi
    # Wide enough for the default paths substituted in (a distcheck prefix
    # makes them long, and a path does not break): the pages' own text is
    # checked at 80 columns when they hold short paths.
    width=80
    longest=$(grep -ohE '/[^ ]+' "$f" | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')
    [ "$longest" -gt 50 ] && width=$((longest + 40))
    w=$(MANWIDTH=$width man --warnings -l "$f" 2>&1 >/dev/null)
    if [ -z "$w" ]; then ok "$p: man --warnings is silent"; else fail "$p: man --warnings: $w"; fi
    render "$f" >"$tmp/$p.txt"
    left=$(grep -oE '@[A-Z]+@' "$tmp/$p.txt" | sort -u | tr '\n' ' ')
    if [ -z "$left" ]; then ok "$p: no placeholder left"; else fail "$p: placeholders left: $left"; fi
done

# Every property path of a schema, "$ref" followed ("[]" for list items).
schema_paths() {
    jq -r --slurpfile common "$srcdir/schemas/common.schema.json" '
        def deref: if has("$ref") then
                (.["$ref"] | sub("^common.schema.json"; "") | ltrimstr("#/$defs/")) as $d
                | ($common[0]["$defs"][$d] + del(.["$ref"])) | deref
            else . end;
        def walk_props($p): deref
            | ((.properties // {}) | to_entries[]
                | ($p + .key) as $q | $q, (.value | walk_props($q + "."))),
              (if .items then (.items | walk_props($p | rtrimstr(".") | . + "[].")) else empty end);
        walk_props("")' "$srcdir/schemas/$1" | sort -u
}

# covered WANT HAVE MIN WHAT: every line of the file WANT is a line of HAVE,
# and WANT has at least MIN lines (an empty list proves nothing).
covered() {
    sort -u "$1" >"$tmp/want"
    sort -u "$2" >"$tmp/have"
    missing=$(comm -23 "$tmp/want" "$tmp/have" | tr '\n' ' ')
    n=$(wc -l <"$tmp/want")
    if [ "$n" -ge "$3" ] && [ -z "$missing" ]; then
        ok "$4 (all $n)"
    else
        fail "$4: missing: ${missing:-(only $n to check)}"
    fi
}

# The paths of the field entries ("PATH (TYPE)") in section $2 of page $1.
field_entries() { section "$tmp/$1.txt" "$2" | sed -n 's/^ \{7\}\([^ ]*\) (.*)$/\1/p'; }

# check_fields SCHEMA PAGE SECTION: every path of the schema has an entry there.
check_fields() {
    schema_paths "$1" >"$tmp/paths" || { fail "$1: jq failed"; return; }
    field_entries "$2" "$3" >"$tmp/entries"
    covered "$tmp/paths" "$tmp/entries" 1 "$2: $3 has an entry for each field of $1"
}
check_fields notebook.schema.json cassiny-spec.5 NOTEBOOK
check_fields job.schema.json cassiny-spec.5 JOB
check_fields model.schema.json cassiny-spec.5 MODEL
check_fields config.schema.json cassinyd.yaml.5 KEYS

# Keys the daemon reads by name (accessor calls, and the flags' keys), all
# under KEYS in cassinyd.yaml(5).
{
    grep -ohE '(cass_(daemon_config_[a-z_]+|cfg_get)\([^"]*|json_object_get\(cfg, )"[^"]+"' \
        "$srcdir"/daemon/*.c "$srcdir"/api/*.c | sed 's/.*"\([^"]*\)"$/\1/'
    "$daemon" --help | sed -n 's/.*(config key \([^),]*\)[),].*/\1/p'
} >"$tmp/read-keys"
field_entries cassinyd.yaml.5 KEYS >"$tmp/entries"
covered "$tmp/read-keys" "$tmp/entries" 6 "cassinyd.yaml.5: KEYS has each key the daemon reads by name"

# cassinyctl: the verbs of its usage, each verb's flags in its entry, the
# options before the verb under OPTIONS.
"$ctl" --help | awk '/^Verbs:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' \
    >"$tmp/verbs"
"$ctl" __complete verbs | cmp -s - "$tmp/verbs" ||
    fail "cassinyctl: --help and __complete verbs list different verbs"
section "$tmp/cassinyctl.1.txt" VERBS | sed -n 's/^ \{7\}\([a-z][^ ]*\).*/\1/p' >"$tmp/verb-entries"
covered "$tmp/verbs" "$tmp/verb-entries" 6 "cassinyctl.1: VERBS has an entry for each verb of the usage"
"$ctl" __complete flags >"$tmp/global-flags"
missing=
for v in $(cat "$tmp/verbs"); do
    # The verb's entry: from its line to the next verb's.
    section "$tmp/cassinyctl.1.txt" VERBS |
        awk -v v="$v" '/^       [a-z]/ { split($0, w, " "); on = (w[1] == v) } on' >"$tmp/entry"
    for fl in $("$ctl" __complete flags "$v"); do
        grep -qxF -e "$fl" "$tmp/global-flags" && continue
        grep -qE -e "(^|[^-a-z])$fl([^-a-z]|\$)" "$tmp/entry" || missing="$missing $v:$fl"
    done
done
if [ -z "$missing" ]; then
    ok "cassinyctl.1: every verb's flags are in its entry"
else
    fail "cassinyctl.1: flags missing from their verb's entry:$missing"
fi
section "$tmp/cassinyctl.1.txt" OPTIONS | entry_words >"$tmp/opt-words"
covered "$tmp/global-flags" "$tmp/opt-words" 4 "cassinyctl.1: OPTIONS has each option before the verb"

# cassinyd: every option of --help under OPTIONS.
"$daemon" --help | grep -oE '(^|[ ,])--?[A-Za-z][-A-Za-z]*' | tr -d ' ,' >"$tmp/d-opts"
section "$tmp/cassinyd.8.txt" OPTIONS | entry_words >"$tmp/opt-words"
covered "$tmp/d-opts" "$tmp/opt-words" 6 "cassinyd.8: OPTIONS has each option of cassinyd --help"

# The default paths the programs print.
cfg=$("$daemon" --help | sed -n 's/.*(default \([^ ]*\) if present).*/\1/p')
sock=$("$ctl" --help | sed -n 's|.*else unix://\([^;]*\);.*|\1|p')
if [ -n "$cfg" ] && grep -qF "$cfg" "$tmp/cassinyd.8.txt" && grep -qF "$cfg" "$tmp/cassinyd.yaml.5.txt" &&
    [ -n "$sock" ] && grep -qF "unix://$sock" "$tmp/cassinyctl.1.txt"; then
    ok "the pages give the default paths the programs use ($cfg, $sock)"
else
    fail "default paths: cassinyd --help says ${cfg:-?}, cassinyctl --help ${sock:-?}; not both in the pages"
fi

# The examples: a section's indented block, its indentation removed.
example() {
    section "$1" "$2" | sed 1d | awk 'NF' |
        awk '{ match($0, /^ */); if (n == "" || RLENGTH < n) n = RLENGTH; l[NR] = $0 }
             END { for (i = 1; i <= NR; i++) print substr(l[i], n + 1) }'
}
example "$tmp/cassiny-spec.5.txt" SYNOPSIS >"$tmp/spec.yaml"
if [ -s "$tmp/spec.yaml" ] && out=$("$ctl" validate -f "$tmp/spec.yaml" 2>&1); then
    ok "cassiny-spec.5: the SYNOPSIS spec is valid"
else
    fail "cassiny-spec.5: the SYNOPSIS spec: ${out:-empty}"
fi
section "$tmp/cassinyd.yaml.5.txt" EXAMPLE | sed 1d | awk 'NF' >"$tmp/raw"
example "$tmp/cassinyd.yaml.5.txt" EXAMPLE >"$tmp/cfg.yaml"
if [ -s "$tmp/cfg.yaml" ] && out=$("$daemon" --check-config --config "$tmp/cfg.yaml" 2>&1 >/dev/null); then
    ok "cassinyd.yaml.5: the EXAMPLE is a valid config"
else
    fail "cassinyd.yaml.5: the EXAMPLE: ${out:-empty}"
fi

echo "man-pages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
