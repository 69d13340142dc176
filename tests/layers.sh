#!/bin/sh
# The layering rules of common/, checked on the source tree (ctest label "lint"):
#  - only net/ (and the programs) include libwebsockets.h: core, http, tunnel,
#    sig and store stay free of it;
#  - a layer's internal headers are included only from inside that layer
#    (the exceptions: white-box unit tests named tests/unit/test_LAYER_*.c, such
#    as sig's, which look into struct hw_sig_source to prove secrets are wiped);
#  - a layer includes only the layers below it (docs/architecture.md).
# Prints every violation as file:line and exits 1 if there is one.
set -u
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
bad=0

report() {
    printf '%s\n' "$1"
    bad=1
}

for layer in core http tunnel sig store; do
    for hit in $(grep -n 'include *<libwebsockets.h>' common/$layer/*.[ch] 2>/dev/null |
                 cut -d: -f1,2); do
        report "$hit: common/$layer must not include libwebsockets.h"
    done
done

# Internal headers: name, the folder that owns it (every LAYER/*_int.h is one).
for pair in store/store_backend.h store/store_mysql.h store/store_mysql_row.h \
            store/store_sqlite.h store/store_queue.h store/store_schema.h store/store_handle.h \
            sig/sig_source.h sig/sig_providers.h sig/sig_twilio.h \
            net/http_reader.h net/http_answer.h net/http_conn.h net/http_pace.h \
            $(cd common && ls */*_int.h 2>/dev/null); do
    owner=${pair%%/*}
    name=${pair#*/}
    for hit in $(grep -rn --include='*.[ch]' "#include \"\(.*/\)\?$name\"" \
                 common relay agent receiver replay bench tests 2>/dev/null |
                 grep -v "^common/$owner/" | grep -v "^tests/unit/test_${owner}_" |
                 cut -d: -f1,2); do
        report "$hit: $pair is internal to common/$owner"
    done
done

# Which layers each layer may include.
allowed() {
    case $1 in
    core) echo "core" ;;
    http | tunnel | store) echo "core $1" ;;
    sig) echo "core http sig" ;;
    net) echo "core http tunnel net" ;;
    esac
}
for layer in core http tunnel sig store net; do
    ok=$(allowed $layer)
    grep -n '#include "[a-z]*/' common/$layer/*.[ch] 2>/dev/null |
        sed 's/^\([^:]*:[0-9]*\):#include "\([a-z]*\)\/.*/\1 \2/' |
        while read -r where dep; do
            case " $ok " in
            *" $dep "*) ;;
            *) echo "$where: common/$layer must not include the $dep layer" ;;
            esac
        done
done >/tmp/layers.$$
if [ -s /tmp/layers.$$ ]; then
    cat /tmp/layers.$$
    bad=1
fi
rm -f /tmp/layers.$$

[ $bad = 0 ] && echo "layers: ok"
exit $bad
