#!/bin/sh
# Checks that tests/CMakeLists.txt lists every unit test, e2e test and fuzz
# harness in the tree, and that every name it lists has its file: the lists
# are explicit, so a new test file must be added there to run. Exit 1 on a
# difference, printing it.
set -u
root=${1:-$(dirname "$0")/..}
cd "$root/tests" || exit 2
lists=$(sed -n '/^set(HW_\(UNIT_TESTS\|E2E_TESTS\|FUZZ_TARGETS\)/,/)/p' CMakeLists.txt |
        tr ' ()' '\n\n\n' | grep -E '^(test_|fuzz_|[0-9][0-9]-)' | sort)
files=$( (ls unit/test_*.c fuzz/fuzz_*.c e2e/[0-9][0-9]-*.py) 2>/dev/null |
        sed 's#.*/##; s#\.c$##; s#\.py$##' | sort)
if [ "$lists" != "$files" ]; then
    echo "tests/CMakeLists.txt lists and the test files differ (< listed only, > file only):"
    printf '%s\n' "$lists" >/tmp/listed.$$
    printf '%s\n' "$files" | diff /tmp/listed.$$ - | grep '^[<>]'
    rm -f /tmp/listed.$$
    exit 1
fi
echo "listed: ok"
