/* limits: every bound the broker enforces that is not a configuration key, in one place, with the
 * relations between them pinned at compile time. */
#ifndef SLUICE_LIMITS_H
#define SLUICE_LIMITS_H

#include "sluice/core.h"

/* A frame's size prefix is read before anything else; anything smaller cannot hold a header. */
#define SL_FRAME_HEADER_BYTES_MIN 8
/* Memory one request may take in its arena beyond its own bytes (decoded structs, arrays). */
#define SL_REQUEST_ARENA_BYTES_MAX (64 * SL_MiB)
/* Requests read ahead on one connection while an earlier one is still being answered. */
#define SL_CONN_REQUESTS_IN_FLIGHT_MAX 64
/* Bytes read but not yet answered, per connection: past this the connection stops reading. */
#define SL_CONN_BYTES_IN_FLIGHT_MAX (128 * SL_MiB)
/* The same, across the whole broker. */
#define SL_BROKER_BYTES_IN_FLIGHT_MAX (512 * SL_MiB)
/* Connections at once; past this, new ones are accepted and closed with a log line. */
#define SL_CONNECTIONS_MAX 10000
/* Listeners per broker. */
#define SL_LISTENERS_MAX 16
/* Kafka's own limit on a topic name. */
#define SL_TOPIC_NAME_BYTES_MAX 249

/* Voters in one Raft quorum (a bitmask of them fits in 32 bits). */
#define SL_RAFT_VOTERS_MAX 16
/* Leader epochs one Raft log remembers (its leader-epoch-checkpoint entries). */
#define SL_RAFT_EPOCH_ENTRIES_MAX 65536

_Static_assert(SL_RAFT_VOTERS_MAX <= 32, "granted votes are a uint32_t bitmask");
_Static_assert(SL_CONN_BYTES_IN_FLIGHT_MAX <= SL_BROKER_BYTES_IN_FLIGHT_MAX,
               "one connection cannot hold more than the whole broker allows");
_Static_assert(SL_FRAME_HEADER_BYTES_MIN == 2 + 2 + 4, "api key, api version, correlation id");

#endif
