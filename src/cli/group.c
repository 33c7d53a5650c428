/* group: `sluice group list` (ListGroups on every broker) and `sluice group describe GROUP`: state
 * and members from DescribeGroups, committed offsets from OffsetFetch (both at the coordinator),
 * log end offsets from ListOffsets at each partition's leader, and lag = log end - committed, as
 * kafka-consumer-groups.sh --describe prints them. */
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

#define LATEST_TIMESTAMP (-1)

typedef sl_cli_offset_row_t offset_row_t;
typedef sl_cli_offset_rows_t offset_rows_t;

static bool json_output(const sl_cli_client_t *c)
{
    return c->args->output == SL_CLI_OUTPUT_JSON;
}

/* ---- list ------------------------------------------------------------------------------------ */

static int list_on(sl_cli_client_t *c, int32_t node_id, sl_cli_json_t *j, sl_cli_table_t *t)
{
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    sl_list_groups_request_t req;
    sl_list_groups_response_t resp;
    int rc = sl__cli_prepare(c, node_id, SL_API_LIST_GROUPS, 0, 4, &conn, &version);
    if (rc != 0)
        return rc;
    sl_list_groups_request_init(&req);
    rc = sl__cli_call(c, conn, SL_API_LIST_GROUPS, version, &req, &resp);
    if (rc != 0)
        return rc;
    if (resp.error_code != SL_KERR_NONE)
        return sl__cli_fail_kerr(c, resp.error_code, SL_SLICE_NULL);
    for (int32_t i = 0; i < resp.groups_count; i++) {
        const sl_listed_group_t *g = &resp.groups[i];
        const char *state = version >= 4 ? sl__cli_str(c, g->group_state) : NULL;
        if (json_output(c)) {
            sl__cli_json_object_begin(j);
            sl__cli_json_key(j, "group");
            sl__cli_json_string(j, g->group_id);
            sl__cli_json_key(j, "protocol_type");
            sl__cli_json_string(j, g->protocol_type);
            sl__cli_json_key(j, "state");
            sl__cli_json_cstr(j, state);
            sl__cli_json_key(j, "coordinator");
            sl__cli_json_int(j, node_id);
            sl__cli_json_object_end(j);
        } else {
            const char *row[] = {sl__cli_str(c, g->group_id), state,
                                 sl__cli_str(c, g->protocol_type)};
            if (sl__cli_table_row(t, row) != 0)
                return sl__cli_fail(c, "out of memory");
        }
    }
    return 0;
}

int sl__cli_group_list(sl_cli_client_t *c)
{
    sl_metadata_response_t *md = NULL;
    sl_slice_t none = SL_SLICE_NULL;
    int rc = sl__cli_metadata(c, &none, 0, &md, NULL);
    if (rc != 0)
        return rc;
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl_cli_table_t table;
    static const char *const headers[] = {"GROUP", "STATE", "PROTOCOL-TYPE"};
    sl__cli_doc_init(&doc);
    sl__cli_table_init(&table, 3, headers);
    sl__cli_json_array_begin(j);
    /* Every broker coordinates some groups: ask each, as Kafka's admin client does. */
    for (int32_t i = 0; i < md->brokers_count && rc == 0; i++)
        rc = list_on(c, md->brokers[i].node_id, j, &table);
    sl__cli_json_array_end(j);
    if (rc == 0 && !json_output(c) && sl__cli_table_print(&table, stdout) != 0)
        rc = sl__cli_fail(c, "cannot write the output");
    sl__cli_table_deinit(&table);
    return sl__cli_doc_finish(c, &doc, json_output(c), rc);
}

/* ---- describe: the three questions ------------------------------------------------------------
 */

static int describe_group(sl_cli_client_t *c, const char *group_id,
                          sl_describe_groups_response_described_group_t **out)
{
    for (;;) {
        sl_cli_conn_t *conn = NULL;
        int16_t version = 0;
        int rc = sl__cli_coordinator(c, group_id, &conn);
        rc = rc != 0 ? rc : sl__cli_version(c, conn, SL_API_DESCRIBE_GROUPS, 0, 5, &version);
        if (rc != 0)
            return rc;
        sl_slice_t id = sl_slice_from_str(group_id);
        sl_describe_groups_request_t req;
        sl_describe_groups_response_t resp;
        sl_describe_groups_request_init(&req);
        req.groups = &id;
        req.groups_count = 1;
        rc = sl__cli_call(c, conn, SL_API_DESCRIBE_GROUPS, version, &req, &resp);
        if (rc != 0)
            return rc;
        if (resp.groups_count != 1)
            return sl__cli_fail(c, "DescribeGroups answered %" PRId32 " groups for 1",
                                resp.groups_count);
        int16_t kerr = resp.groups[0].error_code;
        if (kerr == SL_KERR_NONE) {
            *out = &resp.groups[0];
            return 0;
        }
        if (!sl__cli_kerr_retriable(kerr))
            return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
        if (!sl__cli_backoff(c, "DescribeGroups", kerr))
            return SL_CLI_EXIT_ERROR;
    }
}

int sl__cli_offset_row(sl_cli_client_t *c, offset_rows_t *rows, sl_slice_t topic, int32_t partition,
                       offset_row_t **out)
{
    for (size_t i = 0; i < rows->count; i++)
        if (rows->rows[i].partition == partition && sl_slice_eq(rows->rows[i].topic, topic)) {
            *out = &rows->rows[i];
            return 0;
        }
    if (rows->count == rows->cap) {
        size_t cap = SL_MAX(rows->cap * 2, 64);
        offset_row_t *grown = sl_arena_alloc(&c->arena, cap * sizeof *grown);
        if (grown == NULL)
            return sl__cli_fail(c, "out of memory");
        if (rows->count > 0)
            memcpy(grown, rows->rows, rows->count * sizeof *grown);
        rows->rows = grown;
        rows->cap = cap;
    }
    offset_row_t *r = &rows->rows[rows->count++];
    *r = (offset_row_t){
        .topic = topic, .partition = partition, .committed_offset = -1, .listed_offset = -1};
    *out = r;
    return 0;
}

/* Partitions the members were assigned (consumer protocol groups only). */
static int add_assignments(sl_cli_client_t *c,
                           const sl_describe_groups_response_described_group_t *g,
                           offset_rows_t *rows)
{
    SL_ASSERT(g != NULL && rows != NULL);
    if (!sl_slice_eq_str(g->protocol_type, "consumer"))
        return 0;
    for (int32_t m = 0; m < g->members_count; m++) {
        sl_slice_t bytes = g->members[m].member_assignment;
        sl_reader_t r;
        int16_t version = 0;
        sl_consumer_protocol_assignment_t assignment;
        sl_reader_init(&r, bytes.ptr, bytes.len);
        if (bytes.len < 2 || sl_read_i16(&r, &version) != 0 || version < 0)
            continue; /* no assignment yet */
        if (version > sl_consumer_protocol_assignment_desc.valid.max)
            version = sl_consumer_protocol_assignment_desc.valid.max; /* newer adds fields only */
        if (sl_message_decode(&sl_consumer_protocol_assignment_desc, &r, &c->arena, version,
                              &assignment) != 0)
            continue; /* not ours to judge: shown without an assignment */
        for (int32_t t = 0; t < assignment.assigned_partitions_count; t++) {
            const sl_consumer_protocol_assignment_topic_partition_t *tp =
                &assignment.assigned_partitions[t];
            for (int32_t p = 0; p < tp->partitions_count; p++) {
                offset_row_t *row = NULL;
                if (sl__cli_offset_row(c, rows, tp->topic, tp->partitions[p], &row) != 0)
                    return SL_CLI_EXIT_ERROR;
                SL_ASSERT(row != NULL);
                row->member = &g->members[m];
            }
        }
    }
    return 0;
}

static int offset_fetch_request(sl_cli_client_t *c, const char *group_id, int16_t *version,
                                sl_offset_fetch_response_t *resp)
{
    sl_cli_conn_t *conn = NULL;
    int rc = sl__cli_coordinator(c, group_id, &conn);
    /* v2+: a null topic list means every topic the group has offsets for. */
    rc = rc != 0 ? rc : sl__cli_version(c, conn, SL_API_OFFSET_FETCH, 2, 9, version);
    if (rc != 0)
        return rc;
    sl_offset_fetch_request_t req;
    sl_offset_fetch_request_group_t group;
    sl_offset_fetch_request_init(&req);
    if (*version >= 8) {
        sl_message_init(&sl_offset_fetch_request_group_desc, &group);
        group.group_id = sl_slice_from_str(group_id);
        group.topics = NULL;
        group.topics_count = -1;
        req.groups = &group;
        req.groups_count = 1;
    } else {
        req.group_id = sl_slice_from_str(group_id);
        req.topics = NULL;
        req.topics_count = -1;
    }
    return sl__cli_call(c, conn, SL_API_OFFSET_FETCH, *version, &req, resp);
}

/* Committed offsets into rows; retried while the coordinator moves or loads. */
int sl__cli_group_committed(sl_cli_client_t *c, const char *group_id, offset_rows_t *rows,
                            bool add_missing)
{
    for (;;) {
        int16_t version = 0;
        sl_offset_fetch_response_t resp;
        int rc = offset_fetch_request(c, group_id, &version, &resp);
        if (rc != 0)
            return rc;
        int16_t kerr = version >= 8 ? (resp.groups_count == 1 ? resp.groups[0].error_code
                                                              : SL_KERR_UNKNOWN_SERVER_ERROR)
                                    : resp.error_code;
        if (kerr != SL_KERR_NONE) {
            if (!sl__cli_kerr_retriable(kerr))
                return sl__cli_fail_kerr(c, kerr, SL_SLICE_NULL);
            if (!sl__cli_backoff(c, "OffsetFetch", kerr))
                return SL_CLI_EXIT_ERROR;
            continue;
        }
        int32_t topic_count = version >= 8 ? resp.groups[0].topics_count : resp.topics_count;
        for (int32_t t = 0; t < topic_count; t++) {
            /* v8+ and v2-7 nest the same fields under different struct types. */
            sl_slice_t name = version >= 8 ? resp.groups[0].topics[t].name : resp.topics[t].name;
            int32_t pcount = version >= 8 ? resp.groups[0].topics[t].partitions_count
                                          : resp.topics[t].partitions_count;
            for (int32_t p = 0; p < pcount; p++) {
                int32_t index = version >= 8
                                    ? resp.groups[0].topics[t].partitions[p].partition_index
                                    : resp.topics[t].partitions[p].partition_index;
                int64_t offset = version >= 8
                                     ? resp.groups[0].topics[t].partitions[p].committed_offset
                                     : resp.topics[t].partitions[p].committed_offset;
                offset_row_t *row = NULL;
                bool known = false;
                for (size_t i = 0; i < rows->count && !known; i++)
                    known =
                        rows->rows[i].partition == index && sl_slice_eq(rows->rows[i].topic, name);
                if (offset < 0 || (!known && !add_missing))
                    continue;
                if (sl__cli_offset_row(c, rows, name, index, &row) != 0)
                    return SL_CLI_EXIT_ERROR;
                SL_ASSERT(row != NULL);
                row->committed_offset = offset;
            }
        }
        return 0;
    }
}

/* ListOffsets(timestamp) for the rows led by leader_id. */
static int list_offsets_at(sl_cli_client_t *c, int32_t leader_id, const sl_metadata_response_t *md,
                           offset_rows_t *rows, int64_t timestamp)
{
    sl_cli_conn_t *conn = NULL;
    int16_t version = 0;
    int rc = sl__cli_prepare(c, leader_id, SL_API_LIST_OFFSETS, 1, 9, &conn, &version);
    if (rc != 0)
        return rc;
    sl_list_offsets_request_t req;
    sl_list_offsets_request_init(&req);
    req.replica_id = -1;
    req.topics = sl_arena_alloc(&c->arena, rows->count * sizeof *req.topics);
    sl_list_offsets_partition_t *parts = sl_arena_alloc(&c->arena, rows->count * sizeof *parts);
    if (req.topics == NULL || parts == NULL)
        return sl__cli_fail(c, "out of memory");
    /* One topic entry per row keeps this simple; brokers accept repeated topic names. */
    int32_t n = 0;
    for (size_t i = 0; i < rows->count; i++) {
        bool led = false;
        for (int32_t t = 0; t < md->topics_count && !led; t++)
            for (int32_t p = 0; sl_slice_eq(md->topics[t].name, rows->rows[i].topic) &&
                                p < md->topics[t].partitions_count && !led;
                 p++)
                led = md->topics[t].partitions[p].partition_index == rows->rows[i].partition &&
                      md->topics[t].partitions[p].leader_id == leader_id;
        if (!led)
            continue;
        sl_message_init(&sl_list_offsets_partition_desc, &parts[n]);
        parts[n].partition_index = rows->rows[i].partition;
        parts[n].timestamp = timestamp;
        req.topics[n] = (sl_list_offsets_topic_t){
            .name = rows->rows[i].topic, .partitions = &parts[n], .partitions_count = 1};
        n++;
    }
    req.topics_count = n;
    if (n == 0)
        return 0;
    sl_list_offsets_response_t resp;
    rc = sl__cli_call(c, conn, SL_API_LIST_OFFSETS, version, &req, &resp);
    if (rc != 0)
        return rc;
    for (int32_t t = 0; t < resp.topics_count; t++)
        for (int32_t p = 0; p < resp.topics[t].partitions_count; p++) {
            const sl_list_offsets_partition_response_t *pr = &resp.topics[t].partitions[p];
            offset_row_t *row = NULL;
            if (pr->error_code == SL_KERR_NONE &&
                sl__cli_offset_row(c, rows, resp.topics[t].name, pr->partition_index, &row) == 0)
                row->listed_offset = pr->offset;
        }
    return 0;
}

int sl__cli_list_offsets(sl_cli_client_t *c, offset_rows_t *rows, int64_t timestamp)
{
    if (rows->count == 0)
        return 0;
    sl_slice_t *names = sl_arena_alloc(&c->arena, rows->count * sizeof *names);
    if (names == NULL)
        return sl__cli_fail(c, "out of memory");
    size_t name_count = 0;
    for (size_t i = 0; i < rows->count; i++) {
        bool seen = false;
        for (size_t k = 0; k < name_count && !seen; k++)
            seen = sl_slice_eq(names[k], rows->rows[i].topic);
        if (!seen)
            names[name_count++] = rows->rows[i].topic;
    }
    sl_metadata_response_t *md = NULL;
    int rc = sl__cli_metadata(c, names, name_count, &md, NULL);
    if (rc != 0)
        return rc;
    int32_t done[SL_CLI_NODES_MAX];
    size_t done_count = 0;
    for (int32_t t = 0; t < md->topics_count; t++)
        for (int32_t p = 0; p < md->topics[t].partitions_count; p++) {
            int32_t leader = md->topics[t].partitions[p].leader_id;
            bool seen = leader < 0;
            for (size_t k = 0; k < done_count && !seen; k++)
                seen = done[k] == leader;
            if (seen || done_count == SL_CLI_NODES_MAX)
                continue;
            done[done_count++] = leader;
            rc = list_offsets_at(c, leader, md, rows, timestamp);
            if (rc != 0)
                return rc;
        }
    return 0;
}

/* ---- describe: output -------------------------------------------------------------------------
 */

static int row_cmp(const void *a, const void *b)
{
    const offset_row_t *x = a, *y = b;
    size_t n = SL_MIN(x->topic.len, y->topic.len);
    int d = n > 0 ? memcmp(x->topic.ptr, y->topic.ptr, n) : 0;
    if (d == 0)
        d = (x->topic.len > y->topic.len) - (x->topic.len < y->topic.len);
    return d != 0 ? d : (x->partition > y->partition) - (x->partition < y->partition);
}

static void json_member(sl_cli_json_t *j, const sl_described_group_member_t *m,
                        const offset_rows_t *rows)
{
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "member_id");
    sl__cli_json_string(j, m->member_id);
    sl__cli_json_key(j, "group_instance_id");
    sl__cli_json_string(j, m->group_instance_id);
    sl__cli_json_key(j, "client_id");
    sl__cli_json_string(j, m->client_id);
    sl__cli_json_key(j, "host");
    sl__cli_json_string(j, m->client_host);
    sl__cli_json_key(j, "assignment");
    sl__cli_json_array_begin(j);
    for (size_t i = 0; i < rows->count; i++) {
        if (rows->rows[i].member != m)
            continue;
        sl__cli_json_object_begin(j);
        sl__cli_json_key(j, "topic");
        sl__cli_json_string(j, rows->rows[i].topic);
        sl__cli_json_key(j, "partition");
        sl__cli_json_int(j, rows->rows[i].partition);
        sl__cli_json_object_end(j);
    }
    sl__cli_json_array_end(j);
    sl__cli_json_object_end(j);
}

static void json_offset(sl_cli_json_t *j, const offset_row_t *r)
{
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "topic");
    sl__cli_json_string(j, r->topic);
    sl__cli_json_key(j, "partition");
    sl__cli_json_int(j, r->partition);
    sl__cli_json_key(j, "committed_offset");
    if (r->committed_offset >= 0)
        sl__cli_json_int(j, r->committed_offset);
    else
        sl__cli_json_null(j);
    sl__cli_json_key(j, "log_end_offset");
    if (r->listed_offset >= 0)
        sl__cli_json_int(j, r->listed_offset);
    else
        sl__cli_json_null(j);
    sl__cli_json_key(j, "lag");
    if (r->committed_offset >= 0 && r->listed_offset >= 0)
        sl__cli_json_int(j, SL_MAX(r->listed_offset - r->committed_offset, 0));
    else
        sl__cli_json_null(j);
    sl__cli_json_key(j, "member_id");
    sl__cli_json_string(j, r->member != NULL ? r->member->member_id : SL_SLICE_NULL);
    sl__cli_json_object_end(j);
}

static int print_json(sl_cli_client_t *c, const sl_describe_groups_response_described_group_t *g,
                      const offset_rows_t *rows)
{
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "group");
    sl__cli_json_string(j, g->group_id);
    sl__cli_json_key(j, "state");
    sl__cli_json_string(j, g->group_state);
    sl__cli_json_key(j, "protocol_type");
    sl__cli_json_string(j, g->protocol_type);
    sl__cli_json_key(j, "protocol");
    sl__cli_json_string(j, g->protocol_data);
    sl__cli_json_key(j, "members");
    sl__cli_json_array_begin(j);
    for (int32_t m = 0; m < g->members_count; m++)
        json_member(j, &g->members[m], rows);
    sl__cli_json_array_end(j);
    sl__cli_json_key(j, "offsets");
    sl__cli_json_array_begin(j);
    for (size_t i = 0; i < rows->count; i++)
        json_offset(j, &rows->rows[i]);
    sl__cli_json_array_end(j);
    sl__cli_json_object_end(j);
    return sl__cli_doc_finish(c, &doc, true, 0);
}

static int print_table(sl_cli_client_t *c, const sl_describe_groups_response_described_group_t *g,
                       const offset_rows_t *rows)
{
    printf("Group: %.*s\tState: %.*s\tProtocol: %.*s\tMembers: %" PRId32 "\n", (int)g->group_id.len,
           (const char *)g->group_id.ptr, (int)g->group_state.len, (const char *)g->group_state.ptr,
           (int)g->protocol_data.len, (const char *)g->protocol_data.ptr, g->members_count);
    static const char *const headers[] = {"TOPIC",          "PARTITION", "CURRENT-OFFSET",
                                          "LOG-END-OFFSET", "LAG",       "CONSUMER-ID",
                                          "HOST",           "CLIENT-ID"};
    sl_cli_table_t table;
    sl__cli_table_init(&table, 8, headers);
    int rc = 0;
    for (size_t i = 0; i < rows->count && rc == 0; i++) {
        const offset_row_t *r = &rows->rows[i];
        char part[16], cur[24] = "-", leo[24] = "-", lag[24] = "-";
        snprintf(part, sizeof part, "%" PRId32, r->partition);
        if (r->committed_offset >= 0)
            snprintf(cur, sizeof cur, "%" PRId64, r->committed_offset);
        if (r->listed_offset >= 0)
            snprintf(leo, sizeof leo, "%" PRId64, r->listed_offset);
        if (r->committed_offset >= 0 && r->listed_offset >= 0)
            snprintf(lag, sizeof lag, "%" PRId64,
                     SL_MAX(r->listed_offset - r->committed_offset, 0));
        const sl_described_group_member_t *m = r->member;
        const char *row[] = {sl__cli_str(c, r->topic),
                             part,
                             cur,
                             leo,
                             lag,
                             m ? sl__cli_str(c, m->member_id) : NULL,
                             m ? sl__cli_str(c, m->client_host) : NULL,
                             m ? sl__cli_str(c, m->client_id) : NULL};
        rc = sl__cli_table_row(&table, row);
    }
    rc = rc != 0 ? rc : sl__cli_table_print(&table, stdout);
    sl__cli_table_deinit(&table);
    return rc != 0 ? sl__cli_fail(c, "cannot write the output") : 0;
}

int sl__cli_group_describe(sl_cli_client_t *c)
{
    const char *group_id = c->args->positionals[0];
    sl_describe_groups_response_described_group_t *g = NULL;
    offset_rows_t rows = {0};
    int rc = describe_group(c, group_id, &g);
    rc = rc != 0 ? rc : add_assignments(c, g, &rows);
    rc = rc != 0 ? rc : sl__cli_group_committed(c, group_id, &rows, true);
    if (rc != 0)
        return rc;
    SL_ASSERT(g != NULL);
    if (sl_slice_eq_str(g->group_state, "Dead") && rows.count == 0)
        return sl__cli_fail(c, "GROUP_ID_NOT_FOUND: Group '%s' does not exist", group_id);
    rc = sl__cli_list_offsets(c, &rows, LATEST_TIMESTAMP);
    if (rc != 0)
        return rc;
    if (rows.count > 1)
        qsort(rows.rows, rows.count, sizeof *rows.rows, row_cmp);
    return json_output(c) ? print_json(c, g, &rows) : print_table(c, g, &rows);
}
