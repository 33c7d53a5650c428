/* load.c: the load sequence (defaults, YAML entries, environment entries, rules between keys) and
 * the rules between keys themselves.
 * Invariants: on success cfg is complete and valid; on failure cfg is zeroed and err holds
 * exactly one line; Kafka keys Sluice ignores only warn; unknown keys fail with a suggestion. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_int.h"

/* "file:line:column" of the entry (its value or its key), or the environment variable. */
static void entry_where(const sl_cfg_load_t *load, const sl_cfg_entry_t *entry, bool at_key,
                        char *out, size_t out_len)
{
    if (entry->source == SL_CONFIG_SOURCE_ENV) {
        snprintf(out, out_len, "environment %s", entry->env_name);
        return;
    }
    uint32_t line = at_key ? entry->key_line : entry->value_line;
    uint32_t column = at_key ? entry->key_column : entry->value_column;
    snprintf(out, out_len, "%s:%u:%u", load->file_name, line, column);
}

int sl__config_key_error(const sl_cfg_load_t *load, const sl_config_key_t *key, char *err,
                         size_t err_len, const char *fmt, ...)
{
    char where[SL_CONFIG_ERR_BYTES];
    const sl_cfg_entry_t *entry = load->set_by[sl__config_key_index(key)];
    if (entry != NULL)
        entry_where(load, entry, false, where, sizeof(where));
    else
        snprintf(where, sizeof(where), "%s", load->file_name);
    char why[SL_CONFIG_ERR_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, err_len, "%s: %s: %s", where, key->name, why);
    return SL_ECONFIG;
}

/* ---- rules between keys ---- */

static int resolve_log_dirs(sl_config_t *cfg)
{
    const sl_config_key_t *dirs = sl_config_key_find("log.dirs");
    if (!sl_config_value_is_default(cfg, dirs))
        return 0;
    char *copy = sl_strdup(cfg->log_dir);
    char **list = sl_malloc(sizeof(char *));
    if (copy == NULL || list == NULL) {
        sl_free(copy);
        sl_free(list);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->log_dirs_count; i++)
        sl_free(cfg->log_dirs[i]);
    sl_free(cfg->log_dirs);
    list[0] = copy;
    cfg->log_dirs = list;
    cfg->log_dirs_count = 1;
    return 0;
}

/* Kafka: log.retention.ms, else .minutes, else .hours; any negative result means unlimited. The
 * same for log.roll.ms over log.roll.hours. */
static void resolve_times(sl_config_t *cfg)
{
    if (sl_config_value_is_default(cfg, sl_config_key_find("log.roll.ms")))
        cfg->log_roll_ms = (int64_t)cfg->log_roll_hours * 3600000;
    int64_t retention_ms;
    if (!sl_config_value_is_default(cfg, sl_config_key_find("log.retention.ms")))
        retention_ms = cfg->log_retention_ms;
    else if (!sl_config_value_is_default(cfg, sl_config_key_find("log.retention.minutes")))
        retention_ms = (int64_t)cfg->log_retention_minutes * 60000;
    else
        retention_ms = (int64_t)cfg->log_retention_hours * 3600000;
    cfg->log_retention_ms = retention_ms < 0 ? -1 : retention_ms;
    if (sl_config_value_is_default(cfg, sl_config_key_find("log.flush.interval.ms")))
        cfg->log_flush_interval_ms = INT64_MAX;
}

static int protocol_lookup(const sl_config_t *cfg, const char *name,
                           sl_security_protocol_t *protocol)
{
    /* Kafka: with listener.security.protocol.map left at its default, a controller listener is
     * PLAINTEXT, so `CONTROLLER://:9093` works without mapping it. */
    if (sl_config_value_is_default(cfg, sl_config_key_find("listener.security.protocol.map")) &&
        sl_config_listener_is_controller(cfg, name)) {
        *protocol = SL_SECURITY_PLAINTEXT;
        return 0;
    }
    char item_name[SL_LISTENER_NAME_BYTES_MAX];
    char why[SL_CONFIG_ERR_BYTES];
    for (size_t i = 0; i < cfg->listener_security_protocol_map_count; i++) {
        int rc =
            sl__config_protocol_map_item_parse(cfg->listener_security_protocol_map[i], item_name,
                                               sizeof(item_name), protocol, why, sizeof(why));
        /* The map was validated when it was set. */
        SL_ASSERT(rc == 0);
        if (strcmp(item_name, name) == 0)
            return 0;
    }
    return SL_ENOTFOUND;
}

static int resolve_protocol_map(const sl_config_t *cfg, const sl_cfg_load_t *load, char *err,
                                size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("listener.security.protocol.map");
    char names[SL_CONFIG_LIST_ITEMS_MAX][SL_LISTENER_NAME_BYTES_MAX];
    SL_ASSERT(cfg->listener_security_protocol_map_count <= SL_CONFIG_LIST_ITEMS_MAX);
    for (size_t i = 0; i < cfg->listener_security_protocol_map_count; i++) {
        char why[SL_CONFIG_ERR_BYTES];
        sl_security_protocol_t protocol;
        const char *item = cfg->listener_security_protocol_map[i];
        if (sl__config_protocol_map_item_parse(item, names[i], sizeof(names[i]), &protocol, why,
                                               sizeof(why)) != 0)
            return sl__config_key_error(load, key, err, err_len, "%s", why);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[j], names[i]) == 0)
                return sl__config_key_error(load, key, err, err_len,
                                            "listener name \"%s\" is mapped twice", names[i]);
        }
    }
    return 0;
}

static int resolve_listeners(sl_config_t *cfg, const sl_cfg_load_t *load, char *err, size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("listeners");
    for (size_t i = 0; i < cfg->listeners_count; i++) {
        sl_listener_config_t *l = &cfg->listeners[i];
        if (protocol_lookup(cfg, l->name, &l->security) != 0)
            return sl__config_key_error(
                load, key, err, err_len,
                "listener name \"%s\" is not in listener.security.protocol.map", l->name);
        if (l->security != SL_SECURITY_PLAINTEXT)
            return sl__config_key_error(
                load, key, err, err_len,
                "listener \"%s\" uses %s, which is not implemented yet (only PLAINTEXT is)",
                l->name, sl_security_protocol_name(l->security));
        for (size_t j = 0; j < i; j++) {
            const sl_listener_config_t *o = &cfg->listeners[j];
            if (strcmp(o->name, l->name) == 0)
                return sl__config_key_error(load, key, err, err_len,
                                            "listener name \"%s\" is used twice", l->name);
            if (l->port != 0 && o->port == l->port && strcmp(o->host, l->host) == 0)
                return sl__config_key_error(load, key, err, err_len,
                                            "listeners \"%s\" and \"%s\" use the same port %u",
                                            o->name, l->name, (unsigned)l->port);
        }
    }
    return 0;
}

/* http.listeners reuse the listener syntax; the "name" is the URL scheme, which must be http. */
static int resolve_http_listeners(sl_config_t *cfg, const sl_cfg_load_t *load, char *err,
                                  size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("http.listeners");
    for (size_t i = 0; i < cfg->http_listeners_count; i++) {
        const sl_listener_config_t *l = &cfg->http_listeners[i];
        if (strcmp(l->name, "HTTP") != 0)
            return sl__config_key_error(load, key, err, err_len,
                                        "\"%s://\" is not served: only http:// is", l->name);
        for (size_t j = 0; j < i; j++) {
            const sl_listener_config_t *o = &cfg->http_listeners[j];
            if (l->port != 0 && o->port == l->port && strcmp(o->host, l->host) == 0)
                return sl__config_key_error(load, key, err, err_len,
                                            "host \"%s\" port %u is listed twice", l->host,
                                            (unsigned)l->port);
        }
    }
    return 0;
}

/* Clients are told about every listener except the controller ones (Kafka's rule: clients never
 * talk to the quorum). */
static int resolve_advertised(sl_config_t *cfg, const sl_cfg_load_t *load, char *err,
                              size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("advertised.listeners");
    if (sl_config_value_is_default(cfg, key)) {
        cfg->advertised_listeners_count = 0;
        for (size_t i = 0; i < cfg->listeners_count; i++)
            if (!sl_config_listener_is_controller(cfg, cfg->listeners[i].name))
                cfg->advertised_listeners[cfg->advertised_listeners_count++] = cfg->listeners[i];
        return 0;
    }
    for (size_t i = 0; i < cfg->advertised_listeners_count; i++) {
        sl_listener_config_t *a = &cfg->advertised_listeners[i];
        if (sl_config_listener_is_controller(cfg, a->name))
            return sl__config_key_error(load, key, err, err_len,
                                        "listener \"%s\" is a controller listener "
                                        "(controller.listener.names): clients never use it, so "
                                        "it must not be advertised",
                                        a->name);
        bool found = false;
        for (size_t j = 0; j < cfg->listeners_count && !found; j++) {
            if (strcmp(cfg->listeners[j].name, a->name) == 0) {
                a->security = cfg->listeners[j].security;
                found = true;
            }
        }
        if (!found)
            return sl__config_key_error(load, key, err, err_len,
                                        "listener name \"%s\" is not among listeners", a->name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->advertised_listeners[j].name, a->name) == 0)
                return sl__config_key_error(load, key, err, err_len,
                                            "listener name \"%s\" is advertised twice", a->name);
        }
    }
    return 0;
}

/* Listener names are compared upper case, as listener.c stores them. */
static void upper_case(char *name)
{
    for (char *c = name; *c != '\0'; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
}

/* process.roles: no item twice, derived flags, and no dedicated controller (not built yet). */
static int resolve_roles(sl_config_t *cfg, const sl_cfg_load_t *load, char *err, size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("process.roles");
    cfg->process_role_broker = cfg->process_role_controller = false;
    for (size_t i = 0; i < cfg->process_roles_count; i++) {
        bool *role = strcmp(cfg->process_roles[i], "broker") == 0 ? &cfg->process_role_broker
                                                                  : &cfg->process_role_controller;
        if (*role)
            return sl__config_key_error(load, key, err, err_len, "\"%s\" is listed twice",
                                        cfg->process_roles[i]);
        *role = true;
    }
    if (!cfg->process_role_broker)
        return sl__config_key_error(load, key, err, err_len,
                                    "a dedicated controller (controller without broker) is not "
                                    "supported yet; use broker,controller");
    return 0;
}

static bool has_controller_listener(const sl_config_t *cfg, const char **name)
{
    for (size_t i = 0; i < cfg->listeners_count; i++) {
        if (sl_config_listener_is_controller(cfg, cfg->listeners[i].name)) {
            *name = cfg->listeners[i].name;
            return true;
        }
    }
    return false;
}

/* "1, 2, 3" for messages. */
static void voter_ids(const sl_config_t *cfg, char *out, size_t out_len)
{
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->quorum_voter_count && pos < out_len; i++) {
        int n = snprintf(out + pos, out_len - pos, "%s%d", i > 0 ? ", " : "",
                         (int)cfg->quorum_voters[i].node_id);
        if (n < 0)
            return;
        pos += (size_t)n;
    }
}

/* The KRaft rules between process.roles, node.id, controller.quorum.voters and the listeners.
 * Without voters this node is a cluster of one and none of them applies (today's single node). */
static int resolve_quorum(sl_config_t *cfg, const sl_cfg_load_t *load, char *err, size_t err_len)
{
    const sl_config_key_t *voters_key = sl_config_key_find("controller.quorum.voters");
    const sl_config_key_t *names_key = sl_config_key_find("controller.listener.names");
    size_t client_listeners = 0;
    for (size_t i = 0; i < cfg->listeners_count; i++)
        if (!sl_config_listener_is_controller(cfg, cfg->listeners[i].name))
            client_listeners++;
    if (client_listeners == 0)
        return sl__config_key_error(load, sl_config_key_find("listeners"), err, err_len,
                                    "no listener for clients: every listener is named in "
                                    "controller.listener.names");
    const char *controller_listener = NULL;
    bool has_controller = has_controller_listener(cfg, &controller_listener);
    char ids[SL_CONFIG_ERR_BYTES / 2];
    voter_ids(cfg, ids, sizeof(ids));
    bool is_voter = sl_config_quorum_voter(cfg, cfg->node_id) != NULL;
    if (cfg->quorum_voter_count == 0) {
        if (!cfg->process_role_controller)
            return sl__config_key_error(load, sl_config_key_find("process.roles"), err, err_len,
                                        "a broker without the controller role needs "
                                        "controller.quorum.voters to find the quorum");
        return 0;
    }
    if (cfg->process_role_controller && !is_voter)
        return sl__config_key_error(load, voters_key, err, err_len,
                                    "node.id %d has the controller role (process.roles) but is "
                                    "not among the voters (%s)",
                                    (int)cfg->node_id, ids);
    if (cfg->process_role_controller && !has_controller)
        return sl__config_key_error(load, names_key, err, err_len,
                                    "a controller needs a listener named in "
                                    "controller.listener.names among listeners; none of them is");
    if (!cfg->process_role_controller && is_voter)
        return sl__config_key_error(load, voters_key, err, err_len,
                                    "node.id %d is a voter but process.roles has no controller "
                                    "role",
                                    (int)cfg->node_id);
    if (!cfg->process_role_controller && has_controller)
        return sl__config_key_error(load, sl_config_key_find("listeners"), err, err_len,
                                    "listener \"%s\" is a controller listener, but this node has "
                                    "only the broker role (process.roles)",
                                    controller_listener);
    return 0;
}

/* inter.broker.listener.name: one of listeners, not a controller listener; unset = the first
 * listener clients may use. */
static int resolve_inter_broker(sl_config_t *cfg, const sl_cfg_load_t *load, char *err,
                                size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("inter.broker.listener.name");
    if (sl_config_value_is_default(cfg, key)) {
        for (size_t i = 0; i < cfg->listeners_count; i++) {
            if (sl_config_listener_is_controller(cfg, cfg->listeners[i].name))
                continue;
            char *name = sl_strdup(cfg->listeners[i].name);
            if (name == NULL)
                return -ENOMEM;
            sl_free(cfg->inter_broker_listener_name);
            cfg->inter_broker_listener_name = name;
            return 0;
        }
        return 0; /* unreachable: resolve_quorum refuses a node without a client listener */
    }
    upper_case(cfg->inter_broker_listener_name);
    if (sl_config_listener_is_controller(cfg, cfg->inter_broker_listener_name))
        return sl__config_key_error(load, key, err, err_len,
                                    "\"%s\" is a controller listener (controller.listener.names)",
                                    cfg->inter_broker_listener_name);
    for (size_t i = 0; i < cfg->listeners_count; i++)
        if (strcmp(cfg->listeners[i].name, cfg->inter_broker_listener_name) == 0)
            return 0;
    return sl__config_key_error(load, key, err, err_len,
                                "listener name \"%s\" is not among listeners",
                                cfg->inter_broker_listener_name);
}

/* metadata.log.dir: one of log.dirs (the metadata log is opened with the other dirs); unset =
 * the first. */
static int resolve_metadata_log_dir(sl_config_t *cfg, const sl_cfg_load_t *load, char *err,
                                    size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("metadata.log.dir");
    if (sl_config_value_is_default(cfg, key) || cfg->metadata_log_dir == NULL ||
        cfg->metadata_log_dir[0] == '\0') {
        char *dir = sl_strdup(cfg->log_dirs[0]);
        if (dir == NULL)
            return -ENOMEM;
        sl_free(cfg->metadata_log_dir);
        cfg->metadata_log_dir = dir;
        return 0;
    }
    for (size_t i = 0; i < cfg->log_dirs_count; i++)
        if (strcmp(cfg->log_dirs[i], cfg->metadata_log_dir) == 0)
            return 0;
    return sl__config_key_error(load, key, err, err_len,
                                "\"%s\" is not one of log.dirs (a separate metadata directory is "
                                "not supported yet)",
                                cfg->metadata_log_dir);
}

/* cluster.id: a Kafka uuid when given. Unset with controller.quorum.voters: derived from the
 * voters (ids, hosts, ports in order), so every node configured for the same quorum formats its
 * empty log dirs with the same id and the chart needs no format step; a node whose dirs belong to
 * another cluster (other voters) is refused at start (meta_properties.c). Unset without voters:
 * NULL, the log dirs' own or a random one. The derived id is two 64-bit FNV-1a hashes of the
 * voters' text: an identity, not a secret. */
static int resolve_cluster_id(sl_config_t *cfg, const sl_cfg_load_t *load, char *err,
                              size_t err_len)
{
    const sl_config_key_t *key = sl_config_key_find("cluster.id");
    if (cfg->cluster_id != NULL && cfg->cluster_id[0] != '\0') {
        sl_uuid_t id;
        if (sl_uuid_from_base64(cfg->cluster_id, &id) != 0)
            return sl__config_key_error(load, key, err, err_len,
                                        "\"%s\" is not a Kafka cluster id (22 characters of "
                                        "base64url, as kafka-storage.sh random-uuid prints)",
                                        cfg->cluster_id);
        return 0;
    }
    sl_free(cfg->cluster_id);
    cfg->cluster_id = NULL;
    if (cfg->quorum_voter_count == 0)
        return 0;
    uint64_t h[2] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
    for (size_t i = 0; i < cfg->quorum_voter_count; i++) {
        const sl_quorum_voter_config_t *v = &cfg->quorum_voters[i];
        char text[600];
        int n =
            snprintf(text, sizeof(text), "%d@%s:%u,", (int)v->node_id, v->host, (unsigned)v->port);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < n && j < (int)sizeof(text); j++)
                h[k] = (h[k] ^ (uint8_t)text[j]) * 0x100000001b3ULL;
    }
    sl_uuid_t id;
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 8; j++)
            id.bytes[k * 8 + j] = (uint8_t)(h[k] >> (56 - 8 * j));
    char text[23];
    sl_uuid_to_base64(&id, text);
    cfg->cluster_id = sl_strdup(text);
    return cfg->cluster_id == NULL ? -ENOMEM : 0;
}

int sl__config_resolve(sl_config_t *cfg, const sl_cfg_load_t *load, char *err, size_t err_len)
{
    SL_ASSERT(cfg != NULL && load != NULL);
    int rc = resolve_log_dirs(cfg);
    if (rc != 0)
        return rc;
    resolve_times(cfg);
    /* Listener names are upper case (listener.c); compare like with like from here on. */
    for (size_t i = 0; i < cfg->controller_listener_names_count; i++)
        upper_case(cfg->controller_listener_names[i]);
    rc = resolve_protocol_map(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_listeners(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_roles(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_quorum(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_inter_broker(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_metadata_log_dir(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_cluster_id(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_advertised(cfg, load, err, err_len);
    if (rc == 0)
        rc = resolve_http_listeners(cfg, load, err, err_len);
    if (rc == 0 && cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms)
        rc = sl__config_key_error(load, sl_config_key_find("group.min.session.timeout.ms"), err,
                                  err_len,
                                  "must not be greater than group.max.session.timeout.ms (%d)",
                                  (int)cfg->group_max_session_timeout_ms);
    SL_ASSERT(rc != 0 || cfg->log_dirs_count >= 1);
    SL_ASSERT(rc != 0 || cfg->advertised_listeners_count >= 1);
    return rc;
}

/* ---- applying entries ---- */

static void warn_kafka_key(const sl_cfg_load_t *load, const sl_cfg_entry_t *entry)
{
    char where[SL_CONFIG_ERR_BYTES];
    entry_where(load, entry, true, where, sizeof(where));
    SL_LOG(SL_LOG_WARN, "config", "ignoring Kafka broker key that Sluice does not use key=%s at=%s",
           entry->name, where);
    if (sl__config_warning_hook != NULL)
        sl__config_warning_hook(entry->name, where);
}

static int unknown_key(const sl_cfg_load_t *load, const sl_cfg_entry_t *entry, char *err,
                       size_t err_len)
{
    char where[SL_CONFIG_ERR_BYTES];
    entry_where(load, entry, true, where, sizeof(where));
    const char *suggestion = sl__config_suggest(entry->name);
    if (suggestion != NULL)
        snprintf(err, err_len, "%s: unknown key \"%s\" (did you mean \"%s\"?)", where, entry->name,
                 suggestion);
    else
        snprintf(err, err_len, "%s: unknown key \"%s\"", where, entry->name);
    return SL_ECONFIG;
}

/* Expands ${VAR} in every item, then sets the key. */
static int apply_value(sl_config_t *cfg, const sl_config_key_t *key, const sl_cfg_entry_t *entry,
                       char *why, size_t why_len)
{
    char **expanded = sl_calloc(entry->item_count + 1, sizeof(char *));
    if (expanded == NULL)
        return -ENOMEM;
    int rc = 0;
    size_t done = 0;
    for (; rc == 0 && done < entry->item_count; done++) {
        rc = sl__config_expand(entry->items[done], &expanded[done], why, why_len);
        if (rc != 0)
            break;
    }
    if (rc == 0)
        rc = sl__config_value_set(cfg, key, expanded, entry->item_count, entry->is_list, why,
                                  why_len);
    for (size_t i = 0; i < done; i++)
        sl_free(expanded[i]);
    sl_free(expanded);
    return rc;
}

static bool overridden_by_env(const sl_cfg_entries_t *entries, size_t index)
{
    const sl_cfg_entry_t *entry = &entries->entries[index];
    if (entry->source == SL_CONFIG_SOURCE_ENV)
        return false;
    for (size_t i = index + 1; i < entries->count; i++) {
        const sl_cfg_entry_t *other = &entries->entries[i];
        if (other->source == SL_CONFIG_SOURCE_ENV && strcmp(other->name, entry->name) == 0)
            return true;
    }
    return false;
}

static int apply_entries(sl_config_t *cfg, sl_cfg_load_t *load, const sl_cfg_entries_t *entries,
                         char *err, size_t err_len)
{
    for (size_t i = 0; i < entries->count; i++) {
        const sl_cfg_entry_t *entry = &entries->entries[i];
        const sl_config_key_t *key = sl_config_key_find(entry->name);
        const char *refusal = key == NULL ? sl__config_kafka_key_refusal(entry->name) : NULL;
        if (refusal != NULL) {
            char where[SL_CONFIG_ERR_BYTES];
            entry_where(load, entry, true, where, sizeof(where));
            snprintf(err, err_len, "%s: %s: %s", where, entry->name, refusal);
            return SL_ECONFIG;
        }
        if (key == NULL) {
            if (!sl__config_kafka_key_known(entry->name))
                return unknown_key(load, entry, err, err_len);
            warn_kafka_key(load, entry);
            continue;
        }
        if (overridden_by_env(entries, i))
            continue;
        size_t index = sl__config_key_index(key);
        load->set_by[index] = entry;
        if (entry->is_null)
            return sl__config_key_error(load, key, err, err_len,
                                        "has no value (remove the key to use the default)");
        char why[SL_CONFIG_ERR_BYTES];
        int rc = apply_value(cfg, key, entry, why, sizeof(why));
        if (rc == -ENOMEM)
            return rc;
        if (rc != 0)
            return sl__config_key_error(load, key, err, err_len, "%s", why);
        cfg->sources[index] = (uint8_t)entry->source;
    }
    return 0;
}

int sl_config_load_string(sl_config_t *cfg, const char *name, const char *yaml, size_t len,
                          char *err, size_t err_len)
{
    SL_ASSERT(cfg != NULL && name != NULL);
    SL_ASSERT(err != NULL && err_len > 0);
    SL_ASSERT(yaml != NULL || len == 0);
    err[0] = '\0';
    sl_cfg_entries_t entries = {0};
    sl_cfg_load_t load = {.file_name = name};
    int rc = sl__config_defaults_apply(cfg);
    if (rc == 0)
        rc = sl__config_yaml_parse(name, yaml, len, &entries, err, err_len);
    if (rc == 0)
        rc = sl__config_env_collect(&entries, err, err_len);
    if (rc == 0)
        rc = apply_entries(cfg, &load, &entries, err, err_len);
    if (rc == 0)
        rc = sl__config_resolve(cfg, &load, err, err_len);
    if (rc == -ENOMEM && err[0] == '\0')
        snprintf(err, err_len, "%s: out of memory while loading the configuration", name);
    sl__config_entries_deinit(&entries);
    if (rc != 0)
        sl_config_deinit(cfg);
    SL_ASSERT(rc != 0 || err[0] == '\0');
    return rc;
}

/* Reads the whole file, refusing anything larger than SL_CONFIG_FILE_BYTES_MAX. */
static int file_read(const char *path, char **out, size_t *out_len, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, err_len, "%s: cannot open: %s", path, sl_strerror(rc));
        return rc;
    }
    char *buf = sl_malloc(SL_CONFIG_FILE_BYTES_MAX + 1);
    size_t len = 0;
    int rc = buf == NULL ? -ENOMEM : 0;
    while (rc == 0 && len <= SL_CONFIG_FILE_BYTES_MAX) {
        ssize_t n = read(fd, buf + len, SL_CONFIG_FILE_BYTES_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else if (n == 0)
            break;
        else
            len += (size_t)n;
    }
    close(fd);
    if (rc == 0 && len > SL_CONFIG_FILE_BYTES_MAX) {
        snprintf(err, err_len, "%s: file is larger than %zu bytes", path,
                 (size_t)SL_CONFIG_FILE_BYTES_MAX);
        rc = SL_ECONFIG;
    } else if (rc != 0 && rc != SL_ECONFIG) {
        snprintf(err, err_len, "%s: cannot read: %s", path, sl_strerror(rc));
    }
    if (rc != 0) {
        sl_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int sl_config_load_file(sl_config_t *cfg, const char *path, char *err, size_t err_len)
{
    SL_ASSERT(cfg != NULL && path != NULL);
    SL_ASSERT(err != NULL && err_len > 0);
    char *text = NULL;
    size_t len = 0;
    int rc = file_read(path, &text, &len, err, err_len);
    if (rc != 0) {
        memset(cfg, 0, sizeof(*cfg));
        return rc;
    }
    rc = sl_config_load_string(cfg, path, text, len, err, err_len);
    sl_free(text);
    return rc;
}
