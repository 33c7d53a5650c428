/* listener.c: parses and prints listener addresses (NAME://host:port) and the items of
 * listener.security.protocol.map (NAME:PROTOCOL), as Kafka writes them.
 * Invariants: listener names come out upper case (Kafka normalises them); an IPv6 host is stored
 * without brackets and only accepted with them; ports are 0..65535. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool host_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool ipv6_char(char c)
{
    return (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.' || c == '%' || (c >= 'g' && c <= 'z');
}

/* Copies an upper-cased listener name of len bytes into out. */
static int name_copy(const char *name, size_t len, char *out, size_t out_len, char *why,
                     size_t why_len)
{
    if (len == 0 || len >= out_len) {
        snprintf(why, why_len, "listener name \"%.*s\" must be 1 to %zu characters", (int)len, name,
                 out_len - 1);
        return SL_ECONFIG;
    }
    for (size_t i = 0; i < len; i++) {
        if (!name_char(name[i])) {
            snprintf(why, why_len,
                     "listener name \"%.*s\" may only hold letters, digits, '_' and '-'", (int)len,
                     name);
            return SL_ECONFIG;
        }
        char c = name[i];
        out[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    out[len] = '\0';
    return 0;
}

/* what names the kind of address in messages: "listener" or "voter". */
static int port_parse(const char *what, const char *text, const char *listener, uint16_t *port,
                      char *why, size_t why_len)
{
    size_t len = strlen(text);
    uint32_t value = 0;
    bool ok = len >= 1 && len <= 5;
    for (size_t i = 0; ok && i < len; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        value = value * 10 + (uint32_t)(text[i] - '0');
    }
    if (!ok || value > 65535) {
        snprintf(why, why_len, "%s \"%s\": port must be between 0 and 65535, got \"%s\"", what,
                 listener, text);
        return SL_ECONFIG;
    }
    *port = (uint16_t)value;
    return 0;
}

/* Splits "host:port" or "[v6]:port" into host (no brackets) and the port text. */
static int host_split(const char *what, const char *text, const char *rest, char *host,
                      const char **port_text, char *why, size_t why_len)
{
    const char *host_start = rest, *host_end, *colon;
    bool v6 = rest[0] == '[';
    if (v6) {
        host_start = rest + 1;
        host_end = strchr(host_start, ']');
        colon = host_end != NULL ? host_end + 1 : NULL;
        if (host_end == NULL || *colon != ':') {
            snprintf(why, why_len, "%s \"%s\": expected [ipv6-address]:port", what, text);
            return SL_ECONFIG;
        }
    } else {
        colon = strrchr(rest, ':');
        host_end = colon;
        if (colon == NULL) {
            snprintf(why, why_len, "%s \"%s\" must look like %s", what, text,
                     strcmp(what, "voter") == 0 ? "id@host:port" : "NAME://host:port");
            return SL_ECONFIG;
        }
    }
    size_t len = (size_t)(host_end - host_start);
    if (len >= SL_LISTENER_HOST_BYTES_MAX || (v6 && len == 0)) {
        snprintf(why, why_len, "%s \"%s\": bad host length", what, text);
        return SL_ECONFIG;
    }
    for (size_t i = 0; i < len; i++) {
        char c = host_start[i];
        if (!v6 && c == ':') {
            snprintf(why, why_len, "%s \"%s\": an IPv6 host must be in brackets, like [::1]", what,
                     text);
            return SL_ECONFIG;
        }
        if (v6 ? !ipv6_char(c) : !host_char(c)) {
            snprintf(why, why_len, "%s \"%s\": invalid character '%c' in host", what, text, c);
            return SL_ECONFIG;
        }
    }
    memcpy(host, host_start, len);
    host[len] = '\0';
    *port_text = colon + 1;
    return 0;
}

int sl__config_listener_parse(const char *text, sl_listener_config_t *out, char *why,
                              size_t why_len)
{
    SL_ASSERT(text != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    const char *sep = strstr(text, "://");
    if (sep == NULL) {
        snprintf(why, why_len, "listener \"%s\" must look like NAME://host:port", text);
        return SL_ECONFIG;
    }
    int rc = name_copy(text, (size_t)(sep - text), out->name, sizeof(out->name), why, why_len);
    if (rc != 0)
        return rc;
    const char *port_text = NULL;
    rc = host_split("listener", text, sep + 3, out->host, &port_text, why, why_len);
    if (rc != 0)
        return rc;
    rc = port_parse("listener", port_text, text, &out->port, why, why_len);
    out->security = SL_SECURITY_PLAINTEXT;
    SL_ASSERT(rc != 0 || out->name[0] != '\0');
    return rc;
}

int sl__config_protocol_map_item_parse(const char *text, char *name, size_t name_len,
                                       sl_security_protocol_t *protocol, char *why, size_t why_len)
{
    SL_ASSERT(text != NULL && name != NULL && protocol != NULL);
    const char *colon = strchr(text, ':');
    if (colon == NULL) {
        snprintf(why, why_len, "\"%s\" must look like NAME:PROTOCOL", text);
        return SL_ECONFIG;
    }
    int rc = name_copy(text, (size_t)(colon - text), name, name_len, why, why_len);
    if (rc != 0)
        return rc;
    static const sl_security_protocol_t all[] = {SL_SECURITY_PLAINTEXT, SL_SECURITY_SSL,
                                                 SL_SECURITY_SASL_PLAINTEXT, SL_SECURITY_SASL_SSL};
    for (size_t i = 0; i < SL_ARRAY_LEN(all); i++) {
        if (strcasecmp(colon + 1, sl_security_protocol_name(all[i])) == 0) {
            *protocol = all[i];
            return 0;
        }
    }
    snprintf(why, why_len,
             "\"%s\" is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)",
             colon + 1);
    return SL_ECONFIG;
}

int sl__config_listener_format(const sl_listener_config_t *listener, char *out, size_t out_len)
{
    SL_ASSERT(listener != NULL && out != NULL);
    bool v6 = strchr(listener->host, ':') != NULL;
    int n = snprintf(out, out_len, "%s://%s%s%s:%u", listener->name, v6 ? "[" : "", listener->host,
                     v6 ? "]" : "", (unsigned)listener->port);
    return n >= 0 && (size_t)n < out_len ? 0 : SL_ELIMIT;
}

int sl__config_voter_parse(const char *text, sl_quorum_voter_config_t *out, char *why,
                           size_t why_len)
{
    SL_ASSERT(text != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    const char *at = strchr(text, '@');
    size_t id_len = at != NULL ? (size_t)(at - text) : 0;
    int64_t id = 0;
    bool ok = id_len >= 1 && id_len <= 10;
    for (size_t i = 0; ok && i < id_len; i++) {
        ok = text[i] >= '0' && text[i] <= '9';
        id = id * 10 + (text[i] - '0');
    }
    if (at == NULL || !ok || id > INT32_MAX) {
        snprintf(why, why_len, "voter \"%s\" must look like id@host:port, with id a node.id", text);
        return SL_ECONFIG;
    }
    const char *port_text = NULL;
    int rc = host_split("voter", text, at + 1, out->host, &port_text, why, why_len);
    if (rc != 0)
        return rc;
    if (out->host[0] == '\0') {
        snprintf(why, why_len, "voter \"%s\" has no host", text);
        return SL_ECONFIG;
    }
    rc = port_parse("voter", port_text, text, &out->port, why, why_len);
    if (rc != 0)
        return rc;
    if (out->port == 0) {
        snprintf(why, why_len, "voter \"%s\": port 0 cannot be reached", text);
        return SL_ECONFIG;
    }
    out->node_id = (int32_t)id;
    return 0;
}

int sl__config_voter_format(const sl_quorum_voter_config_t *voter, char *out, size_t out_len)
{
    SL_ASSERT(voter != NULL && out != NULL);
    bool v6 = strchr(voter->host, ':') != NULL;
    int n = snprintf(out, out_len, "%d@%s%s%s:%u", (int)voter->node_id, v6 ? "[" : "", voter->host,
                     v6 ? "]" : "", (unsigned)voter->port);
    return n >= 0 && (size_t)n < out_len ? 0 : SL_ELIMIT;
}
