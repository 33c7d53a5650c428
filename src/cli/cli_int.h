/* cli_int: the admin CLI's internal types: parsed arguments, the blocking connection and cluster
 * client, and the table/JSON output. Only src/cli/ and tests/unit/cli/ include it.
 * Invariants: everything a command decodes lives in the client's arena (reset between steps of a
 * loop); every wait is bounded by the command's deadline; no global state but the SIGINT flag. */
#ifndef SLUICE_CLI_INT_H
#define SLUICE_CLI_INT_H

#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

#include "sluice/cli.h"
#include "sluice/core.h"
#include "sluice/protocol.h"

/* ---- limits (a CLI is one short-lived process; these bound what hostile brokers can make it do)
 */
#define SL_CLI_POSITIONALS_MAX 64             /* topic names on one command line */
#define SL_CLI_CONFIGS_MAX 64                 /* --config / --set / --delete */
#define SL_CLI_BOOTSTRAP_MAX 16               /* host:port entries in --bootstrap-server */
#define SL_CLI_NODES_MAX 256                  /* brokers a Metadata response may list */
#define SL_CLI_HOST_BYTES_MAX 256             /* a broker's host name, NUL included */
#define SL_CLI_FRAME_BYTES_MAX (256 * SL_MiB) /* one response frame */
#define SL_CLI_ARENA_BYTES_MAX (1 * SL_GiB)   /* frames and decoded responses of one step */
#define SL_CLI_LINE_BYTES_MAX (1 * SL_MiB)    /* one record read by `produce` */
#define SL_CLI_BATCH_BYTES_MAX (512 * SL_KiB) /* a produce batch is sent when it reaches this */
#define SL_CLI_FETCH_BYTES_MAX (8 * SL_MiB)   /* Fetch max_bytes (per partition: 1 MiB) */
#define SL_CLI_RETRY_BACKOFF_MS 50            /* between retries of a retriable error */
#define SL_CLI_TIMEOUT_MS_DEFAULT 10000
/* With several bootstrap servers each connection attempt gets at least this long; refused rounds
 * back off from SL_CLI_RETRY_BACKOFF_MS up to SL_CLI_CONNECT_BACKOFF_MS_MAX. */
#define SL_CLI_CONNECT_ATTEMPT_MS_MIN 1000
#define SL_CLI_CONNECT_BACKOFF_MS_MAX 1000
_Static_assert(SL_CLI_LINE_BYTES_MAX + 64 <= SL_CLI_FRAME_BYTES_MAX, "a record fits a frame");
_Static_assert(SL_CLI_FETCH_BYTES_MAX < SL_CLI_FRAME_BYTES_MAX, "a fetch fits a frame");

/* ---- arguments ------------------------------------------------------------------------------- */
typedef enum {
    SL_CLI_TOPIC_CREATE = 1,
    SL_CLI_TOPIC_LIST,
    SL_CLI_TOPIC_DESCRIBE,
    SL_CLI_TOPIC_DELETE,
    SL_CLI_TOPIC_ALTER_CONFIG,
    SL_CLI_GROUP_LIST,
    SL_CLI_GROUP_DESCRIBE,
    SL_CLI_CLUSTER_DESCRIBE,
    SL_CLI_PRODUCE,
    SL_CLI_CONSUME,
} sl_cli_command_t;

typedef enum { SL_CLI_OUTPUT_TABLE = 0, SL_CLI_OUTPUT_JSON } sl_cli_output_t;

typedef struct {
    const char *name;  /* borrowed from argv */
    const char *value; /* borrowed from argv; NULL for --delete */
    size_t name_len;
} sl_cli_kv_t;

typedef struct {
    char host[SL_CLI_HOST_BYTES_MAX];
    int32_t port;
} sl_cli_address_t;

/* Everything the command line says, after defaults. Strings borrow argv or the environment. */
typedef struct {
    sl_cli_command_t command;
    sl_cli_address_t bootstrap[SL_CLI_BOOTSTRAP_MAX];
    size_t bootstrap_count;
    sl_cli_output_t output;
    int64_t timeout_ms; /* per command (admin) or idle time before `consume` stops */
    bool timeout_given; /* consume: without --timeout it waits until SIGINT or max */
    const char *positionals[SL_CLI_POSITIONALS_MAX];
    size_t positional_count;
    int32_t partitions;                      /* -1: the broker's num.partitions */
    int16_t replication_factor;              /* -1: the broker's default.replication.factor */
    sl_cli_kv_t configs[SL_CLI_CONFIGS_MAX]; /* --config k=v, --set k=v, then --delete k */
    size_t config_count;
    bool if_not_exists, if_exists, validate_only;
    /* produce */
    const char *key_separator; /* NULL: lines are values only */
    int32_t partition;         /* -1: by key hash, or one partition for unkeyed lines */
    int16_t acks;
    /* consume */
    bool from_beginning, print_keys, print_headers, print_offsets;
    const char *group;
    int64_t max_messages; /* -1: no limit */
} sl_cli_args_t;

/* Parses argv (argv[1] is the command) with SLUICE_BOOTSTRAP's value env_bootstrap (NULL when
 * unset). 0, or SL_CLI_EXIT_USAGE with a one-line reason in err. */
int sl__cli_args_parse(int argc, char *const *argv, const char *env_bootstrap, sl_cli_args_t *out,
                       char *err, size_t err_len);
/* Parses "host:port[,host:port...]" into out (a bracketed [v6]:port is accepted). */
int sl__cli_bootstrap_parse(const char *text, sl_cli_args_t *out, char *err, size_t err_len);

/* ---- output ---------------------------------------------------------------------------------- */
/* A table: a header row then rows of cells, printed with columns padded to the widest cell. Cells
 * are copied into the table's buffer. */
#define SL_CLI_TABLE_COLUMNS_MAX 12
typedef struct {
    size_t column_count;
    size_t row_count; /* header included */
    sl_buf_t cells;   /* NUL-terminated cells, row after row */
} sl_cli_table_t;

void sl__cli_table_init(sl_cli_table_t *t, size_t column_count, const char *const *headers);
void sl__cli_table_deinit(sl_cli_table_t *t);
/* Appends one row of column_count cells (NULL prints as "-"). 0 or -ENOMEM. */
int sl__cli_table_row(sl_cli_table_t *t, const char *const *cells);
int sl__cli_table_print(const sl_cli_table_t *t, FILE *out);

/* A JSON writer: the caller nests calls in order; commas and escapes are the writer's business. */
#define SL_CLI_JSON_DEPTH_MAX 16
typedef struct {
    sl_buf_t *buf; /* borrowed */
    int depth;
    bool first[SL_CLI_JSON_DEPTH_MAX]; /* no value yet at this depth */
    bool after_key;
    int rc; /* first error; later calls do nothing */
} sl_cli_json_t;

void sl__cli_json_init(sl_cli_json_t *j, sl_buf_t *buf);
void sl__cli_json_object_begin(sl_cli_json_t *j);
void sl__cli_json_object_end(sl_cli_json_t *j);
void sl__cli_json_array_begin(sl_cli_json_t *j);
void sl__cli_json_array_end(sl_cli_json_t *j);
void sl__cli_json_key(sl_cli_json_t *j, const char *key);
/* A string from bytes (NULL ptr: null); invalid UTF-8 bytes become U+FFFD. */
void sl__cli_json_string(sl_cli_json_t *j, sl_slice_t s);
void sl__cli_json_cstr(sl_cli_json_t *j, const char *s);
void sl__cli_json_int(sl_cli_json_t *j, int64_t v);
void sl__cli_json_bool(sl_cli_json_t *j, bool v);
void sl__cli_json_null(sl_cli_json_t *j);
/* Writes buf and a newline to out. 0, the writer's error, or -EIO. */
int sl__cli_json_print(sl_cli_json_t *j, FILE *out);

/* A JSON document for stdout: the writer and the buffer it fills (not movable: json points at
 * buf). */
typedef struct {
    sl_buf_t buf;
    sl_cli_json_t json;
} sl_cli_doc_t;

void sl__cli_doc_init(sl_cli_doc_t *doc);

/* ---- connection: one blocking socket to one broker ------------------------------------------
 * The transport is behind ops so TLS (and a SASL exchange after connect) slot in without touching
 * the request path: connect() opens the byte stream, then the client sends ApiVersions. */
typedef struct sl_cli_conn sl_cli_conn_t;
typedef struct {
    /* Opens the stream to addr before deadline_ms (monotonic). 0 or a negative error. */
    int (*open)(sl_cli_conn_t *conn, const sl_cli_address_t *addr, uint64_t deadline_ms);
    /* Writes all len bytes / reads up to len bytes (> 0 read, or a negative error; never 0). */
    int (*write_all)(sl_cli_conn_t *conn, const uint8_t *data, size_t len, uint64_t deadline_ms);
    ssize_t (*read_some)(sl_cli_conn_t *conn, uint8_t *data, size_t len, uint64_t deadline_ms);
    void (*close)(sl_cli_conn_t *conn);
} sl_cli_transport_ops_t;

extern const sl_cli_transport_ops_t sl__cli_plaintext_ops;

struct sl_cli_conn {
    const sl_cli_transport_ops_t *ops;
    int fd; /* -1 when closed */
    sl_cli_address_t addr;
    int32_t node_id; /* -1 for a bootstrap connection */
    int32_t correlation_id;
    bool versions_known;
    sl_version_range_t versions[SL_API_KEY_MAX + 1]; /* from ApiVersions; empty = unsupported */
};

/* ---- client: bootstrap, the brokers from Metadata, one connection per broker ----------------- */
typedef struct {
    int32_t node_id;
    sl_cli_address_t addr;
} sl_cli_node_t;

typedef struct {
    const sl_cli_args_t *args; /* borrowed */
    uint64_t deadline_ms;      /* monotonic; the current step's deadline */
    sl_arena_t arena;          /* frames and decoded responses */
    sl_cli_conn_t bootstrap;   /* the first bootstrap server that answered */
    sl_cli_conn_t *conns;      /* node_count connections, parallel to nodes */
    sl_cli_node_t nodes[SL_CLI_NODES_MAX];
    size_t node_count;
    char error[512]; /* what went wrong, for stderr */
} sl_cli_client_t;

int sl__cli_client_init(sl_cli_client_t *c, const sl_cli_args_t *args);
void sl__cli_client_deinit(sl_cli_client_t *c);
/* Sets a fresh deadline of args->timeout_ms from now. */
void sl__cli_client_restart_deadline(sl_cli_client_t *c);
/* A connection to any broker (the bootstrap one), opened and version-negotiated. */
int sl__cli_any(sl_cli_client_t *c, sl_cli_conn_t **out);
/* A connection to node_id as Metadata advertised it (refreshes Metadata once if unknown). */
int sl__cli_node(sl_cli_client_t *c, int32_t node_id, sl_cli_conn_t **out);
/* The highest version in [min, max] both sides support, or SL_EUNSUPPORTED (error set). */
int sl__cli_version(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t api_key, int16_t min,
                    int16_t max, int16_t *out);
/* The connection to node_id (SL_CLI_ANY_NODE: the bootstrap broker) and the version of api_key
 * to send there, as sl__cli_node/sl__cli_any and sl__cli_version. */
#define SL_CLI_ANY_NODE (-1)
int sl__cli_prepare(sl_cli_client_t *c, int32_t node_id, int16_t api_key, int16_t min, int16_t max,
                    sl_cli_conn_t **conn, int16_t *version);
/* Sends req (a struct of api_key's request type at version) and decodes the answer into resp (the
 * response type, caller-sized) from the arena. resp may be NULL for a produce with acks=0. */
int sl__cli_call(sl_cli_client_t *c, sl_cli_conn_t *conn, int16_t api_key, int16_t version,
                 const void *req, void *resp);
/* Metadata for names (NULL, 0: all topics; names_count 0 with a non-NULL names: none), stored in
 * the node table; *out lives in the arena. */
int sl__cli_metadata(sl_cli_client_t *c, const sl_slice_t *names, size_t names_count,
                     sl_metadata_response_t **out, int16_t *version_out);
/* The group coordinator of group_id (FindCoordinator, retried while it is not available). */
int sl__cli_coordinator(sl_cli_client_t *c, const char *group_id, sl_cli_conn_t **out);
/* Sleeps for the retry backoff; false (nothing else done) when the deadline would pass first. */
bool sl__cli_pause(sl_cli_client_t *c);
/* Sleeps for the retry backoff; false (error set) when the deadline passed. */
bool sl__cli_backoff(sl_cli_client_t *c, const char *what, int16_t kerr);
/* Kafka errors worth a short retry (leader or coordinator moving or loading). */
bool sl__cli_kerr_retriable(int16_t kerr);
/* Formats "NAME: message" into c->error; returns SL_CLI_EXIT_ERROR. */
int sl__cli_fail_kerr(sl_cli_client_t *c, int16_t kerr, sl_slice_t message);
SL_PRINTF(2, 3) int sl__cli_fail(sl_cli_client_t *c, const char *fmt, ...);
/* Prints doc to stdout when print (JSON output), frees it, and returns status, or a failure when
 * the output cannot be written. */
int sl__cli_doc_finish(sl_cli_client_t *c, sl_cli_doc_t *doc, bool print, int status);
/* Copies a slice into the arena as a C string ("" on arena exhaustion; NULL for a null slice). */
const char *sl__cli_str(sl_cli_client_t *c, sl_slice_t s);

/* Set by SIGINT/SIGTERM while consuming or producing: stop at the next step, commit, exit 0. */
extern volatile sig_atomic_t sl__cli_interrupted;

/* ---- commands: each returns an exit status ----------------------------------------------------
 */
int sl__cli_topic_create(sl_cli_client_t *c);
int sl__cli_topic_list(sl_cli_client_t *c);
int sl__cli_topic_describe(sl_cli_client_t *c);
int sl__cli_topic_delete(sl_cli_client_t *c);
int sl__cli_topic_alter_config(sl_cli_client_t *c);
int sl__cli_group_list(sl_cli_client_t *c);
int sl__cli_group_describe(sl_cli_client_t *c);
int sl__cli_cluster_describe(sl_cli_client_t *c);
int sl__cli_produce(sl_cli_client_t *c);
int sl__cli_consume(sl_cli_client_t *c);

/* One partition's offsets, shared by `group describe` (committed vs log end) and `consume`
 * (where to start). */
typedef struct {
    sl_slice_t topic;
    int32_t partition;
    int64_t committed_offset;                  /* -1: none committed */
    int64_t listed_offset;                     /* from ListOffsets; -1: unknown */
    const sl_described_group_member_t *member; /* group describe: NULL when not assigned */
} sl_cli_offset_row_t;

typedef struct {
    sl_cli_offset_row_t *rows; /* in the client's arena */
    size_t count, cap;
} sl_cli_offset_rows_t;

/* The row for (topic, partition), added when missing (*out valid until the next add). */
int sl__cli_offset_row(sl_cli_client_t *c, sl_cli_offset_rows_t *rows, sl_slice_t topic,
                       int32_t partition, sl_cli_offset_row_t **out);
/* Fills committed_offset from the group's OffsetFetch (adds rows for every committed partition
 * when add_missing, else only updates existing ones). */
int sl__cli_group_committed(sl_cli_client_t *c, const char *group_id, sl_cli_offset_rows_t *rows,
                            bool add_missing);
/* Fills listed_offset by ListOffsets at each partition's leader; timestamp -1 latest, -2 earliest.
 */
int sl__cli_list_offsets(sl_cli_client_t *c, sl_cli_offset_rows_t *rows, int64_t timestamp);

/* Record batch v2 building for `produce` (uncompressed, no producer id). */
typedef struct {
    sl_buf_t buf; /* the batch being built */
    int32_t record_count;
    int64_t base_timestamp;
} sl_cli_batch_t;
void sl__cli_batch_init(sl_cli_batch_t *b, int64_t timestamp_ms);
void sl__cli_batch_deinit(sl_cli_batch_t *b);
/* key.ptr NULL: a null key. 0 or -ENOMEM / SL_ELIMIT. */
int sl__cli_batch_append(sl_cli_batch_t *b, sl_slice_t key, sl_slice_t value);
/* Fills in the header (length, counts, CRC); the batch is then buf.ptr, buf.len. */
void sl__cli_batch_finish(sl_cli_batch_t *b);
/* Kafka's default partitioner for keyed records: murmur2(key) made positive, modulo count. */
int32_t sl__cli_partition_for_key(sl_slice_t key, int32_t partition_count);

#endif
