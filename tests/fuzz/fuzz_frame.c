/* Fuzz target: the frame splitter and the request header decoder. The input is a byte stream as a
 * client would send it, fed in pieces whose sizes come from the input itself; every complete
 * frame's header is decoded. Nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "net/net_int.h"
#include "sluice/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1; /* 1..17-byte reads */
    data++;
    size--;
    sl__splitter_t s;
    sl__splitter_init(&s, 64 * 1024, NULL);
    for (size_t off = 0; off < size; off += chunk) {
        const uint8_t *p = data + off;
        size_t len = SL_MIN(chunk, size - off);
        for (;;) {
            int rc = sl__splitter_feed(&s, &p, &len);
            if (rc < 0)
                goto done; /* the connection would be closed */
            if (rc == SL__SPLIT_NEED_MORE)
                break;
            size_t frame_len;
            size_t frame_cap;
            uint8_t *frame = sl__splitter_take(&s, &frame_len, &frame_cap);
            sl_reader_t r;
            sl_reader_init(&r, frame, frame_len);
            sl_request_header_t hdr;
            (void)sl_request_header_decode(&r, &hdr); /* any result is fine; no crash is the test */
            sl_free(frame);
        }
    }
done:
    sl__splitter_deinit(&s);
    return 0;
}
