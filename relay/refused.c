/*
 * The refused-webhooks ring (see refused.h): a fixed array of slots reused
 * oldest first, each holding a copy of the refused request cut to its caps,
 * and its JSON for the history API. Owns struct relay_refused. Service
 * thread only.
 */
#include "refused.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/id.h"
#include "core/json.h"
#include "queue.h"
#include "store/store.h"

struct refusal {
    char channel[HW_STORE_NAME_MAX + 1];
    char id[HW_ID_LEN + 1];
    int64_t at_ms;
    int status;
    const char *reason;
    char *head; /* owned */
    size_t head_len;
    unsigned char *body; /* owned */
    size_t body_len;     /* kept */
    size_t body_total;   /* received */
    int used;
};

struct relay_refused {
    struct refusal slot[RELAY_REFUSED_MAX];
    unsigned next; /* the slot the next refusal takes */
};

struct relay_refused *relay_refused_new(void)
{
    return calloc(1, sizeof(struct relay_refused));
}

static void slot_clear(struct refusal *s)
{
    free(s->head);
    free(s->body);
    memset(s, 0, sizeof(*s));
}

void relay_refused_free(struct relay_refused *rf)
{
    if (!rf)
        return;
    for (unsigned i = 0; i < RELAY_REFUSED_MAX; i++)
        slot_clear(&rf->slot[i]);
    free(rf);
}

void relay_refused_add(struct relay_refused *rf, const char *channel, size_t channel_len,
                       const char *id, int status, const char *reason, const char *head,
                       size_t head_len, const void *body, size_t body_len)
{
    struct refusal *s;

    if (!rf || !channel_len || channel_len > HW_STORE_NAME_MAX)
        return;
    s = &rf->slot[rf->next];
    rf->next = (rf->next + 1) % RELAY_REFUSED_MAX;
    slot_clear(s);
    if (head_len > RELAY_REFUSED_HEAD_MAX)
        head_len = RELAY_REFUSED_HEAD_MAX;
    s->body_total = body ? body_len : 0;
    body_len = s->body_total > RELAY_REFUSED_BODY_MAX ? RELAY_REFUSED_BODY_MAX : s->body_total;
    s->head = head && head_len ? malloc(head_len) : NULL;
    s->body = body_len ? malloc(body_len) : NULL;
    if ((head && head_len && !s->head) || (body_len && !s->body)) {
        slot_clear(s);
        return;
    }
    if (s->head)
        memcpy(s->head, head, head_len);
    s->head_len = s->head ? head_len : 0;
    if (s->body)
        memcpy(s->body, body, body_len);
    s->body_len = body_len;
    memcpy(s->channel, channel, channel_len);
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->at_ms = hw_wall_ms();
    s->status = status;
    s->reason = reason;
    s->used = 1;
}

static int json_refusal(struct hw_buf *out, const struct refusal *s)
{
    char *b64;
    int err = hw_buf_printf(out, "{\"id\":\"%s\",\"at_ms\":%lld,\"status\":%d,\"reason\":", s->id,
                            (long long)s->at_ms, s->status);

    err = err ? err : hw_json_str(out, s->reason, strlen(s->reason), HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(out, ",\"head\":");
    err = err ? err : hw_json_str(out, s->head ? s->head : "", s->head_len, HW_JSON_BYTES);
    err = err ? err : hw_buf_puts(out, ",\"body_b64\":\"");
    if (!err && s->body_len) {
        b64 = hw_buf_reserve(out, 4 * ((s->body_len + 2) / 3) + 1);
        if (!b64)
            return HW_E2BIG;
        hw_buf_commit(out,
                      (size_t)EVP_EncodeBlock((unsigned char *)b64, s->body, (int)s->body_len));
    }
    return err ? err
               : hw_buf_printf(out, "\",\"body_len\":%zu,\"cut\":%s}", s->body_total,
                               s->body_total > s->body_len ? "true" : "false");
}

int relay_refused_json(const struct relay_refused *rf, const char *channel, struct hw_buf *out)
{
    int err = hw_buf_puts(out, "{\"refused\":["), first = 1;

    for (unsigned k = 1; rf && k <= RELAY_REFUSED_MAX && !err; k++) {
        const struct refusal *s = &rf->slot[(rf->next + RELAY_REFUSED_MAX - k) % RELAY_REFUSED_MAX];

        if (!s->used || strcmp(s->channel, channel) != 0)
            continue;
        err = first ? 0 : hw_buf_puts(out, ",");
        err = err ? err : json_refusal(out, s);
        first = 0;
    }
    return err ? err : hw_buf_puts(out, "]}\n");
}
