/* Unit tests for the response writer of src/net/conn.c over a real loopback socket: an answer in
 * pieces (encoded bytes, file ranges sent with sendfile, owned buffers) arrives whole and in
 * request order behind or ahead of plain answers, also when the reader stalls long enough to fill
 * the socket (the writable watcher resumes the send), a reader hanging up mid-answer frees
 * everything and closes the file descriptors the answer owned, and answers given together leave
 * together, in request order. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/net_int.h"

#define FILE_BYTES (6 * 1024 * 1024)
#define LOOPS_MAX 2000000 /* a bound on every wait; nothing here depends on time */

typedef struct {
    uv_loop_t loop;
    sl_server_t *server;
    sl_frame_t *frames[8];
    int frames_count;
    int client;
    int file_fd;
    uint8_t *file_bytes;
    bool stopped;
} fixture_t;

static void on_frame(sl_frame_t *frame, void *data)
{
    fixture_t *f = data;
    assert_true(f->frames_count < 8);
    f->frames[f->frames_count++] = frame;
}

static void on_stopped(sl_server_t *server, void *data)
{
    (void)server;
    ((fixture_t *)data)->stopped = true;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    sl_server_limits_t limits = {.request_bytes_max = 1 << 20,
                                 .conn_bytes_in_flight_max = 1 << 30,
                                 .server_bytes_in_flight_max = 1 << 30,
                                 .connections_max = 16};
    assert_int_equal(sl_server_create(&f->loop, &limits, on_frame, f, &f->server), 0);
    assert_int_equal(sl_server_listen(f->server, "PLAINTEXT", "127.0.0.1", 0), 0);
    /* A file with a byte pattern that shows any misplaced range. */
    char path[] = "/tmp/sluice-test-conn-XXXXXX";
    f->file_fd = mkstemp(path);
    assert_true(f->file_fd >= 0);
    unlink(path); /* open, unnamed: like a segment deleted under a queued answer */
    f->file_bytes = malloc(FILE_BYTES);
    assert_non_null(f->file_bytes);
    for (size_t i = 0; i < FILE_BYTES; i++)
        f->file_bytes[i] = (uint8_t)(i * 7 + i / 4093);
    assert_int_equal(pwrite(f->file_fd, f->file_bytes, FILE_BYTES, 0), FILE_BYTES);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->client >= 0)
        close(f->client);
    sl_server_stop(f->server, 1000, on_stopped, f);
    for (int i = 0; i < LOOPS_MAX && !f->stopped; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->stopped);
    sl_server_destroy(f->server);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    close(f->file_fd);
    free(f->file_bytes);
    free(f);
    return 0;
}

/* Connects a client (small receive buffer when asked) and sends count frames of 4 bytes each. */
static void connect_and_send(fixture_t *f, int count, int rcvbuf)
{
    f->client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->client >= 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(f->client, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons(sl_server_listener(f->server, 0)->port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(f->client, (struct sockaddr *)&addr, sizeof(addr)), 0);
    for (int i = 0; i < count; i++) {
        uint8_t frame[8] = {0, 0, 0, 4, 'r', 'e', 'q', (uint8_t)('0' + i)};
        assert_int_equal(write(f->client, frame, sizeof(frame)), (ssize_t)sizeof(frame));
    }
    assert_int_equal(fcntl(f->client, F_SETFL, O_NONBLOCK), 0);
    for (int i = 0; i < LOOPS_MAX && f->frames_count < count; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->frames_count, count);
}

/* Reads until want bytes arrived, running the loop in between. */
static void receive(fixture_t *f, uint8_t *buf, size_t want)
{
    size_t have = 0;
    for (int i = 0; i < LOOPS_MAX && have < want; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ssize_t n = read(f->client, buf + have, want - have);
        if (n > 0)
            have += (size_t)n;
        else
            assert_true(n < 0 && errno == EAGAIN);
    }
    assert_int_equal(have, want);
}

static uint8_t *owned_copy(const char *text)
{
    uint8_t *p = sl_malloc(strlen(text));
    assert_non_null(p);
    memcpy(p, text, strlen(text));
    return p;
}

/* Answers frame with "HEAD" file[a, a+alen) owned("middle") file[b, b+blen) "TAIL", and returns the
 * bytes the client must see, in expect (malloc'd). */
static size_t answer_in_pieces(fixture_t *f, sl_frame_t *frame, size_t a, size_t alen, size_t b,
                               size_t blen, uint8_t **expect)
{
    uint8_t *response = owned_copy("HEADTAIL");
    sl_response_piece_t *pieces = sl_malloc(5 * sizeof(*pieces));
    assert_non_null(pieces);
    uint8_t *middle = owned_copy("middle");
    pieces[0] = (sl_response_piece_t){.ptr = response, .len = 4, .fd = -1};
    pieces[1] = (sl_response_piece_t){.len = alen, .fd = dup(f->file_fd), .pos = (int64_t)a};
    pieces[2] = (sl_response_piece_t){.ptr = middle, .len = 6, .fd = -1, .owned = middle};
    pieces[3] = (sl_response_piece_t){.len = blen, .fd = dup(f->file_fd), .pos = (int64_t)b};
    pieces[4] = (sl_response_piece_t){.ptr = response + 4, .len = 4, .fd = -1};
    size_t total = 4 + alen + 6 + blen + 4;
    uint8_t *e = malloc(total);
    assert_non_null(e);
    memcpy(e, "HEAD", 4);
    memcpy(e + 4, f->file_bytes + a, alen);
    memcpy(e + 4 + alen, "middle", 6);
    memcpy(e + 10 + alen, f->file_bytes + b, blen);
    memcpy(e + 10 + alen + blen, "TAIL", 4);
    *expect = e;
    sl_frame_respond_pieces(frame, response, pieces, 5, total);
    return total;
}

/* Reads the pieced answer (expect, freed here) and then the plain answers after it. */
static void receive_expected(fixture_t *f, uint8_t *expect, size_t total, const char *after)
{
    size_t after_len = strlen(after);
    uint8_t *got = malloc(total + after_len);
    assert_non_null(got);
    receive(f, got, total + after_len);
    assert_memory_equal(got, expect, total);
    assert_memory_equal(got + total, after, after_len);
    free(got);
    free(expect);
}

static void respond_text(sl_frame_t *frame, const char *text)
{
    sl_frame_respond(frame, owned_copy(text), strlen(text));
}

/* The second request is answered first; the pieces of the first still go out before it, then a
 * third answer queued behind the file ranges follows them. */
static void test_pieces_in_request_order(void **state)
{
    fixture_t *f = *state;
    connect_and_send(f, 3, 0);
    respond_text(f->frames[1], "second");
    uint8_t *expect;
    size_t total = answer_in_pieces(f, f->frames[0], 1000, 2 << 20, 3 << 20, 1 << 20, &expect);
    respond_text(f->frames[2], "third");
    receive_expected(f, expect, total, "secondthird");
}

/* The client does not read until the socket is full: the send stops on EAGAIN, the writable
 * watcher resumes it once the client reads, and nothing is lost or reordered. */
static void test_stalled_reader(void **state)
{
    fixture_t *f = *state;
    connect_and_send(f, 2, 4096);
    uint8_t *expect;
    size_t total = answer_in_pieces(f, f->frames[0], 0, 5 << 20, 7, 777777, &expect);
    respond_text(f->frames[1], "after");
    for (int i = 0; i < 1000; i++) /* the server runs into a full socket */
        uv_run(&f->loop, UV_RUN_NOWAIT);
    sl_conn_t *conn = f->server->conns;
    assert_non_null(conn);
    assert_non_null(conn->sending); /* stuck on the first answer, the second behind it */
    assert_true(conn->writable_fd >= 0);
    receive_expected(f, expect, total, "after");
}

/* The client hangs up mid-answer: the connection closes, and the descriptors and buffers the
 * answer owned are released (ASan checks the buffers). */
static void test_hangup_mid_answer(void **state)
{
    fixture_t *f = *state;
    connect_and_send(f, 2, 4096);
    uint8_t *expect;
    answer_in_pieces(f, f->frames[0], 0, 5 << 20, 0, 5 << 20, &expect);
    int first_fd = f->frames[0]->pieces[1].fd, second_fd = f->frames[0]->pieces[3].fd;
    respond_text(f->frames[1], "never");
    uint8_t some[1000];
    receive(f, some, sizeof(some));
    assert_memory_equal(some, expect, sizeof(some));
    free(expect);
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(f->client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)), 0);
    close(f->client);
    f->client = -1;
    for (int i = 0; i < LOOPS_MAX && (f->server->conns_count > 0 || f->server->handles_open > 3);
         i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->server->conns_count, 0);
    assert_int_equal(fcntl(first_fd, F_GETFD), -1);
    assert_int_equal(fcntl(second_fd, F_GETFD), -1);
}

/* Answers given in one loop iteration, in any order, leave together (one write for the run of
 * plain answers) and in request order; an acks=0 frame in the middle writes nothing, and a
 * close_after frame closes the connection only after every earlier answer is out. */
static void test_answers_of_one_iteration_in_order(void **state)
{
    fixture_t *f = *state;
    connect_and_send(f, 6, 0);
    static const char *answers[] = {"answer-0", "answer-1", NULL, "answer-3", "answer-4"};
    for (int i = 4; i >= 0; i--) { /* newest first: nothing may leave before answer-0 */
        if (answers[i] == NULL)
            sl_frame_respond_none(f->frames[i]);
        else
            sl_frame_respond(f->frames[i], owned_copy(answers[i]), strlen(answers[i]));
    }
    sl_frame_close_connection(f->frames[5]);
    const char *expect = "answer-0answer-1answer-3answer-4";
    uint8_t got[64];
    receive(f, got, strlen(expect));
    assert_memory_equal(got, expect, strlen(expect));
    /* Then the close: end of stream. */
    ssize_t n = -1;
    for (int i = 0; i < LOOPS_MAX && n != 0; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        n = read(f->client, got, sizeof(got));
        assert_true(n == 0 || (n < 0 && errno == EAGAIN));
    }
    assert_int_equal(n, 0);
}

/* Large frames (read from their start on in short reads, then straight into their payload) and
 * small ones between them, all arriving back to back, come out whole and in order. */
static void test_large_and_small_frames_back_to_back(void **state)
{
    fixture_t *f = *state;
    static const size_t sizes[] = {100000, 5, 70000, 40000, 7, 36 * 1024 + 1, 200000};
    enum { FRAMES = sizeof sizes / sizeof sizes[0] };
    f->client = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->client >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons(sl_server_listener(f->server, 0)->port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(f->client, (struct sockaddr *)&addr, sizeof(addr)), 0);
    size_t total = 0;
    for (size_t i = 0; i < FRAMES; i++)
        total += 4 + sizes[i];
    uint8_t *stream = malloc(total);
    assert_non_null(stream);
    size_t off = 0;
    for (size_t i = 0; i < FRAMES; i++) {
        stream[off] = (uint8_t)(sizes[i] >> 24);
        stream[off + 1] = (uint8_t)(sizes[i] >> 16);
        stream[off + 2] = (uint8_t)(sizes[i] >> 8);
        stream[off + 3] = (uint8_t)sizes[i];
        for (size_t k = 0; k < sizes[i]; k++)
            stream[off + 4 + k] = (uint8_t)(i * 31 + k * 7 + k / 251);
        off += 4 + sizes[i];
    }
    assert_int_equal(fcntl(f->client, F_SETFL, O_NONBLOCK), 0);
    size_t sent = 0;
    for (int i = 0; i < LOOPS_MAX && f->frames_count < (int)FRAMES; i++) {
        if (sent < total) {
            ssize_t n = write(f->client, stream + sent, total - sent);
            if (n > 0)
                sent += (size_t)n;
            else
                assert_true(n < 0 && errno == EAGAIN);
        }
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(f->frames_count, FRAMES);
    off = 0;
    for (size_t i = 0; i < FRAMES; i++) {
        assert_int_equal(f->frames[i]->len, sizes[i]);
        assert_memory_equal(f->frames[i]->payload, stream + off + 4, sizes[i]);
        off += 4 + sizes[i];
        sl_frame_respond_none(f->frames[i]);
    }
    free(stream);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pieces_in_request_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hangup_mid_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_of_one_iteration_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_and_small_frames_back_to_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
