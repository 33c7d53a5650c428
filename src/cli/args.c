/* args: the admin CLI's command line. `sluice <command> [<subcommand>] [options] [names...]`;
 * options may come before or after the names (as with Kafka's tools), as `--opt value` or
 * `--opt=value`. Each option is valid only for the commands its table row lists, so a misplaced
 * flag is a usage error rather than silently ignored. No I/O here: unit-tested on its own. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

#define CMD_BIT(c) (1u << (c))
#define ALL_CMDS 0xffffffffu
#define TOPIC_CREATE CMD_BIT(SL_CLI_TOPIC_CREATE)
#define PRODUCE CMD_BIT(SL_CLI_PRODUCE)
#define CONSUME CMD_BIT(SL_CLI_CONSUME)

typedef enum {
    OPT_BOOTSTRAP = 1,
    OPT_OUTPUT,
    OPT_TIMEOUT,
    OPT_PARTITIONS,
    OPT_REPLICATION_FACTOR,
    OPT_CONFIG,
    OPT_IF_NOT_EXISTS,
    OPT_VALIDATE_ONLY,
    OPT_IF_EXISTS,
    OPT_SET,
    OPT_DELETE,
    OPT_KEY_SEPARATOR,
    OPT_PARTITION,
    OPT_ACKS,
    OPT_FROM_BEGINNING,
    OPT_GROUP,
    OPT_MAX_MESSAGES,
    OPT_PRINT_KEYS,
    OPT_PRINT_HEADERS,
    OPT_PRINT_OFFSETS,
} option_id_t;

typedef struct {
    const char *name;
    option_id_t id;
    bool takes_value;
    uint32_t commands; /* CMD_BIT mask of the commands that accept it */
} option_t;

static const option_t options[] = {
    {"--bootstrap-server", OPT_BOOTSTRAP, true, ALL_CMDS},
    {"--output", OPT_OUTPUT, true, ALL_CMDS},
    {"--timeout", OPT_TIMEOUT, true, ALL_CMDS},
    {"--partitions", OPT_PARTITIONS, true, TOPIC_CREATE},
    {"--replication-factor", OPT_REPLICATION_FACTOR, true, TOPIC_CREATE},
    {"--config", OPT_CONFIG, true, TOPIC_CREATE},
    {"--if-not-exists", OPT_IF_NOT_EXISTS, false, TOPIC_CREATE},
    {"--validate-only", OPT_VALIDATE_ONLY, false, TOPIC_CREATE},
    {"--if-exists", OPT_IF_EXISTS, false, CMD_BIT(SL_CLI_TOPIC_DELETE)},
    {"--set", OPT_SET, true, CMD_BIT(SL_CLI_TOPIC_ALTER_CONFIG)},
    {"--delete", OPT_DELETE, true, CMD_BIT(SL_CLI_TOPIC_ALTER_CONFIG)},
    {"--key-separator", OPT_KEY_SEPARATOR, true, PRODUCE | CONSUME},
    {"--partition", OPT_PARTITION, true, PRODUCE | CONSUME},
    {"--acks", OPT_ACKS, true, PRODUCE},
    {"--from-beginning", OPT_FROM_BEGINNING, false, CONSUME},
    {"--group", OPT_GROUP, true, CONSUME},
    {"--max-messages", OPT_MAX_MESSAGES, true, CONSUME},
    {"--print-keys", OPT_PRINT_KEYS, false, CONSUME},
    {"--print-headers", OPT_PRINT_HEADERS, false, CONSUME},
    {"--print-offsets", OPT_PRINT_OFFSETS, false, CONSUME},
};

typedef struct {
    const char *command, *subcommand; /* subcommand NULL: the command stands alone */
    sl_cli_command_t id;
    size_t positional_min, positional_max;
    const char *positional_name; /* for the usage error */
} command_t;

static const command_t commands[] = {
    {"topic", "create", SL_CLI_TOPIC_CREATE, 1, 1, "NAME"},
    {"topic", "list", SL_CLI_TOPIC_LIST, 0, 0, NULL},
    {"topic", "describe", SL_CLI_TOPIC_DESCRIBE, 0, SL_CLI_POSITIONALS_MAX, "NAME"},
    {"topic", "delete", SL_CLI_TOPIC_DELETE, 1, SL_CLI_POSITIONALS_MAX, "NAME"},
    {"topic", "alter-config", SL_CLI_TOPIC_ALTER_CONFIG, 1, 1, "NAME"},
    {"group", "list", SL_CLI_GROUP_LIST, 0, 0, NULL},
    {"group", "describe", SL_CLI_GROUP_DESCRIBE, 1, 1, "GROUP"},
    {"cluster", "describe", SL_CLI_CLUSTER_DESCRIBE, 0, 0, NULL},
    {"produce", NULL, SL_CLI_PRODUCE, 1, 1, "TOPIC"},
    {"consume", NULL, SL_CLI_CONSUME, 1, 1, "TOPIC"},
};

SL_PRINTF(3, 4) static int usage_error(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return SL_CLI_EXIT_USAGE;
}

bool sl_cli_is_command(const char *name)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].command, name) == 0)
            return true;
    return false;
}

/* Whole-string integer in [min, max]; false for anything else. */
static bool parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (text == NULL || *text == '\0')
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* "1500", "1500ms", "2s", "1m": a duration in milliseconds, at most a day. */
static bool parse_duration_ms(const char *text, int64_t *out)
{
    char digits[32];
    size_t n = strspn(text, "0123456789");
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, text, n);
    digits[n] = '\0';
    int64_t v = 0, scale = 1;
    if (!parse_int(digits, 0, 86400000, &v))
        return false;
    const char *unit = text + n;
    if (strcmp(unit, "s") == 0)
        scale = 1000;
    else if (strcmp(unit, "m") == 0)
        scale = 60000;
    else if (strcmp(unit, "") != 0 && strcmp(unit, "ms") != 0)
        return false;
    if (v * scale > 86400000)
        return false;
    *out = v * scale;
    return true;
}

static int parse_one_address(const char *text, size_t len, sl_cli_address_t *out, char *err,
                             size_t err_len)
{
    const char *colon = NULL;
    const char *host = text;
    size_t host_len = 0;
    if (len > 0 && text[0] == '[') { /* [::1]:9092 */
        const char *close = memchr(text, ']', len);
        if (close == NULL || (size_t)(close - text) + 1 >= len || close[1] != ':')
            return usage_error(err, err_len, "bad address \"%.*s\"", (int)len, text);
        host = text + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        for (size_t i = len; i > 0; i--)
            if (text[i - 1] == ':') {
                colon = text + i - 1;
                break;
            }
        if (colon == NULL)
            return usage_error(err, err_len, "address \"%.*s\" needs host:port", (int)len, text);
        host_len = (size_t)(colon - text);
    }
    char port_text[8];
    size_t port_len = len - (size_t)(colon + 1 - text);
    int64_t port = 0;
    if (host_len == 0 || host_len >= sizeof out->host || port_len == 0 ||
        port_len >= sizeof port_text)
        return usage_error(err, err_len, "bad address \"%.*s\"", (int)len, text);
    memcpy(port_text, colon + 1, port_len);
    port_text[port_len] = '\0';
    if (!parse_int(port_text, 1, 65535, &port))
        return usage_error(err, err_len, "bad port in \"%.*s\"", (int)len, text);
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (int32_t)port;
    return 0;
}

int sl__cli_bootstrap_parse(const char *text, sl_cli_args_t *out, char *err, size_t err_len)
{
    SL_ASSERT(text != NULL && out != NULL);
    out->bootstrap_count = 0;
    const char *p = text;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (out->bootstrap_count == SL_CLI_BOOTSTRAP_MAX)
                return usage_error(err, err_len, "more than %d bootstrap servers",
                                   SL_CLI_BOOTSTRAP_MAX);
            int rc = parse_one_address(p, len, &out->bootstrap[out->bootstrap_count], err, err_len);
            if (rc != 0)
                return rc;
            out->bootstrap_count++;
        }
        p += len + (p[len] == ',' ? 1 : 0);
    }
    if (out->bootstrap_count == 0)
        return usage_error(err, err_len, "empty --bootstrap-server");
    SL_ASSERT(out->bootstrap_count <= SL_CLI_BOOTSTRAP_MAX);
    return 0;
}

static int add_config(sl_cli_args_t *out, const char *opt, const char *text, bool needs_value,
                      char *err, size_t err_len)
{
    if (out->config_count == SL_CLI_CONFIGS_MAX)
        return usage_error(err, err_len, "more than %d configs", SL_CLI_CONFIGS_MAX);
    sl_cli_kv_t *kv = &out->configs[out->config_count];
    const char *eq = strchr(text, '=');
    if (needs_value && (eq == NULL || eq == text))
        return usage_error(err, err_len, "%s wants key=value, got \"%s\"", opt, text);
    if (!needs_value && (eq != NULL || *text == '\0'))
        return usage_error(err, err_len, "%s wants a config name, got \"%s\"", opt, text);
    kv->name = text;
    kv->name_len = needs_value ? (size_t)(eq - text) : strlen(text);
    kv->value = needs_value ? eq + 1 : NULL;
    out->config_count++;
    return 0;
}

static int parse_acks(const char *v, int16_t *out)
{
    if (strcmp(v, "all") == 0 || strcmp(v, "-1") == 0)
        *out = -1;
    else if (strcmp(v, "0") == 0)
        *out = 0;
    else if (strcmp(v, "1") == 0)
        *out = 1;
    else
        return -1;
    return 0;
}

/* Applies one option with its value ("" for flags). */
static int apply_option(sl_cli_args_t *out, const option_t *o, const char *v, char *err,
                        size_t err_len)
{
    int64_t n = 0;
    switch (o->id) {
    case OPT_BOOTSTRAP:
        return sl__cli_bootstrap_parse(v, out, err, err_len);
    case OPT_OUTPUT:
        if (strcmp(v, "table") == 0)
            out->output = SL_CLI_OUTPUT_TABLE;
        else if (strcmp(v, "json") == 0)
            out->output = SL_CLI_OUTPUT_JSON;
        else
            return usage_error(err, err_len, "--output is table or json, not \"%s\"", v);
        return 0;
    case OPT_TIMEOUT:
        if (!parse_duration_ms(v, &out->timeout_ms) || out->timeout_ms == 0)
            return usage_error(err, err_len, "--timeout wants milliseconds (or 5s), not \"%s\"", v);
        out->timeout_given = true;
        return 0;
    case OPT_PARTITIONS:
        if (!parse_int(v, 1, INT32_MAX, &n))
            return usage_error(err, err_len, "--partitions wants a positive number, not \"%s\"", v);
        out->partitions = (int32_t)n;
        return 0;
    case OPT_REPLICATION_FACTOR:
        if (!parse_int(v, 1, INT16_MAX, &n))
            return usage_error(err, err_len, "--replication-factor wants a positive number");
        out->replication_factor = (int16_t)n;
        return 0;
    case OPT_CONFIG:
    case OPT_SET:
        return add_config(out, o->name, v, true, err, err_len);
    case OPT_DELETE:
        return add_config(out, o->name, v, false, err, err_len);
    case OPT_IF_NOT_EXISTS:
        out->if_not_exists = true;
        return 0;
    case OPT_VALIDATE_ONLY:
        out->validate_only = true;
        return 0;
    case OPT_IF_EXISTS:
        out->if_exists = true;
        return 0;
    case OPT_KEY_SEPARATOR:
        if (*v == '\0')
            return usage_error(err, err_len, "--key-separator must not be empty");
        out->key_separator = v;
        return 0;
    case OPT_PARTITION:
        if (!parse_int(v, 0, INT32_MAX, &n))
            return usage_error(err, err_len, "--partition wants a partition number, not \"%s\"", v);
        out->partition = (int32_t)n;
        return 0;
    case OPT_ACKS:
        if (parse_acks(v, &out->acks) != 0)
            return usage_error(err, err_len, "--acks is all, -1, 0 or 1, not \"%s\"", v);
        return 0;
    case OPT_FROM_BEGINNING:
        out->from_beginning = true;
        return 0;
    case OPT_GROUP:
        if (*v == '\0')
            return usage_error(err, err_len, "--group must not be empty");
        out->group = v;
        return 0;
    case OPT_MAX_MESSAGES:
        if (!parse_int(v, 1, INT64_MAX, &out->max_messages))
            return usage_error(err, err_len, "--max-messages wants a positive number");
        return 0;
    case OPT_PRINT_KEYS:
        out->print_keys = true;
        return 0;
    case OPT_PRINT_HEADERS:
        out->print_headers = true;
        return 0;
    case OPT_PRINT_OFFSETS:
        out->print_offsets = true;
        return 0;
    }
    return usage_error(err, err_len, "internal: unhandled option %s", o->name);
}

static const command_t *find_command(int argc, char *const *argv, int *next)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(commands); i++) {
        const command_t *c = &commands[i];
        if (strcmp(argv[1], c->command) != 0)
            continue;
        if (c->subcommand == NULL) {
            *next = 2;
            return c;
        }
        if (argc >= 3 && strcmp(argv[2], c->subcommand) == 0) {
            *next = 3;
            return c;
        }
    }
    return NULL;
}

static void set_defaults(sl_cli_args_t *out)
{
    memset(out, 0, sizeof *out);
    out->timeout_ms = SL_CLI_TIMEOUT_MS_DEFAULT;
    out->partitions = -1;
    out->replication_factor = -1;
    out->partition = -1;
    out->acks = -1;
    out->max_messages = -1;
}

/* Handles argv[*i] (an option): finds it, takes its value, applies it. */
static int parse_option(int argc, char *const *argv, int *i, const command_t *cmd,
                        sl_cli_args_t *out, char *err, size_t err_len)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    for (size_t k = 0; k < SL_ARRAY_LEN(options); k++) {
        const option_t *o = &options[k];
        if (strlen(o->name) != name_len || memcmp(o->name, arg, name_len) != 0)
            continue;
        if ((o->commands & CMD_BIT(cmd->id)) == 0)
            return usage_error(err, err_len, "%s does not apply to \"%s%s%s\"", o->name,
                               cmd->command, cmd->subcommand ? " " : "",
                               cmd->subcommand ? cmd->subcommand : "");
        const char *value = "";
        if (o->takes_value) {
            if (eq != NULL)
                value = eq + 1;
            else if (*i + 1 < argc)
                value = argv[++*i];
            else
                return usage_error(err, err_len, "%s needs a value", o->name);
        } else if (eq != NULL) {
            return usage_error(err, err_len, "%s takes no value", o->name);
        }
        return apply_option(out, o, value, err, err_len);
    }
    return usage_error(err, err_len, "unknown option \"%s\"", arg);
}

int sl__cli_args_parse(int argc, char *const *argv, const char *env_bootstrap, sl_cli_args_t *out,
                       char *err, size_t err_len)
{
    SL_ASSERT(argv != NULL && out != NULL && err != NULL);
    set_defaults(out);
    err[0] = '\0';
    int i = 0;
    const command_t *cmd = argc >= 2 ? find_command(argc, argv, &i) : NULL;
    if (cmd == NULL)
        return usage_error(err, err_len, "unknown command \"%s%s%s\"", argc >= 2 ? argv[1] : "",
                           argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
    out->command = cmd->id;
    int rc = sl__cli_bootstrap_parse(
        env_bootstrap != NULL && *env_bootstrap != '\0' ? env_bootstrap : "localhost:9092", out,
        err, err_len);
    if (rc != 0)
        return usage_error(err, err_len, "SLUICE_BOOTSTRAP: bad value \"%s\"", env_bootstrap);
    bool options_done = false;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            rc = parse_option(argc, argv, &i, cmd, out, err, err_len);
            if (rc != 0)
                return rc;
        } else if (out->positional_count == SL_CLI_POSITIONALS_MAX) {
            return usage_error(err, err_len, "more than %d names", SL_CLI_POSITIONALS_MAX);
        } else {
            out->positionals[out->positional_count++] = arg;
        }
    }
    if (out->positional_count < cmd->positional_min)
        return usage_error(err, err_len, "missing %s", cmd->positional_name);
    if (out->positional_count > cmd->positional_max)
        return usage_error(err, err_len, "unexpected argument \"%s\"",
                           out->positionals[cmd->positional_max]);
    if (cmd->id == SL_CLI_TOPIC_ALTER_CONFIG && out->config_count == 0)
        return usage_error(err, err_len, "alter-config needs --set k=v or --delete k");
    SL_ASSERT(out->positional_count <= SL_CLI_POSITIONALS_MAX);
    return 0;
}
