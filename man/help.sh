#!/bin/sh
# help2man runs this in place of a program (cmake/install.cmake gives it the program's name):
# it runs the real program, given first, with help2man's arguments and hands on its output
# marked up the way help2man reads it: "usage:" as "Usage:", each further usage line as
# "  or:", lowercase headings ("options:") capitalised, and an option's description, on the
# line below it, indented past column 20 (so it becomes the option's tagged paragraph). The
# words are the program's own.
set -eu
prog=$1
shift
out=$("$prog" "$@")
printf '%s\n' "$out" | sed -e 's/^usage: /Usage: /' -e 's/^       \(hookwire-\)/  or:  \1/' \
    -e 's/^\([a-z][a-z ()]*\):$/\u\1:/' -e 's/^ \{6,8\}\([^ ]\)/                      \1/'
