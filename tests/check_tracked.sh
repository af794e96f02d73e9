#!/bin/sh
# Fails when git tracks editor, patch or autoconf backup files (*~, *.orig,
# *.rej): they are build or editing leftovers, never sources. Only in a git
# checkout whose top is this source tree; a release tarball (make distcheck)
# has no index to check and skips (77).
top=$(cd "${srcdir:-.}" && pwd -P) || exit 1
command -v git >/dev/null 2>&1 || { echo "git not found: skipped"; exit 77; }
gtop=$(git -C "$top" rev-parse --show-toplevel 2>/dev/null) || {
    echo "not a git checkout: skipped"
    exit 77
}
if [ "$(cd "$gtop" && pwd -P)" != "$top" ]; then
    echo "$top is not the top of a git checkout: skipped"
    exit 77
fi
bad=$(git -C "$top" ls-files -- '*~' '*.orig' '*.rej')
if [ -n "$bad" ]; then
    echo "git tracks backup files; remove them with git rm (.gitignore has *~):"
    echo "$bad"
    exit 1
fi
echo "no backup files tracked"
