/* Unit tests for src/cli/output.c: tables padded to the widest cell (UTF-8 counted by characters,
 * NULL cells as "-"), and the JSON writer's commas, nesting and escaping (control characters,
 * quotes, invalid UTF-8 replaced so the output always parses). Output goes to in-memory FILEs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli_int.h"
#include "cli_tests.h"

static void test_table(void **state)
{
    (void)state;
    static const char *const headers[] = {"TOPIC", "PARTITION", "LAG"};
    sl_cli_table_t t;
    sl__cli_table_init(&t, 3, headers);
    assert_int_equal(sl__cli_table_row(&t, (const char *const[]){"orders", "0", "12"}), 0);
    assert_int_equal(sl__cli_table_row(&t, (const char *const[]){"é-topic-long", "10", NULL}), 0);
    char out[512] = {0};
    FILE *f = fmemopen(out, sizeof out, "w");
    assert_non_null(f);
    assert_int_equal(sl__cli_table_print(&t, f), 0);
    fclose(f);
    assert_string_equal(out, "TOPIC         PARTITION  LAG\n"
                             "orders        0          12\n"
                             "é-topic-long  10         -\n");
    sl__cli_table_deinit(&t);
}

static const char *render(void (*fill)(sl_cli_json_t *), char *out, size_t out_len)
{
    sl_buf_t buf;
    sl_cli_json_t j;
    sl_buf_init(&buf, 0);
    sl__cli_json_init(&j, &buf);
    fill(&j);
    memset(out, 0, out_len);
    FILE *f = fmemopen(out, out_len, "w");
    assert_non_null(f);
    assert_int_equal(sl__cli_json_print(&j, f), 0);
    fclose(f);
    sl_buf_deinit(&buf);
    return out;
}

static void fill_nested(sl_cli_json_t *j)
{
    sl__cli_json_object_begin(j);
    sl__cli_json_key(j, "name");
    sl__cli_json_cstr(j, "orders");
    sl__cli_json_key(j, "partitions");
    sl__cli_json_array_begin(j);
    for (int i = 0; i < 2; i++) {
        sl__cli_json_object_begin(j);
        sl__cli_json_key(j, "partition");
        sl__cli_json_int(j, i);
        sl__cli_json_key(j, "isr");
        sl__cli_json_array_begin(j);
        sl__cli_json_int(j, 1);
        sl__cli_json_int(j, -2);
        sl__cli_json_array_end(j);
        sl__cli_json_object_end(j);
    }
    sl__cli_json_array_end(j);
    sl__cli_json_key(j, "empty");
    sl__cli_json_object_begin(j);
    sl__cli_json_object_end(j);
    sl__cli_json_key(j, "internal");
    sl__cli_json_bool(j, false);
    sl__cli_json_key(j, "rack");
    sl__cli_json_string(j, SL_SLICE_NULL);
    sl__cli_json_object_end(j);
}

static void fill_escapes(sl_cli_json_t *j)
{
    static const uint8_t bytes[] = {'a',  '"',  '\\', '\n', '\t',         0x01, 0x7f, 0xc3,
                                    0xa9, /* é */
                                    0xff, 0xe2, 0x82, 0xac, /* € */ 0xed, 0xa0, 0x80, 0xc3};
    sl__cli_json_array_begin(j);
    sl__cli_json_string(j, (sl_slice_t){bytes, sizeof bytes});
    sl__cli_json_string(j, (sl_slice_t){(const uint8_t *)"", 0});
    sl__cli_json_array_end(j);
}

static void test_json(void **state)
{
    (void)state;
    char out[512];
    assert_string_equal(render(fill_nested, out, sizeof out),
                        "{\"name\":\"orders\",\"partitions\":[{\"partition\":0,\"isr\":[1,-2]},"
                        "{\"partition\":1,\"isr\":[1,-2]}],\"empty\":{},\"internal\":false,"
                        "\"rack\":null}\n");
    /* invalid bytes (0xff, a surrogate, a truncated sequence) become U+FFFD, one per byte */
    assert_string_equal(render(fill_escapes, out, sizeof out),
                        "[\"a\\\"\\\\\\n\\t\\u0001\\u007f\xc3\xa9\\ufffd\xe2\x82\xac"
                        "\\ufffd\\ufffd\\ufffd\\ufffd\",\"\"]\n");
}

int run_output_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests_name("cli_output", tests, NULL, NULL);
}
