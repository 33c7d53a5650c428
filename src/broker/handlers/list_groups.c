/* ListGroups (key 16, versions 0-5): every group this coordinator has, with its protocol type;
 * v4+ filters by state (case-insensitive, as Kafka) and shows it; v5+ filters by type and shows
 * it ("classic": Sluice runs only the classic protocol). */
#include <string.h>
#include <strings.h>

#include "../broker_int.h"

typedef struct list_ctx {
    sl_request_t *req;
    const sl_list_groups_request_t *in;
    sl_listed_group_t *out;
    size_t count, cap;
} list_ctx_t;

static bool matches(const sl_slice_t *filter, int32_t n, const char *value)
{
    if (n <= 0)
        return true;
    size_t len = strlen(value);
    for (int32_t i = 0; i < n; i++)
        if (filter[i].len == len && strncasecmp((const char *)filter[i].ptr, value, len) == 0)
            return true;
    return false;
}

static bool list_one(const sl_group_view_t *g, void *data)
{
    list_ctx_t *ctx = data;
    int16_t v = ctx->req->header.api_version;
    const char *state = sl_group_state_name(g->state);
    if ((v >= 4 && !matches(ctx->in->states_filter, ctx->in->states_filter_count, state)) ||
        (v >= 5 && !matches(ctx->in->types_filter, ctx->in->types_filter_count, "classic")))
        return true;
    if (ctx->count == ctx->cap) {
        size_t cap = ctx->cap == 0 ? 16 : ctx->cap * 2;
        sl_listed_group_t *grown = sl_arena_alloc(&ctx->req->arena, cap * sizeof(*grown));
        if (grown == NULL)
            return false;
        if (ctx->count > 0)
            memcpy(grown, ctx->out, ctx->count * sizeof(*grown));
        ctx->out = grown;
        ctx->cap = cap;
    }
    sl_arena_t *arena = &ctx->req->arena;
    char *id = sl_arena_strndup(arena, (const char *)g->group_id.ptr, g->group_id.len);
    char *type = sl_arena_strndup(arena, (const char *)g->protocol_type.ptr, g->protocol_type.len);
    if (id == NULL || type == NULL)
        return false;
    ctx->out[ctx->count++] = (sl_listed_group_t){
        .group_id = {(const uint8_t *)id, g->group_id.len},
        .protocol_type = {(const uint8_t *)type, g->protocol_type.len},
        .group_state = sl_slice_from_str(state),
        .group_type = sl_slice_from_str("classic"),
    };
    return true;
}

int sl__handle_list_groups(sl_request_t *req, const void *request, void *response)
{
    sl_list_groups_response_t *out = response;
    list_ctx_t ctx = {.req = req, .in = request};
    sl_group_each(req->broker->groups->coord, list_one, &ctx);
    out->throttle_time_ms = 0;
    out->error_code = SL_KERR_NONE;
    out->groups = ctx.out;
    out->groups_count = (int32_t)ctx.count;
    return 0;
}
