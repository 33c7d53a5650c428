/* net internals: the frame splitter (pure, unit-tested without sockets) and the connection and
 * server structs that server.c and conn.c share. */
#ifndef SLUICE_NET_INT_H
#define SLUICE_NET_INT_H

#include "sluice/net.h"

/* ---- payload cache (payload_cache.c) ----------------------------------------------------------
 * Buffers of large frames, kept for the next large frame instead of going back to the kernel. */
#define SL_NET_PAYLOAD_CACHED_BYTES_MIN (32 * 1024) /* smaller frames come from malloc's bins */
/* A producer at full speed has a sync round's worth of ~1 MB frames in flight (a dozen or more). */
#define SL_NET_PAYLOAD_CACHE_COUNT 32
#define SL_NET_PAYLOAD_CACHE_BYTES_MAX (32 * SL_MiB)

typedef struct {
    uint8_t *bufs[SL_NET_PAYLOAD_CACHE_COUNT]; /* owned */
    size_t caps[SL_NET_PAYLOAD_CACHE_COUNT];
    size_t count;
    size_t bytes; /* sum of caps */
    bool used_since_sweep;
    uint64_t hits, misses; /* large frames that got a kept buffer, and that did not */
} sl__payload_cache_t;

/* The size a buffer for len bytes gets: len rounded up to an eighth of its power of two. */
size_t sl__payload_cache_size_class(size_t len);
/* Returns owned: a buffer of at least len bytes (its size in *cap), kept or new; NULL when out of
 * memory. cache may be NULL (plain allocation). */
uint8_t *sl__payload_cache_take(sl__payload_cache_t *cache, size_t len, size_t *cap);
/* Takes buf (cap bytes): kept for a later take, or freed when it is small or the cache is full. */
void sl__payload_cache_give(sl__payload_cache_t *cache, uint8_t *buf, size_t cap);
/* Frees every kept buffer. */
void sl__payload_cache_trim(sl__payload_cache_t *cache);
/* The idle sweep: trims when nothing was taken since the previous sweep. */
void sl__payload_cache_sweep(sl__payload_cache_t *cache);

/* ---- frame splitter ----------------------------------------------------------------------------
 * Cuts a byte stream into frames: a 4-byte big-endian size, then that many bytes. The payload
 * buffer is allocated once the size is known and checked, so a big frame can be read straight into
 * it (no copy through a scratch buffer). */
typedef struct {
    uint8_t size_bytes[4];
    size_t size_have; /* 0..4 bytes of the size prefix seen */
    uint8_t *payload; /* owned while the frame is being filled */
    size_t len, have;
    size_t payload_cap; /* the payload buffer's size (>= len) */
    size_t request_bytes_max;
    sl__payload_cache_t *cache; /* borrowed, may be NULL: where payload buffers come from */
} sl__splitter_t;

typedef enum {
    SL__SPLIT_NEED_MORE = 0, /* all input consumed, no frame complete */
    SL__SPLIT_FRAME = 1,     /* a frame is complete: take it with sl__splitter_take */
} sl__split_status_t;

/* cache: borrowed for the splitter's life, or NULL. */
void sl__splitter_init(sl__splitter_t *s, size_t request_bytes_max, sl__payload_cache_t *cache);
void sl__splitter_deinit(sl__splitter_t *s);
/* Consumes bytes from data and len (advancing both). Returns SL__SPLIT_FRAME, SL__SPLIT_NEED_MORE,
 * SL_ELIMIT (size over request_bytes_max), SL_EMALFORMED (negative size) or -ENOMEM. */
int sl__splitter_feed(sl__splitter_t *s, const uint8_t **data, size_t *len);
/* Where the next read may land directly (the unfilled tail of a payload), or NULL. */
uint8_t *sl__splitter_direct(sl__splitter_t *s, size_t *room);
/* Takes the complete frame's payload (owned: give it back with sl__payload_cache_give and its
 * *cap, or sl_free it) and resets for the next one. */
uint8_t *sl__splitter_take(sl__splitter_t *s, size_t *len, size_t *cap);

/* ---- server and connections -------------------------------------------------------------------*/
/* Buffers gathered into one write of a response's memory pieces (a Fetch answer alternates headers
 * and record bytes); larger answers go out in several writes. */
#define SL_CONN_WRITE_BUFS_MAX 64
/* The unread rest of a frame at least this large is read straight into its payload; smaller rests
 * come through the shared scratch buffer (with whatever follows them) and are copied. */
#define SL_CONN_DIRECT_READ_BYTES_MIN (32 * 1024)
/* After a frame of at least this plus SL_CONN_DIRECT_READ_BYTES_MIN, the next frame's first read
 * asks for this much only, so that its rest is read straight into its payload. */
#define SL_CONN_FRAME_START_READ_BYTES 4096
/* Bytes asked of one sendfile(2) call; the socket's free space usually cuts it shorter. */
#define SL_CONN_SENDFILE_BYTES_MAX (16 * 1024 * 1024)

typedef struct sl_listener {
    uv_tcp_t tcp;
    sl_server_t *server;
    size_t index;
    sl_listener_info_t info;
} sl_listener_t;

struct sl_conn {
    uv_tcp_t tcp;
    sl_server_t *server;
    sl_conn_t *prev, *next; /* the server's list of open connections */
    size_t listener_index;
    sl__splitter_t splitter;
    sl_frame_t *queue_head, *queue_tail; /* requests in arrival order, answered or not */
    size_t frames_in_flight;
    size_t last_frame_len;  /* the size of the last frame read (how to read the next one) */
    size_t bytes_in_flight; /* request bytes read + response bytes not yet written */
    size_t writes_pending;
    uint64_t last_active_ms;
    /* The frame being written piece by piece (it has file ranges): later frames wait behind it. */
    sl_frame_t *sending;
    /* Watches a dup of the socket for writability while a sendfile(2) waits for room (libuv's own
     * watcher on the socket fd cannot be shared); set up the first time a send comes up short. */
    uv_poll_t writable;
    int writable_fd;       /* -1 until the watcher exists */
    int closes_pending;    /* handles whose close callback has not run yet */
    sl_conn_t *flush_next; /* in the server's list of connections with answers to write */
    bool flush_queued;
    bool reading;
    bool closing;
    bool close_when_flushed;
    char peer[64];
};

struct sl_server {
    uv_loop_t *loop;
    sl_server_limits_t limits;
    sl_frame_cb on_frame;
    void *data;
    sl_listener_t listeners[SL_LISTENERS_MAX];
    size_t listeners_count;
    sl_conn_t *conns; /* open connections */
    size_t conns_count;
    size_t bytes_in_flight;
    sl__payload_cache_t payload_cache;
    sl_conn_t *flush_head;  /* connections with answers to write at the end of this iteration */
    uv_check_t flush_check; /* active while flush_head is not empty: writes them */
    uv_idle_t flush_idle;   /* active with it, so the loop polls without blocking first */
    uv_timer_t idle_timer;
    uv_timer_t drain_timer;
    uint64_t drain_deadline_ms;
    size_t handles_open; /* listeners, connections and timers not yet closed */
    bool stopping;
    sl_server_stopped_cb stopped_cb;
    void *stopped_data;
    uint8_t scratch[64 * 1024]; /* shared read buffer: every read is consumed inside its callback */
};

void sl__conn_accept(sl_listener_t *listener);
/* Writes the answers of a connection taken off the server's flush list. */
void sl__conn_flush_queued(sl_conn_t *conn);
/* The flush list became non-empty: make the loop write it this iteration. */
void sl__server_flush_wanted(sl_server_t *server);
void sl__conn_close(sl_conn_t *conn);
void sl__conn_stop_reading(sl_conn_t *conn);
void sl__conn_start_reading(sl_conn_t *conn);
bool sl__conn_is_drained(const sl_conn_t *conn);
void sl__server_handle_closed(sl_server_t *server);
void sl__server_resume_reading(sl_server_t *server);

#endif
