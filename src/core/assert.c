/* assert: what happens when an invariant breaks. Logs file:line and the expression with a
 * backtrace, gives the replaceable hook a chance (tests longjmp out of it), then aborts. */
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sluice/core.h"

sl_panic_hook_fn sl_panic_hook = NULL;

void sl_panic(const char *file, int line, const char *expr)
{
    fprintf(stderr, "PANIC %s:%d: assertion failed: %s\n", file, line, expr);
    void *frames[32];
    int depth = backtrace(frames, (int)SL_ARRAY_LEN(frames));
    backtrace_symbols_fd(frames, depth, STDERR_FILENO);
    if (sl_panic_hook != NULL)
        sl_panic_hook(file, line, expr);
    abort();
}
