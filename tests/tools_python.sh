#!/bin/sh
# tools_python.sh: the Python package (tools/python/moee/) against this build's
# libmoee.so: pytest on tests/python/ under /usr/bin/python3 with Debian's
# python3-numpy and python3-pytest (.ci/run installs them). ($1 = the moee binary.)
#
# The sanitizer build makes no libmoee.so (a Python process would need the ASan
# runtime preloaded), so there this test is skipped: it reports 0 passed, 0 failed.
MOEE=${1:-./moee}
LIB=$(dirname "$MOEE")/libmoee.so
PY=/usr/bin/python3
if [ ! -e "$LIB" ]; then
    echo "tools_python.sh: skipped (no $LIB: the sanitizer build makes none)"
    echo "tools_python.sh: 0 passed, 0 failed"
    exit 0
fi
if ! "$PY" -c 'import numpy, pytest' 2>/dev/null; then
    echo "tools_python.sh: $PY lacks numpy or pytest (apt-get install python3-numpy python3-pytest)"
    echo "tools_python.sh: 0 passed, 1 failed"
    exit 1
fi
DIR=$(mktemp -d /tmp/moee-python-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
out=$(MOEE="$MOEE" MOEE_LIBRARY="$LIB" PYTHONDONTWRITEBYTECODE=1 \
      "$PY" -m pytest -q -p no:cacheprovider --basetemp="$DIR" tests/python 2>&1); rc=$?
printf '%s\n' "$out"
summary=$(printf '%s\n' "$out" | tail -n 1)
count() { printf '%s' "$summary" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
passed=$(count passed)
failed=$(( $(count failed) + $(count error) ))
[ "$rc" -eq 0 ] || [ "$failed" -ne 0 ] || failed=1
echo "tools_python.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
