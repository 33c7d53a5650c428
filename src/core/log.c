/* log: one line per event on stderr, "time LEVEL module message" (text) or one JSON object (json).
 * The line is built in a stack buffer and written with one write(2) so lines from a crash handler
 * or another thread never interleave mid-line. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sluice/core.h"

#define LOG_LINE_BYTES_MAX 2048
#define RATELIMIT_WINDOW_MS 10000
#define RATELIMIT_BURST 5

sl_log_level_t sl_log_level_min = SL_LOG_INFO;
static sl_log_format_t log_format = SL_LOG_FORMAT_TEXT;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const level_names_lower[] = {"debug", "info", "warn", "error"};

void sl_log_configure(sl_log_level_t level_min, sl_log_format_t format)
{
    sl_log_level_min = level_min;
    log_format = format;
}

static size_t format_time(char *out, size_t cap)
{
    int64_t now_ms = sl_clock_realtime_ms();
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(out + n, cap - n, ".%03dZ", (int)(now_ms % 1000));
    return n + (m > 0 ? (size_t)m : 0);
}

/* Appends msg as a JSON string body (quotes and control characters escaped). */
static size_t json_escape(char *out, size_t cap, const char *msg)
{
    size_t o = 0;
    for (const char *p = msg; *p != '\0' && o + 7 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    return o;
}

void sl_log_write(sl_log_level_t level, const char *module, const char *fmt, ...)
{
    SL_ASSERT(level < SL_LOG_OFF);
    char msg[LOG_LINE_BYTES_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char line[LOG_LINE_BYTES_MAX];
    char ts[40];
    format_time(ts, sizeof(ts));
    size_t n;
    if (log_format == SL_LOG_FORMAT_JSON) {
        int m = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"", ts,
                         level_names_lower[level], module);
        n = m > 0 ? (size_t)m : 0;
        n += json_escape(line + n, sizeof(line) - n - 4, msg);
        memcpy(line + n, "\"}\n", 3);
        n += 3;
    } else {
        int m = snprintf(line, sizeof(line), "%s %s %s %s\n", ts, level_names[level], module, msg);
        n = m < 0 ? 0 : SL_MIN((size_t)m, sizeof(line) - 1);
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nothing sensible to do when stderr is gone */
}

bool sl_log_ratelimit_pass(sl_log_ratelimit_t *rl, uint32_t *suppressed_count)
{
    uint64_t now = sl_clock_monotonic_ms();
    if (now - rl->window_start_ms >= RATELIMIT_WINDOW_MS || rl->window_start_ms == 0) {
        rl->window_start_ms = now;
        rl->emitted_in_window = 0;
    }
    if (rl->emitted_in_window >= RATELIMIT_BURST) {
        rl->suppressed_count++;
        return false;
    }
    rl->emitted_in_window++;
    *suppressed_count = rl->suppressed_count;
    rl->suppressed_count = 0;
    return true;
}
