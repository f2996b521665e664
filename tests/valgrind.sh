#!/bin/sh
# tests/valgrind.sh - runs one test program under valgrind (make check-valgrind).
#
# $VALGRIND_TOOL picks the tool: memcheck (default), where any memory error or
# definite leak fails the test, or drd, where any data race or lock misuse does
# (exit 99, automake's hard error).
# Children are traced, so the ./modvm processes the cli tests start are checked too;
# the shell helpers the tests call (cp, mkdir) are not ours and are skipped.
# CK_FORK=no runs libcheck tests in-process, so each error is reported where it happens.
here=$(cd "$(dirname "$0")" && pwd)
CK_FORK=no CK_DEFAULT_TIMEOUT=600
export CK_FORK CK_DEFAULT_TIMEOUT
case "${VALGRIND_TOOL:-memcheck}" in
memcheck)
	set -- --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite "$@" ;;
drd)
	# --report-signal-unlocked=no: the EMTs' rendezvous, request completion and the
	# control socket's request queue signal a condition after unlocking its mutex, on
	# purpose (a thread woken under the lock runs only to block on it again: two
	# context switches more per hand-off, measured in bench/pause-resume). POSIX
	# allows it, and each waiter re-checks its predicate under the mutex, which the
	# signaller changed while holding it; drd's real race and lock checks stay on.
	set -- --tool=drd --report-signal-unlocked=no "$@" ;;
*)
	echo "valgrind.sh: unknown VALGRIND_TOOL '$VALGRIND_TOOL'" >&2
	exit 99 ;;
esac
exec valgrind --quiet --error-exitcode=99 \
	--trace-children=yes --trace-children-skip='*/sh,*/cp,*/mkdir,*/rm,*/bash' \
	--suppressions="$here/valgrind.supp" "$@"
