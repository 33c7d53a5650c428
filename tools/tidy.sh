#!/usr/bin/env bash
# tidy: the house rules no compiler checks (style.md §10). Runs as a CTest; prints each violation
# as file:line: rule, and fails if there is any.
#  - no strcpy, sprintf, atoi, strtok, rand, alloca anywhere (unbounded or unseeded);
#  - no raw malloc/calloc/realloc/free outside src/core/alloc.c (accounting and OOM injection);
#  - no clock reads outside src/core/clock.c (tests drive time through sl_clock_ops_t);
#  - no FIXME (say what is missing in words, or fix it).
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 2
status=0
report() { echo "$1"; status=1; }

files=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 2>/dev/null || find src include -name '*.[ch]')
for f in $files; do
    case "$f" in src/protocol/gen/*) continue ;; esac
    # Strip comments and string literals crudely so prose does not trip the rules.
    code=$(sed -e 's://.*$::' -e 's:"[^"]*"::g' "$f")
    while IFS= read -r hit; do
        [ -n "$hit" ] && report "$f:${hit%%:*}: banned function (${hit#*:})"
    done < <(printf '%s\n' "$code" | grep -nwoE 'strcpy|sprintf|atoi|strtok|rand|alloca' | grep -v '^\s*\*')
    if [ "$f" != src/core/alloc.c ]; then
        while IFS= read -r hit; do
            [ -n "$hit" ] && report "$f:${hit%%:*}: raw allocation (use sl_malloc/sl_free)"
        done < <(printf '%s\n' "$code" | grep -nE '(^|[^_a-z])(malloc|calloc|realloc|free)\(' |
                 grep -vE 'sl_(malloc|calloc|realloc|free)\(|freeaddrinfo|/\*|^\s*[0-9]+:\s*\*')
    fi
    if [ "$f" != src/core/clock.c ]; then
        while IFS= read -r hit; do
            [ -n "$hit" ] && report "$f:${hit%%:*}: clock read outside core/clock.c"
        done < <(printf '%s\n' "$code" | grep -nE '\b(clock_gettime|gettimeofday|time\(NULL\)|uv_hrtime)\b')
    fi
    while IFS= read -r hit; do
        [ -n "$hit" ] && report "$f:${hit%%:*}: FIXME"
    done < <(grep -n 'FIXME' "$f" | cut -d: -f1)
done
[ $status -eq 0 ] && echo "tidy: clean"
exit $status
