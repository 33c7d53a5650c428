/* test_disk_sync: the thread-pool disk backend on a real temp dir with a real uv loop (the only
 * unit test that does real I/O): async ops complete on the loop and never inside the call, and
 * every metadata op behaves like its syscall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sluice/io.h"

typedef struct {
    int calls;
    int64_t result;
} done_t;

static void on_done(sl_disk_op_t *op, int64_t result, void *data)
{
    (void)op; /* the result is all this test needs */
    done_t *d = data;
    d->calls++;
    d->result = result;
}

static int count_entry(const char *name, void *data)
{
    (void)name; /* only counted */
    (*(int *)data)++;
    return 0;
}

static void test_async_and_metadata(void **state)
{
    (void)state; /* no fixture */
    char root[] = "/tmp/sl_io_test_XXXXXX";
    assert_non_null(mkdtemp(root));
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    sl_disk_t disk;
    assert_int_equal(sl_disk_sync_init(&loop, &disk), 0);
    assert_string_equal(disk.ops->name, "sync");

    char path[256], path2[256], sub[256];
    snprintf(path, sizeof path, "%s/a.log", root);
    snprintf(path2, sizeof path2, "%s/b.log", root);
    snprintf(sub, sizeof sub, "%s/sub", root);
    assert_int_equal(disk.ops->exists(&disk, path), 0);
    int fd = disk.ops->open(&disk, path, SL_DISK_OPEN_CREATE);
    assert_true(fd >= 0);
    assert_int_equal(disk.ops->open(&disk, path, SL_DISK_OPEN_CREATE | SL_DISK_OPEN_EXCL), -EEXIST);
    assert_int_equal(disk.ops->exists(&disk, path), 1);

    char a[] = "hello ", b[] = "world";
    struct iovec iov[2] = {{a, 6}, {b, 5}};
    sl_disk_op_t op;
    done_t d = {0};
    assert_int_equal(sl_disk_pwritev(&disk, &op, fd, iov, 2, 0, on_done, &d), 0);
    assert_int_equal(d.calls, 0); /* never inside the call */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, 11);

    d = (done_t){0};
    assert_int_equal(sl_disk_fdatasync(&disk, &op, fd, on_done, &d), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, 0);

    char buf[32] = {0};
    d = (done_t){0};
    assert_int_equal(sl_disk_pread(&disk, &op, fd, buf, sizeof buf, 6, on_done, &d), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.result, 5);
    assert_memory_equal(buf, "world", 5);

    assert_int_equal(disk.ops->file_size(&disk, fd), 11);
    assert_int_equal(disk.ops->pwrite_sync(&disk, fd, "XY", 2, 0), 2);
    assert_int_equal(disk.ops->pread_sync(&disk, fd, buf, 4, 0), 4);
    assert_memory_equal(buf, "XYll", 4);
    assert_int_equal(disk.ops->ftruncate(&disk, fd, 3), 0);
    assert_int_equal(disk.ops->file_size(&disk, fd), 3);
    assert_int_equal(disk.ops->fsync(&disk, fd), 0);
    assert_int_equal(disk.ops->close(&disk, fd), 0);

    /* A write error comes back through the callback, not the call. */
    d = (done_t){0};
    assert_int_equal(sl_disk_pwritev(&disk, &op, 1000, iov, 1, 0, on_done, &d), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.result, -EBADF);

    assert_int_equal(disk.ops->rename(&disk, path, path2), 0);
    assert_int_equal(disk.ops->exists(&disk, path), 0);
    assert_int_equal(disk.ops->mkdir(&disk, sub), 0);
    assert_int_equal(disk.ops->mkdir(&disk, sub), -EEXIST);
    int entries = 0;
    assert_int_equal(disk.ops->list_dir(&disk, root, count_entry, &entries), 0);
    assert_int_equal(entries, 2);
    assert_int_equal(disk.ops->fsync_dir(&disk, root), 0);
    assert_int_equal(disk.ops->unlink(&disk, path2), 0);
    assert_int_equal(disk.ops->unlink(&disk, path2), -ENOENT);
    assert_int_equal(disk.ops->rmdir(&disk, sub), 0);
    assert_int_equal(disk.ops->rmdir(&disk, root), 0);

    sl_disk_sync_deinit(&disk);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_and_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
