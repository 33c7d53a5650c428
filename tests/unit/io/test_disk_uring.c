/* test_disk_uring: the io_uring backend on real temporary files with a real uv loop: writes and
 * reads through the ring complete on the loop and never inside the call, short writes are finished
 * by the backend, ENOSPC comes from a small tmpfs the test mounts (injected through the result
 * hook where mounting is not allowed), EIO is injected through the hook, more ops than the ring
 * holds, contiguous appends merged into one SQE (also cut short, or failing), and deinit with ops
 * pending (also from inside a completion, as the broker does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/io_int.h"

typedef struct {
    int calls;
    int64_t result;
} done_t;

static void on_done(sl_disk_op_t *op, int64_t result, void *data)
{
    (void)op; /* the result is all these tests need */
    done_t *d = data;
    d->calls++;
    d->result = result;
}

typedef struct {
    uv_loop_t loop;
    sl_disk_t disk;
    char root[64];
    char path[128];
    int fd;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->root, sizeof f->root, "/tmp/sl_uring_test_XXXXXX");
    assert_non_null(mkdtemp(f->root));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    char reason[192] = "";
    int rc = sl_disk_uring_init(&f->loop, &f->disk, reason, sizeof reason);
    if (rc != 0)
        fail_msg("io_uring unavailable on this machine: %s", reason);
    assert_string_equal(f->disk.ops->name, "io_uring");
    snprintf(f->path, sizeof f->path, "%s/a.log", f->root);
    f->fd = f->disk.ops->open(&f->disk, f->path, SL_DISK_OPEN_CREATE);
    assert_true(f->fd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->fd >= 0)
        close(f->fd);
    unlink(f->path);
    rmdir(f->root);
    sl_disk_deinit(&f->disk);         /* no-op when the test already deinited */
    uv_run(&f->loop, UV_RUN_DEFAULT); /* the ring's handles close */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void test_write_sync_read(void **state)
{
    fixture_t *f = *state;
    char a[] = "hello ", b[] = "world";
    struct iovec iov[2] = {{a, 6}, {b, 5}};
    sl_disk_op_t op;
    done_t d = {0};
    assert_int_equal(sl_disk_pwritev(&f->disk, &op, f->fd, iov, 2, 0, on_done, &d), 0);
    iov[0].iov_len = 0;           /* the backend copied the iovec array at submission */
    assert_int_equal(d.calls, 0); /* never inside the call */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, 11);

    d = (done_t){0};
    assert_int_equal(sl_disk_fdatasync(&f->disk, &op, f->fd, on_done, &d), 0);
    assert_int_equal(d.calls, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, 0);

    char buf[32] = {0};
    d = (done_t){0};
    assert_int_equal(sl_disk_pread(&f->disk, &op, f->fd, buf, sizeof buf, 6, on_done, &d), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.result, 5); /* fewer bytes only at end of file */
    assert_memory_equal(buf, "world", 5);
    d = (done_t){0};
    assert_int_equal(sl_disk_pread(&f->disk, &op, f->fd, buf, sizeof buf, 100, on_done, &d), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, 0);

    /* Metadata ops are the shared syscalls. */
    assert_int_equal(f->disk.ops->file_size(&f->disk, f->fd), 11);
    assert_int_equal(f->disk.ops->pwrite_sync(&f->disk, f->fd, "XY", 2, 0), 2);
    assert_int_equal(f->disk.ops->pread_sync(&f->disk, f->fd, buf, 4, 0), 4);
    assert_memory_equal(buf, "XYll", 4);
    assert_int_equal(f->disk.ops->exists(&f->disk, f->path), 1);

    /* An error comes back through the callback, not the call; bad arguments from the call. */
    d = (done_t){0};
    assert_int_equal(sl_disk_pwritev(&f->disk, &op, 1000, iov + 1, 1, 0, on_done, &d), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, -EBADF);
    assert_int_equal(sl_disk_pwritev(&f->disk, &op, f->fd, iov, 0, 0, on_done, &d), -EINVAL);
    assert_int_equal(sl_disk_pwritev(&f->disk, &op, f->fd, iov, 1, -1, on_done, &d), -EINVAL);
    assert_int_equal(d.calls, 1);
}

/* Rewrites results: the first `short_writes` write completions report `short_bytes`, and every
 * op of kind fdatasync or write (per flags) fails with `err`. */
typedef struct {
    int short_writes;
    int64_t short_bytes;
    sl_disk_op_t *fail_op;
    int64_t fail_err;
    int seen;
} hook_t;

static int64_t rewrite_result(sl_disk_op_t *op, int64_t result, void *data)
{
    hook_t *h = data;
    h->seen++;
    if (op == h->fail_op)
        return h->fail_err;
    if (h->short_writes > 0 && result > h->short_bytes) {
        h->short_writes--;
        return h->short_bytes; /* the kernel wrote more; the rest is written again, identically */
    }
    return result;
}

static void test_short_writes_are_finished(void **state)
{
    fixture_t *f = *state;
    static char a[4096], b[100], c[3000];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    memset(c, 'c', sizeof c);
    struct iovec iov[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
    /* 4 short completions: inside a, exactly at the a/b boundary, inside c, ... */
    hook_t h = {.short_writes = 4, .short_bytes = 1000};
    sl__disk_uring_set_result_hook(&f->disk, rewrite_result, &h);
    sl_disk_op_t op;
    done_t d = {0};
    assert_int_equal(sl_disk_pwritev(&f->disk, &op, f->fd, iov, 3, 10, on_done, &d), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, (int64_t)(sizeof a + sizeof b + sizeof c));
    assert_int_equal(h.short_writes, 0);
    assert_true(h.seen >= 5); /* one completion per resubmission */
    static char back[sizeof a + sizeof b + sizeof c];
    assert_int_equal(pread(f->fd, back, sizeof back, 10), (ssize_t)sizeof back);
    assert_memory_equal(back, a, sizeof a);
    assert_memory_equal(back + sizeof a, b, sizeof b);
    assert_memory_equal(back + sizeof a + sizeof b, c, sizeof c);
    assert_int_equal(f->disk.ops->file_size(&f->disk, f->fd), 10 + (int64_t)sizeof back);
}

static void test_eio_injected(void **state)
{
    fixture_t *f = *state;
    sl_disk_op_t wop, sop;
    hook_t h = {.fail_op = &sop, .fail_err = -EIO};
    sl__disk_uring_set_result_hook(&f->disk, rewrite_result, &h);
    done_t dw = {0}, ds = {0};
    struct iovec iov = {"x", 1};
    assert_int_equal(sl_disk_pwritev(&f->disk, &wop, f->fd, &iov, 1, 0, on_done, &dw), 0);
    assert_int_equal(sl_disk_fdatasync(&f->disk, &sop, f->fd, on_done, &ds), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(dw.calls, 1);
    assert_int_equal(dw.result, 1);
    assert_int_equal(ds.calls, 1);
    assert_int_equal(ds.result, -EIO); /* reported once, never retried by the backend */
    h.fail_op = &wop;
    dw = (done_t){0};
    assert_int_equal(sl_disk_pwritev(&f->disk, &wop, f->fd, &iov, 1, 0, on_done, &dw), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(dw.calls, 1);
    assert_int_equal(dw.result, -EIO);
}

/* A 64 KiB tmpfs fills up: the kernel writes what fits (a real short write), the backend asks for
 * the rest and gets ENOSPC. Where mounting is not permitted the ENOSPC is injected instead. */
static void test_enospc(void **state)
{
    fixture_t *f = *state;
    char mnt[160];
    snprintf(mnt, sizeof mnt, "%s/small", f->root);
    assert_int_equal(mkdir(mnt, 0755), 0);
    bool mounted = mount("sl_uring_test", mnt, "tmpfs", 0, "size=64k") == 0;
    char path[200];
    snprintf(path, sizeof path, "%s/full.log", mnt);
    int fd = f->disk.ops->open(&f->disk, path, SL_DISK_OPEN_CREATE);
    assert_true(fd >= 0);
    static char big[256 * 1024];
    memset(big, 'z', sizeof big);
    struct iovec iov = {big, sizeof big};
    sl_disk_op_t op;
    hook_t h = {.fail_op = mounted ? NULL : &op, .fail_err = -ENOSPC};
    sl__disk_uring_set_result_hook(&f->disk, rewrite_result, &h);
    done_t d = {0};
    assert_int_equal(sl_disk_pwritev(&f->disk, &op, fd, &iov, 1, 0, on_done, &d), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, -ENOSPC);
    if (mounted) { /* the first completion wrote part of it: the error came from the retry */
        assert_true(h.seen >= 2);
        int64_t size = f->disk.ops->file_size(&f->disk, fd);
        assert_true(size > 0 && size < (int64_t)sizeof big);
    } else {
        print_message("tmpfs mount not permitted (%s): ENOSPC injected\n", strerror(errno));
    }
    assert_int_equal(close(fd), 0);
    if (mounted)
        assert_int_equal(umount(mnt), 0);
    else
        unlink(path);
    assert_int_equal(rmdir(mnt), 0);
}

enum { MANY = 3 * SL_DISK_URING_ENTRIES + 7, BLOCK = 512 };

static void test_more_ops_than_the_ring(void **state)
{
    fixture_t *f = *state;
    static sl_disk_op_t ops[MANY];
    static done_t done[MANY];
    static uint8_t data[MANY][BLOCK];
    static uint8_t back[MANY][BLOCK];
    memset(done, 0, sizeof done);
    for (int i = 0; i < MANY; i++) {
        memset(data[i], (uint8_t)(i * 7 + 1), BLOCK);
        struct iovec iov = {data[i], BLOCK};
        assert_int_equal(sl_disk_pwritev(&f->disk, &ops[i], f->fd, &iov, 1, (int64_t)i * BLOCK,
                                         on_done, &done[i]),
                         0);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(done[i].calls, 1);
        assert_int_equal(done[i].result, BLOCK);
    }
    memset(done, 0, sizeof done);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(sl_disk_pread(&f->disk, &ops[i], f->fd, back[i], BLOCK, (int64_t)i * BLOCK,
                                       on_done, &done[i]),
                         0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(done[i].calls, 1);
        assert_int_equal(done[i].result, BLOCK);
        assert_memory_equal(back[i], data[i], BLOCK);
    }
}

enum { APPENDS = 150 };

/* Writes like the log's appends: contiguous, 1-3 iovecs each, of varying sizes. Returns the bytes
 * queued; every byte of the file says which append wrote it. */
static size_t queue_appends(fixture_t *f, sl_disk_op_t *ops, done_t *done, uint8_t *bytes,
                            int64_t base)
{
    size_t off = 0;
    for (int i = 0; i < APPENDS; i++) {
        size_t len = 100 + (size_t)(i * 37 % 900);
        memset(bytes + off, 'A' + i % 26, len);
        struct iovec iov[3];
        int n = 1 + i % 3;
        size_t part = len / (size_t)n;
        for (int k = 0; k < n; k++)
            iov[k] = (struct iovec){bytes + off + (size_t)k * part,
                                    k == n - 1 ? len - (size_t)k * part : part};
        assert_int_equal(sl_disk_pwritev(&f->disk, &ops[i], f->fd, iov, n, base + (int64_t)off,
                                         on_done, &done[i]),
                         0);
        off += len;
    }
    return off;
}

static void check_appends(fixture_t *f, const done_t *done, const uint8_t *bytes, size_t total,
                          int64_t base)
{
    for (int i = 0; i < APPENDS; i++) {
        assert_int_equal(done[i].calls, 1);
        assert_int_equal(done[i].result, 100 + i * 37 % 900);
    }
    static uint8_t back[APPENDS * 1000];
    assert_int_equal(pread(f->fd, back, total, base), (ssize_t)total);
    assert_memory_equal(back, bytes, total);
}

/* Appends queued in one loop iteration leave in merged SQEs (at most 64 writes each), complete one
 * by one with their own lengths, and land byte for byte. A write to another file, or one that does
 * not continue the previous, starts a new SQE. */
static void test_contiguous_writes_merge(void **state)
{
    fixture_t *f = *state;
    static sl_disk_op_t ops[APPENDS], other_op, gap_op;
    static done_t done[APPENDS];
    static uint8_t bytes[APPENDS * 1000];
    memset(done, 0, sizeof done);
    size_t total = queue_appends(f, ops, done, bytes, 0);
    char other_path[160];
    snprintf(other_path, sizeof other_path, "%s/b.log", f->root);
    int other = f->disk.ops->open(&f->disk, other_path, SL_DISK_OPEN_CREATE);
    assert_true(other >= 0);
    done_t d_other = {0}, d_gap = {0};
    struct iovec iov = {"xyz", 3};
    assert_int_equal(sl_disk_pwritev(&f->disk, &other_op, other, &iov, 1, 0, on_done, &d_other), 0);
    assert_int_equal(
        sl_disk_pwritev(&f->disk, &gap_op, f->fd, &iov, 1, (int64_t)total + 10, on_done, &d_gap),
        0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    check_appends(f, done, bytes, total, 0);
    assert_int_equal(d_other.calls, 1);
    assert_int_equal(d_other.result, 3);
    assert_int_equal(d_gap.calls, 1);
    assert_int_equal(d_gap.result, 3);
    /* 150 appends in SQEs of at most 64: at least 147 joined an earlier one. */
    assert_true(sl__disk_uring_writes_merged(&f->disk) >= APPENDS - 3);
    char back[3];
    assert_int_equal(pread(f->fd, back, 3, (int64_t)total + 10), 3);
    assert_memory_equal(back, "xyz", 3);
    assert_int_equal(close(other), 0);
    unlink(other_path);
}

/* A merged write cut short (the kernel wrote less than asked) completes the writes it covered and
 * writes the rest again; an error on a merged write reaches every write in it. */
static void test_merged_short_write_and_error(void **state)
{
    fixture_t *f = *state;
    static sl_disk_op_t ops[APPENDS];
    static done_t done[APPENDS];
    static uint8_t bytes[APPENDS * 1000];
    memset(done, 0, sizeof done);
    hook_t h = {.short_writes = 6, .short_bytes = 1234};
    sl__disk_uring_set_result_hook(&f->disk, rewrite_result, &h);
    size_t total = queue_appends(f, ops, done, bytes, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(h.short_writes, 0);
    check_appends(f, done, bytes, total, 0);

    memset(done, 0, sizeof done);
    h = (hook_t){.fail_op = &ops[0], .fail_err = -EIO};
    queue_appends(f, ops, done, bytes, (int64_t)total);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    int failed = 0;
    for (int i = 0; i < APPENDS; i++) {
        assert_int_equal(done[i].calls, 1);
        failed += done[i].result == -EIO;
    }
    assert_true(failed >= 2); /* ops[0]'s SQE carried others with it */
}

static sl_disk_t *resubmit_disk;
static int resubmit_refused;

/* A callback that runs inside deinit and tries to go on: refused, never queued. */
static void done_then_resubmit(sl_disk_op_t *op, int64_t result, void *data)
{
    on_done(op, result, data);
    assert_int_equal(sl_disk_fdatasync(resubmit_disk, op, 0, on_done, data), SL_ECLOSED);
    resubmit_refused++;
}

static void test_deinit_with_ops_pending(void **state)
{
    fixture_t *f = *state;
    resubmit_disk = &f->disk;
    resubmit_refused = 0;
    static sl_disk_op_t ops[MANY];
    static done_t done[MANY];
    static uint8_t data[BLOCK];
    memset(done, 0, sizeof done);
    memset(data, 'd', sizeof data);
    for (int i = 0; i < MANY; i++) {
        struct iovec iov = {data, BLOCK};
        assert_int_equal(sl_disk_pwritev(&f->disk, &ops[i], f->fd, &iov, 1, (int64_t)i * BLOCK,
                                         done_then_resubmit, &done[i]),
                         0);
    }
    sl_disk_deinit(&f->disk); /* the loop never ran: nothing was submitted yet */
    assert_int_equal(resubmit_refused, MANY);
    assert_null(f->disk.ops);
    int written = 0, cancelled = 0;
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(done[i].calls, 1);
        if (done[i].result == BLOCK)
            written++;
        else if (done[i].result == -ECANCELED)
            cancelled++;
    }
    /* The ring's worth was handed to the kernel and finished; the rest never started. */
    assert_int_equal(written, SL_DISK_URING_ENTRIES);
    assert_int_equal(cancelled, MANY - SL_DISK_URING_ENTRIES);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < MANY; i++)
        assert_int_equal(done[i].calls, 1);
}

typedef struct {
    sl_disk_t *disk;
    int calls;
    int other_calls;
} deinit_in_cb_t;

static void other_done(sl_disk_op_t *op, int64_t result, void *data)
{
    (void)op; /* counted only */
    deinit_in_cb_t *c = data;
    assert_true(result == 1);
    c->other_calls++;
}

static void deinit_from_callback(sl_disk_op_t *op, int64_t result, void *data)
{
    (void)op; /* counted only */
    deinit_in_cb_t *c = data;
    assert_int_equal(result, 0);
    c->calls++;
    sl_disk_deinit(c->disk);
}

static void test_deinit_inside_a_completion(void **state)
{
    fixture_t *f = *state;
    deinit_in_cb_t c = {.disk = &f->disk};
    sl_disk_op_t sync_op, write_ops[8];
    assert_int_equal(sl_disk_fdatasync(&f->disk, &sync_op, f->fd, deinit_from_callback, &c), 0);
    for (int i = 0; i < 8; i++) {
        struct iovec iov = {"w", 1};
        assert_int_equal(
            sl_disk_pwritev(&f->disk, &write_ops[i], f->fd, &iov, 1, i, other_done, &c), 0);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.other_calls, 8); /* each exactly once, before or during the deinit */
    assert_null(f->disk.ops);
}

static void test_choice(void **state)
{
    (void)state; /* its own loop */
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    sl_disk_t disk;
    sl_disk_choice_t choice;
    assert_int_equal(sl_disk_init(&loop, SL_DISK_BACKEND_SYNC, &disk, &choice), 0);
    assert_string_equal(choice.backend, "sync");
    assert_string_equal(disk.ops->name, "sync");
    assert_string_equal(choice.reason, "configured");
    sl_disk_deinit(&disk);
    assert_int_equal(sl_disk_init(&loop, SL_DISK_BACKEND_AUTO, &disk, &choice), 0);
    assert_string_equal(choice.backend, disk.ops->name);
    assert_true(strlen(choice.reason) > 0);
    assert_null(strchr(choice.reason, '\n'));
    sl_disk_deinit(&disk);
    assert_int_equal(sl_disk_init(&loop, SL_DISK_BACKEND_IO_URING, &disk, &choice), 0);
    assert_string_equal(choice.backend, "io_uring");
    sl_disk_deinit(&disk);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_sync_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_writes_are_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eio_injected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_ops_than_the_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contiguous_writes_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merged_short_write_and_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deinit_with_ops_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deinit_inside_a_completion, setup, teardown),
        cmocka_unit_test(test_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
