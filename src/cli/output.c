/* output: the admin CLI's two output forms. Tables pad each column to its widest cell (two spaces
 * between columns, no trailing blanks), as kafka-consumer-groups.sh prints them; JSON is written by
 * a small streaming writer that owns commas and escaping, so command code only says what to emit.
 * Invariant: the JSON writer emits valid UTF-8 JSON whatever bytes a record holds. */
#include <errno.h>
#include <string.h>

#include "cli_int.h"

/* ---- tables ---------------------------------------------------------------------------------- */

void sl__cli_table_init(sl_cli_table_t *t, size_t column_count, const char *const *headers)
{
    SL_ASSERT(column_count > 0 && column_count <= SL_CLI_TABLE_COLUMNS_MAX);
    t->column_count = column_count;
    t->row_count = 0;
    sl_buf_init(&t->cells, 0);
    int rc = sl__cli_table_row(t, headers);
    (void)rc; /* out of memory shows as a table without its header, never as a crash */
}

void sl__cli_table_deinit(sl_cli_table_t *t)
{
    sl_buf_deinit(&t->cells);
}

int sl__cli_table_row(sl_cli_table_t *t, const char *const *cells)
{
    SL_ASSERT(t != NULL && cells != NULL);
    size_t len_before = t->cells.len;
    for (size_t i = 0; i < t->column_count; i++) {
        const char *cell = cells[i] != NULL ? cells[i] : "-";
        int rc = sl_buf_append(&t->cells, cell, strlen(cell) + 1);
        if (rc != 0) {
            t->cells.len = len_before; /* a row is there whole or not at all */
            return rc;
        }
    }
    t->row_count++;
    return 0;
}

/* Display width of a cell: UTF-8 continuation bytes take no column. */
static size_t cell_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

int sl__cli_table_print(const sl_cli_table_t *t, FILE *out)
{
    SL_ASSERT(t != NULL && out != NULL);
    size_t widths[SL_CLI_TABLE_COLUMNS_MAX] = {0};
    const char *p = (const char *)t->cells.ptr;
    for (size_t r = 0; r < t->row_count; r++)
        for (size_t col = 0; col < t->column_count; col++) {
            widths[col] = SL_MAX(widths[col], cell_width(p));
            p += strlen(p) + 1;
        }
    p = (const char *)t->cells.ptr;
    for (size_t r = 0; r < t->row_count; r++) {
        for (size_t col = 0; col < t->column_count; col++) {
            bool last = col + 1 == t->column_count;
            fputs(p, out);
            if (!last)
                fprintf(out, "%*s", (int)(widths[col] - cell_width(p) + 2), "");
            p += strlen(p) + 1;
        }
        fputc('\n', out);
    }
    return ferror(out) ? -EIO : 0;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

void sl__cli_json_init(sl_cli_json_t *j, sl_buf_t *buf)
{
    SL_ASSERT(j != NULL && buf != NULL);
    memset(j, 0, sizeof *j);
    j->buf = buf;
    j->first[0] = true;
}

static void put(sl_cli_json_t *j, const void *data, size_t len)
{
    if (j->rc == 0)
        j->rc = sl_buf_append(j->buf, data, len);
}

/* Every value starts here: a comma unless first at its depth or right after a key. */
static void value_prefix(sl_cli_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        put(j, ",", 1);
    j->first[j->depth] = false;
}

static void open_nested(sl_cli_json_t *j, char c)
{
    value_prefix(j);
    put(j, &c, 1);
    if (j->depth + 1 >= SL_CLI_JSON_DEPTH_MAX) {
        j->rc = j->rc != 0 ? j->rc : SL_ELIMIT;
        return;
    }
    j->depth++;
    j->first[j->depth] = true;
}

static void close_nested(sl_cli_json_t *j, char c)
{
    SL_ASSERT(!j->after_key);
    if (j->depth > 0)
        j->depth--;
    put(j, &c, 1);
}

void sl__cli_json_object_begin(sl_cli_json_t *j)
{
    open_nested(j, '{');
}

void sl__cli_json_object_end(sl_cli_json_t *j)
{
    close_nested(j, '}');
}

void sl__cli_json_array_begin(sl_cli_json_t *j)
{
    open_nested(j, '[');
}

void sl__cli_json_array_end(sl_cli_json_t *j)
{
    close_nested(j, ']');
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not valid. */
static size_t utf8_sequence_len(const uint8_t *s, size_t n)
{
    size_t len = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
        return 0; /* overlong, or a UTF-16 surrogate */
    if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
        return 0; /* overlong, or past U+10FFFF */
    return len;
}

static void put_escaped(sl_cli_json_t *j, const uint8_t *s, size_t n)
{
    put(j, "\"", 1);
    size_t i = 0;
    while (i < n) {
        uint8_t ch = s[i];
        if (ch >= 0x80) {
            size_t len = utf8_sequence_len(s + i, n - i);
            if (len == 0) {
                put(j, "\\ufffd", 6);
                i++;
            } else {
                put(j, s + i, len);
                i += len;
            }
            continue;
        }
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            put(j, esc, 2);
        } else if (ch == '\n') {
            put(j, "\\n", 2);
        } else if (ch == '\t') {
            put(j, "\\t", 2);
        } else if (ch == '\r') {
            put(j, "\\r", 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            put(j, esc, 6);
        } else {
            put(j, &ch, 1);
        }
        i++;
    }
    put(j, "\"", 1);
}

void sl__cli_json_key(sl_cli_json_t *j, const char *key)
{
    SL_ASSERT(key != NULL && !j->after_key);
    value_prefix(j);
    put_escaped(j, (const uint8_t *)key, strlen(key));
    put(j, ":", 1);
    j->after_key = true;
}

void sl__cli_json_string(sl_cli_json_t *j, sl_slice_t s)
{
    if (s.ptr == NULL) {
        sl__cli_json_null(j);
        return;
    }
    value_prefix(j);
    put_escaped(j, s.ptr, s.len);
}

void sl__cli_json_cstr(sl_cli_json_t *j, const char *s)
{
    sl__cli_json_string(j, s != NULL ? sl_slice_from_str(s) : SL_SLICE_NULL);
}

void sl__cli_json_int(sl_cli_json_t *j, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, v);
    value_prefix(j);
    put(j, text, (size_t)n);
}

void sl__cli_json_bool(sl_cli_json_t *j, bool v)
{
    value_prefix(j);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void sl__cli_json_null(sl_cli_json_t *j)
{
    value_prefix(j);
    put(j, "null", 4);
}

int sl__cli_json_print(sl_cli_json_t *j, FILE *out)
{
    SL_ASSERT(j->depth == 0);
    if (j->rc != 0)
        return j->rc;
    if (fwrite(j->buf->ptr, 1, j->buf->len, out) != j->buf->len || fputc('\n', out) == EOF)
        return -EIO;
    return 0;
}

void sl__cli_doc_init(sl_cli_doc_t *doc)
{
    sl_buf_init(&doc->buf, 0);
    sl__cli_json_init(&doc->json, &doc->buf);
}

int sl__cli_doc_finish(sl_cli_client_t *c, sl_cli_doc_t *doc, bool print, int status)
{
    SL_ASSERT(doc->json.buf == &doc->buf);
    if (print && status == 0 && sl__cli_json_print(&doc->json, stdout) != 0)
        status = sl__cli_fail(c, "cannot write the output");
    sl_buf_deinit(&doc->buf);
    return status;
}
