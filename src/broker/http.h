/* http: the broker's HTTP endpoints for operators (http.listeners): /metrics, /healthz, /readyz.
 * Served by libmicrohttpd in its external-event-loop mode on the broker's own libuv loop, so a
 * scrape reads the broker's state without locks. */
#ifndef SLUICE_BROKER_HTTP_H
#define SLUICE_BROKER_HTTP_H

#include "sluice/core.h"

struct sl_broker;
typedef struct sl_http sl_http_t;

/* Binds every http.listeners entry of the broker's configuration and starts serving. Always
 * returns the server in *out (owned, closed with sl__http_close) so that what did bind is closed
 * on the error path too. Logs "http listening host=H port=P" for each. */
int sl__http_start(struct sl_broker *broker, sl_http_t **out);
/* Closes every listener and connection; done runs once everything is closed (never
 * synchronously), after which the server is freed. */
void sl__http_close(sl_http_t *http, void (*done)(void *data), void *data);

/* Writes the Prometheus text exposition of the broker's state into out (http_metrics.c). */
/* Why /readyz answers 503 ("starting\n", "stopping\n", "catching up: ...\n"), NULL when ready. */
const char *sl__http_not_ready_reason(struct sl_broker *broker);
int sl__http_metrics_write(struct sl_broker *broker, sl_buf_t *out);

#endif
