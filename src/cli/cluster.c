/* cluster: `sluice cluster describe`: the cluster id, the controller and the brokers, from
 * Metadata (which every Kafka-compatible broker answers, unlike DescribeCluster). */
#include <stdlib.h>

#include "cli_int.h"

static int broker_cmp(const void *a, const void *b)
{
    const sl_metadata_response_broker_t *x = a, *y = b;
    return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

static int print_json(sl_cli_client_t *c, const sl_metadata_response_t *md)
{
    sl_cli_doc_t doc;
    sl_cli_json_t *j = &doc.json;
    sl__cli_doc_init(&doc);
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "cluster_id");
    sl__cli_json_string(j, md->cluster_id);
    sl__cli_json_key(j, "controller");
    sl__cli_json_int(j, md->controller_id);
    sl__cli_json_key(j, "brokers");
    sl__cli_json_array_begin(j);
    for (int32_t i = 0; i < md->brokers_count; i++) {
        const sl_metadata_response_broker_t *b = &md->brokers[i];
        sl__cli_json_object_begin(j);
        sl__cli_json_key(j, "id");
        sl__cli_json_int(j, b->node_id);
        sl__cli_json_key(j, "host");
        sl__cli_json_string(j, b->host);
        sl__cli_json_key(j, "port");
        sl__cli_json_int(j, b->port);
        sl__cli_json_key(j, "rack");
        sl__cli_json_string(j, b->rack);
        sl__cli_json_object_end(j);
    }
    sl__cli_json_array_end(j);
    sl__cli_json_object_end(j);
    return sl__cli_doc_finish(c, &doc, true, 0);
}

static int print_table(sl_cli_client_t *c, const sl_metadata_response_t *md)
{
    printf("Cluster ID: %.*s\nController: %" PRId32 "\n",
           md->cluster_id.ptr != NULL ? (int)md->cluster_id.len : 1,
           md->cluster_id.ptr != NULL ? (const char *)md->cluster_id.ptr : "-", md->controller_id);
    static const char *const headers[] = {"BROKER", "HOST", "PORT", "RACK"};
    sl_cli_table_t table;
    sl__cli_table_init(&table, 4, headers);
    int rc = 0;
    for (int32_t i = 0; i < md->brokers_count && rc == 0; i++) {
        const sl_metadata_response_broker_t *b = &md->brokers[i];
        char id[16], port[16];
        snprintf(id, sizeof id, "%" PRId32, b->node_id);
        snprintf(port, sizeof port, "%" PRId32, b->port);
        const char *row[] = {id, sl__cli_str(c, b->host), port, sl__cli_str(c, b->rack)};
        rc = sl__cli_table_row(&table, row);
    }
    rc = rc != 0 ? rc : sl__cli_table_print(&table, stdout);
    sl__cli_table_deinit(&table);
    return rc != 0 ? sl__cli_fail(c, "cannot write the output") : 0;
}

int sl__cli_cluster_describe(sl_cli_client_t *c)
{
    sl_metadata_response_t *md = NULL;
    sl_slice_t none = SL_SLICE_NULL;
    int rc = sl__cli_metadata(c, &none, 0, &md, NULL);
    if (rc != 0)
        return rc;
    if (md->brokers_count > 1)
        qsort(md->brokers, (size_t)md->brokers_count, sizeof *md->brokers, broker_cmp);
    return c->args->output == SL_CLI_OUTPUT_JSON ? print_json(c, md) : print_table(c, md);
}
