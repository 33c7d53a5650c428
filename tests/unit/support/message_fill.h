/* message_fill: pseudo-random values for any generated struct (every field, arrays of 0-2
 * elements or null, nested structs a few levels deep), from its descriptor. */
#ifndef SL_TEST_MESSAGE_FILL_H
#define SL_TEST_MESSAGE_FILL_H

#include "sluice/protocol.h"

/* Initializes m to its defaults, then sets most fields from seed; arrays come from arena. */
void test_message_fill(const sl_message_desc_t *d, void *m, uint64_t seed, sl_arena_t *arena);

#endif
