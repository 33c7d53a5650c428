/* net internals: the frame splitter (pure, unit-tested without sockets) and the connection and
 * server structs that server.c and conn.c share. */
#ifndef SLUICE_NET_INT_H
#define SLUICE_NET_INT_H

#include "sluice/net.h"

/* ---- frame splitter ----------------------------------------------------------------------------
 * Cuts a byte stream into frames: a 4-byte big-endian size, then that many bytes. The payload
 * buffer is allocated once the size is known and checked, so a big frame can be read straight into
 * it (no copy through a scratch buffer). */
typedef struct {
    uint8_t size_bytes[4];
    size_t size_have; /* 0..4 bytes of the size prefix seen */
    uint8_t *payload; /* owned while the frame is being filled */
    size_t len, have;
    size_t request_bytes_max;
} sl__splitter_t;

typedef enum {
    SL__SPLIT_NEED_MORE = 0, /* all input consumed, no frame complete */
    SL__SPLIT_FRAME = 1,     /* a frame is complete: take it with sl__splitter_take */
} sl__split_status_t;

void sl__splitter_init(sl__splitter_t *s, size_t request_bytes_max);
void sl__splitter_deinit(sl__splitter_t *s);
/* Consumes bytes from data and len (advancing both). Returns SL__SPLIT_FRAME, SL__SPLIT_NEED_MORE,
 * SL_ELIMIT (size over request_bytes_max), SL_EMALFORMED (negative size) or -ENOMEM. */
int sl__splitter_feed(sl__splitter_t *s, const uint8_t **data, size_t *len);
/* Where the next read may land directly (the unfilled tail of a payload), or NULL. */
uint8_t *sl__splitter_direct(sl__splitter_t *s, size_t *room);
/* Takes the complete frame's payload (owned, sl_free it) and resets for the next one. */
uint8_t *sl__splitter_take(sl__splitter_t *s, size_t *len);

/* ---- server and connections -------------------------------------------------------------------*/
/* Buffers gathered into one write of a response's memory pieces (a Fetch answer alternates headers
 * and record bytes); larger answers go out in several writes. */
#define SL_CONN_WRITE_BUFS_MAX 64
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
    size_t bytes_in_flight; /* request bytes read + response bytes not yet written */
    size_t writes_pending;
    uint64_t last_active_ms;
    /* The frame being written piece by piece (it has file ranges): later frames wait behind it. */
    sl_frame_t *sending;
    /* Watches a dup of the socket for writability while a sendfile(2) waits for room (libuv's own
     * watcher on the socket fd cannot be shared); set up the first time a send comes up short. */
    uv_poll_t writable;
    int writable_fd;    /* -1 until the watcher exists */
    int closes_pending; /* handles whose close callback has not run yet */
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
void sl__conn_close(sl_conn_t *conn);
void sl__conn_stop_reading(sl_conn_t *conn);
void sl__conn_start_reading(sl_conn_t *conn);
bool sl__conn_is_drained(const sl_conn_t *conn);
void sl__server_handle_closed(sl_server_t *server);
void sl__server_resume_reading(sl_server_t *server);

#endif
