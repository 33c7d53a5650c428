/* core: the small things every module shares: slices and buffers, the allocator, the per-request
 * arena, error codes, assertions, logging, clocks and CRC32C.
 * Invariants: every allocation goes through sl_malloc/sl_free (so tests can count and fail them);
 * every error is 0 or a negative value that sl_strerror() names. */
#ifndef SLUICE_CORE_H
#define SLUICE_CORE_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_KiB ((size_t)1024)
#define SL_MiB (1024 * SL_KiB)
#define SL_GiB (1024 * SL_MiB)

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define SL_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define SL_NORETURN __attribute__((noreturn))
#define SL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SL_PRINTF(fmt_index, first_arg)
#define SL_NORETURN
#define SL_LIKELY(x) (x)
#define SL_UNLIKELY(x) (x)
#endif

/* ---- errors ------------------------------------------------------------------------------------
 * 0 is success; a negative value is -errno or one of these codes, all <= -5000 so they never
 * collide with Linux's errno range (MAX_ERRNO is 4095). */
#define SL_ERRNO_MAP(X)                                                                            \
    X(MALFORMED, -5001, "malformed input")                                                         \
    X(INCOMPLETE, -5002, "more bytes are needed")                                                  \
    X(LIMIT, -5003, "a configured limit was exceeded")                                             \
    X(CONFIG, -5004, "invalid configuration")                                                      \
    X(UNSUPPORTED, -5005, "unsupported version or feature")                                        \
    X(CLOSED, -5006, "the handle is closing or closed")                                            \
    X(NOTFOUND, -5007, "not found")                                                                \
    X(EXISTS, -5008, "already exists")                                                             \
    X(CORRUPT, -5009, "data on disk is corrupt")                                                   \
    X(NORESPONSE, -5010, "the request is answered by silence (acks=0)")                            \
    X(NOTLEADER, -5030, "this node is not the leader")

enum sl_errno {
#define SL__ERRNO_ENUM(name, value, text) SL_E##name = (value),
    SL_ERRNO_MAP(SL__ERRNO_ENUM)
#undef SL__ERRNO_ENUM
};

/* Returns a static string for 0, any -errno and any SL_E* code. */
const char *sl_strerror(int err);

/* ---- assertions --------------------------------------------------------------------------------
 * SL_ASSERT is on in every build. It is for programmer invariants only, never for external bytes
 * (network, disk, config): those return an error. */
typedef void (*sl_panic_hook_fn)(const char *file, int line, const char *expr);
/* Called before abort(); tests and fuzzers replace it (for example with a longjmp). */
extern sl_panic_hook_fn sl_panic_hook;
SL_NORETURN void sl_panic(const char *file, int line, const char *expr);

#define SL_ASSERT(expr) (SL_LIKELY(expr) ? (void)0 : sl_panic(__FILE__, __LINE__, #expr))
#ifdef NDEBUG
#define SL_DASSERT(expr) ((void)0)
#else
#define SL_DASSERT(expr) SL_ASSERT(expr)
#endif
/* Defensive branches that "cannot happen": assert in debug builds, still handled in release. */
#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x) (x)
#else
#define ALWAYS(x) ((x) ? 1 : (sl_panic(__FILE__, __LINE__, #x), 0))
#define NEVER(x) ((x) ? (sl_panic(__FILE__, __LINE__, #x), 1) : 0)
#endif
/* Marks a boundary that coverage runs must reach; free in normal builds. */
#define SL_TESTCASE(x) ((void)(x))

/* ---- allocation --------------------------------------------------------------------------------
 * The only way to get heap memory. Counts bytes in use; a test can make the Nth call fail. */
void *sl_malloc(size_t size);
void *sl_calloc(size_t count, size_t size);
void *sl_realloc(void *ptr, size_t size);
void sl_free(void *ptr);
char *sl_strdup(const char *s);
size_t sl_alloc_bytes_in_use(void);
/* Tests only: the n-th allocation from now fails (0 turns injection off). */
void sl_alloc_fail_after(uint64_t n);

/* ---- slices and buffers ------------------------------------------------------------------------
 */
/* A borrowed view. ptr == NULL means "null" (a nullable Kafka string or bytes); an empty but
 * present value has a non-NULL ptr and len 0. */
typedef struct {
    const uint8_t *ptr;
    size_t len;
} sl_slice_t;

#define SL_SLICE_NULL ((sl_slice_t){NULL, 0})
static inline sl_slice_t sl_slice_from_str(const char *s);
bool sl_slice_eq_str(sl_slice_t a, const char *s);
bool sl_slice_eq(sl_slice_t a, sl_slice_t b);

/* An owned, growable buffer whose capacity never exceeds cap_max (0 = no cap but SIZE_MAX/2). */
typedef struct {
    uint8_t *ptr;
    size_t len, cap, cap_max;
} sl_buf_t;

void sl_buf_init(sl_buf_t *buf, size_t cap_max);
void sl_buf_deinit(sl_buf_t *buf);
/* Makes room for extra_bytes more; -ENOMEM or SL_ELIMIT on failure. */
int sl_buf_reserve(sl_buf_t *buf, size_t extra_bytes);
int sl_buf_append(sl_buf_t *buf, const void *data, size_t len);
SL_PRINTF(2, 3) int sl_buf_appendf(sl_buf_t *buf, const char *fmt, ...);
/* Drops the first n bytes (moves the rest to the front). */
void sl_buf_consume(sl_buf_t *buf, size_t n);

/* ---- arena -------------------------------------------------------------------------------------
 * Per-request memory: allocations are never freed one by one; sl_arena_reset frees them all.
 * bytes_max bounds what one request may take (hostile counts cannot grow it without limit). */
typedef struct sl_arena_chunk sl_arena_chunk_t;
typedef struct {
    sl_arena_chunk_t *head;
    size_t bytes_used;
    size_t bytes_max;
} sl_arena_t;

void sl_arena_init(sl_arena_t *arena, size_t bytes_max);
void sl_arena_deinit(sl_arena_t *arena);
void sl_arena_reset(sl_arena_t *arena);
/* Returns 16-byte aligned zeroed memory, or NULL when bytes_max would be exceeded or malloc fails.
 */
void *sl_arena_alloc(sl_arena_t *arena, size_t size);
/* Copies s into the arena as a NUL-terminated string; NULL on failure. */
char *sl_arena_strndup(sl_arena_t *arena, const char *s, size_t len);

/* ---- logging -----------------------------------------------------------------------------------
 * One line per event on stderr: time, level, module, message of key=value pairs. Arguments are
 * evaluated only when the level is enabled. */
typedef enum {
    SL_LOG_DEBUG = 0,
    SL_LOG_INFO,
    SL_LOG_WARN,
    SL_LOG_ERROR,
    SL_LOG_OFF
} sl_log_level_t;
typedef enum { SL_LOG_FORMAT_TEXT = 0, SL_LOG_FORMAT_JSON } sl_log_format_t;

extern sl_log_level_t sl_log_level_min;
void sl_log_configure(sl_log_level_t level_min, sl_log_format_t format);
SL_PRINTF(3, 4) void sl_log_write(sl_log_level_t level, const char *module, const char *fmt, ...);
#define SL_LOG(level, module, ...)                                                                 \
    do {                                                                                           \
        if ((level) >= sl_log_level_min)                                                           \
            sl_log_write((level), (module), __VA_ARGS__);                                          \
    } while (0)

/* A token bucket for repeated log lines (one per call site): at most burst lines, then one per
 * interval; the number suppressed is reported on the next line that passes. */
typedef struct {
    uint64_t window_start_ms;
    uint32_t emitted_in_window;
    uint32_t suppressed_count;
} sl_log_ratelimit_t;
/* Returns true when a line may be written; *suppressed_count receives how many were dropped. */
bool sl_log_ratelimit_pass(sl_log_ratelimit_t *rl, uint32_t *suppressed_count);
#define SL_LOG_RATELIMITED(level, module, fmt, ...)                                                \
    do {                                                                                           \
        static sl_log_ratelimit_t sl__rl;                                                          \
        uint32_t sl__dropped;                                                                      \
        if ((level) >= sl_log_level_min && sl_log_ratelimit_pass(&sl__rl, &sl__dropped))           \
            sl_log_write((level), (module), fmt " suppressed=%" PRIu32, __VA_ARGS__, sl__dropped); \
    } while (0)

/* ---- clock -------------------------------------------------------------------------------------
 * The only place the process reads time. Modules that wait take an sl_clock_ops_t so tests can
 * drive time by hand. */
typedef struct sl_clock_ops {
    uint64_t (*monotonic_ms)(void *data);
    int64_t (*realtime_ms)(void *data);
    void *data;
} sl_clock_ops_t;

uint64_t sl_clock_monotonic_ms(void);
uint64_t sl_clock_monotonic_ns(void);
int64_t sl_clock_realtime_ms(void);
extern const sl_clock_ops_t sl_clock_system;

/* ---- checksums
 * ---------------------------------------------------------------------------------*/
/* CRC-32C (Castagnoli), as Kafka's record batch v2 uses; crc is 0 for a fresh checksum. */
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t len);

/* ---- uuid
 * ---------------------------------------------------------------------------------------*/
typedef struct {
    uint8_t bytes[16];
} sl_uuid_t;
bool sl_uuid_is_zero(const sl_uuid_t *uuid);
/* Kafka prints ids (cluster id, topic id) as 22 characters of URL-safe base64 without padding. */
void sl_uuid_to_base64(const sl_uuid_t *uuid, char out[23]);
int sl_uuid_from_base64(const char *text, sl_uuid_t *uuid);
/* A random version-4 UUID from the OS's random source; never all zeros. */
int sl_uuid_random(sl_uuid_t *uuid);

static inline sl_slice_t sl_slice_from_str(const char *s)
{
    size_t len = 0;
    while (s[len] != '\0')
        len++;
    return (sl_slice_t){(const uint8_t *)s, len};
}

#endif
