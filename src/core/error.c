/* error: names for every error value the code base returns: 0, -errno and the SL_E* codes. */
#include <string.h>

#include "sluice/core.h"

const char *sl_strerror(int err)
{
    if (err == 0)
        return "success";
    switch (err) {
#define SL__ERRNO_CASE(name, value, text)                                                          \
    case (value):                                                                                  \
        return text;
        SL_ERRNO_MAP(SL__ERRNO_CASE)
#undef SL__ERRNO_CASE
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
