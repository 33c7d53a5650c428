/* main: argv, configuration, signals and the event loop; nothing else lives here.
 *   sluice serve --config PATH [--check]   run a broker in the foreground (or only check PATH)
 *   sluice config docs                     print docs/configuration.md from the config table
 *   sluice --version
 *   sluice topic|group|cluster|produce|consume ...   the admin commands (src/cli/, docs/cli.md)
 * Exit status: 0 after a clean stop, 1 when the broker cannot start, 2 for bad usage or config. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "sluice/broker.h"
#include "sluice/cli.h"
#include "sluice/config.h"
#include "sluice/core.h"

#define EXIT_USAGE 2

typedef struct {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    sl_broker_t *broker;
    bool stopping;
} daemon_t;

static void usage(FILE *out)
{
    fprintf(out, "usage: sluice serve --config PATH [--check]\n"
                 "       sluice config docs\n"
                 "       sluice --version\n");
    sl_cli_usage(out);
}

static void broker_stopped(sl_broker_t *broker, void *data)
{
    (void)broker; /* the daemon holds the same pointer */
    daemon_t *d = data;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    daemon_t *d = handle->data;
    if (d->stopping) {
        SL_LOG(SL_LOG_WARN, "main", "second signal=%s while stopping: exiting now",
               strsignal(signum));
        _exit(1);
    }
    d->stopping = true;
    SL_LOG(SL_LOG_INFO, "main", "received signal=%s, stopping", strsignal(signum));
    sl_broker_stop(d->broker, broker_stopped, d);
}

static int serve(const sl_config_t *cfg)
{
    daemon_t d = {0};
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&d.loop);
    int rc = sl_broker_create(&d.loop, cfg, &d.broker);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "main", "cannot create broker error=\"%s\"", sl_strerror(rc));
        return 1;
    }
    uv_signal_init(&d.loop, &d.sigterm);
    uv_signal_init(&d.loop, &d.sigint);
    d.sigterm.data = d.sigint.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    rc = sl_broker_start(d.broker);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, "main", "broker did not start error=\"%s\"", sl_strerror(rc));
        d.stopping = true;
        sl_broker_stop(d.broker, broker_stopped, &d);
    }
    uv_run(&d.loop, UV_RUN_DEFAULT);
    sl_broker_destroy(d.broker);
    int close_rc = uv_loop_close(&d.loop);
    SL_ASSERT(close_rc == 0); /* every handle was closed: nothing may outlive the loop */
    return rc == 0 ? 0 : 1;
}

static int cmd_serve(int argc, char **argv)
{
    const char *config_path = NULL;
    bool check_only = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            check_only = true;
        else {
            fprintf(stderr, "sluice serve: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (config_path == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    sl_config_t cfg;
    char err[1024] = "";
    int rc = sl_config_load_file(&cfg, config_path, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "sluice: %s\n", err[0] ? err : sl_strerror(rc));
        return EXIT_USAGE;
    }
    sl_log_configure(cfg.log_level, cfg.log_format);
    if (check_only) {
        fprintf(stderr, "sluice: %s: configuration is valid\n", config_path);
        sl_config_deinit(&cfg);
        return 0;
    }
    rc = serve(&cfg);
    sl_config_deinit(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("sluice %s\n", SL_VERSION_STRING);
        return 0;
    }
    if (argc >= 2 && sl_cli_is_command(argv[1]))
        return sl_cli_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc, argv);
    if (argc == 3 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "docs") == 0)
        return sl_config_write_docs(stdout) == 0 ? 0 : 1;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return EXIT_USAGE;
}
