/* net: the libuv network frontend. Listens, accepts, cuts the byte stream into Kafka frames
 * (int32 size + payload) and hands each complete frame to the owner's callback; writes responses
 * back in request order. It knows nothing of the Kafka protocol beyond the size prefix.
 *
 * Invariants: one loop thread owns every object here; responses on a connection leave in the
 * order their requests arrived; a connection never holds more than SL_CONN_BYTES_IN_FLIGHT_MAX
 * bytes of unanswered requests (reading stops until responses drain); a size prefix is checked
 * against socket.request.max.bytes before anything is allocated for it. */
#ifndef SLUICE_NET_H
#define SLUICE_NET_H

#include <uv.h>

#include "sluice/core.h"
#include "sluice/limits.h"

typedef struct sl_server sl_server_t;
typedef struct sl_conn sl_conn_t;

/* One piece of a response answered in pieces (sl_frame_respond_pieces): bytes in memory, or a range
 * of a file that net sends with sendfile(2) straight from the page cache (Fetch's record data). */
typedef struct sl_response_piece {
    const uint8_t *ptr; /* the bytes; NULL for a file range */
    size_t len;         /* bytes not yet written */
    int fd;             /* file range: owned, closed once the frame is done; -1 for bytes */
    int64_t pos;        /* file range: position of the next byte to send */
    void *owned;        /* takes: sl_free'd once the frame is done (NULL: ptr is borrowed from
                           the frame's response buffer) */
} sl_response_piece_t;

/* One complete request frame. Owned by net; the owner borrows it from the frame callback until it
 * calls sl_frame_respond(), sl_frame_respond_pieces(), sl_frame_respond_none() or
 * sl_frame_close_connection() for it. */
typedef struct sl_frame {
    sl_conn_t *conn;
    struct sl_frame *next; /* in the connection's in-flight queue, arrival order */
    uint8_t *payload;      /* the bytes after the size prefix */
    size_t len;
    size_t payload_cap; /* net's: the payload buffer's size, for its reuse */
    uint8_t *response;  /* owned, set once answered */
    size_t response_len;
    sl_response_piece_t *pieces; /* owned, or NULL when response is written whole */
    size_t pieces_count;
    size_t piece_next; /* the first piece not yet handed to the socket */
    bool answered;
    bool close_after; /* close the connection once every earlier response is written */
} sl_frame_t;

/* Called for every complete frame, in arrival order per connection. */
typedef void (*sl_frame_cb)(sl_frame_t *frame, void *data);

typedef struct sl_server_limits {
    size_t request_bytes_max; /* socket.request.max.bytes */
    uint64_t idle_timeout_ms; /* connections.max.idle.ms; 0 = never */
    size_t conn_bytes_in_flight_max;
    size_t server_bytes_in_flight_max;
    size_t connections_max;
} sl_server_limits_t;

typedef struct sl_listener_info {
    const char *name;              /* borrowed from the caller's configuration */
    char host[256];                /* as bound */
    uint16_t port;                 /* as bound (an ephemeral port when configured as 0) */
    size_t connections;            /* open now (for /metrics) */
    uint64_t connections_accepted; /* since start */
} sl_listener_info_t;

/* Creates a server on loop; listens on nothing yet. Returns owned, freed by sl_server_destroy. */
int sl_server_create(uv_loop_t *loop, const sl_server_limits_t *limits, sl_frame_cb on_frame,
                     void *data, sl_server_t **out);
/* Binds and listens; host "" means every interface. The bound port is in sl_server_listener(). */
int sl_server_listen(sl_server_t *server, const char *name, const char *host, uint16_t port);
size_t sl_server_listener_count(const sl_server_t *server);
const sl_listener_info_t *sl_server_listener(const sl_server_t *server, size_t index);
/* Stops accepting, stops reading, lets in-flight requests be answered and written (for at most
 * drain_timeout_ms), closes everything, then calls done_cb (never synchronously). */
typedef void (*sl_server_stopped_cb)(sl_server_t *server, void *data);
void sl_server_stop(sl_server_t *server, uint64_t drain_timeout_ms, sl_server_stopped_cb done_cb,
                    void *data);
/* Frees the server; only after the stopped callback ran (or when it never listened). */
void sl_server_destroy(sl_server_t *server);

/* Which of the server's listeners the connection came in on (an index for sl_server_listener). */
size_t sl_conn_listener_index(const sl_conn_t *conn);
/* The peer address as text, for log lines. */
const char *sl_conn_peer(const sl_conn_t *conn);

/* Answers frame with response (takes ownership of an sl_malloc'd buffer holding the whole
 * response including its size prefix). The frame is freed once its response is written. */
void sl_frame_respond(sl_frame_t *frame, uint8_t *response, size_t response_len);
/* Answers frame with response_len bytes written as pieces, in order (takes ownership of response,
 * an sl_malloc'd buffer the memory pieces may point into, of pieces, an sl_malloc'd array, and of
 * every piece's owned buffer and fd). Pieces with a file range are sent with sendfile(2) once every
 * earlier byte on the connection is written; a partial send waits for the socket to be writable.
 * The caller must only pass file ranges on plaintext connections whose pages are resident (a miss
 * would block the loop inside sendfile). */
void sl_frame_respond_pieces(sl_frame_t *frame, uint8_t *response, sl_response_piece_t *pieces,
                             size_t pieces_count, size_t response_len);
/* Completes frame without writing anything (Produce with acks=0). */
void sl_frame_respond_none(sl_frame_t *frame);
/* Completes frame with no answer and closes the connection once earlier answers are written:
 * what Kafka does with a request it cannot parse. */
void sl_frame_close_connection(sl_frame_t *frame);

#endif
