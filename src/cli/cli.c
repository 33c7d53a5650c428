/* cli: the entry point of the admin commands: parse the command line, run one command against the
 * cluster, print its error. Exit status: 0 ok, 1 error (Kafka's error name and message on
 * stderr), 2 usage. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

void sl_cli_usage(FILE *out)
{
    fprintf(out,
            "       sluice topic create NAME [--partitions N] [--replication-factor R]\n"
            "                   [--config k=v ...] [--if-not-exists] [--validate-only]\n"
            "       sluice topic list\n"
            "       sluice topic describe [NAME...]\n"
            "       sluice topic delete NAME... [--if-exists]\n"
            "       sluice topic alter-config NAME [--set k=v ...] [--delete k ...]\n"
            "       sluice group list\n"
            "       sluice group describe GROUP\n"
            "       sluice cluster describe\n"
            "       sluice produce TOPIC [--key-separator S] [--partition N] [--acks all|1|0]\n"
            "       sluice consume TOPIC [--from-beginning] [--group G] [--max-messages N]\n"
            "                   [--partition N] [--print-keys] [--print-headers] "
            "[--print-offsets]\n"
            "                   [--key-separator S]\n"
            "     every admin command: [--bootstrap-server host:port[,host:port]] "
            "(or SLUICE_BOOTSTRAP;\n"
            "                   default localhost:9092) [--output table|json] [--timeout MS]\n");
}

static void on_interrupt(int signum)
{
    (void)signum; /* SIGINT and SIGTERM mean the same: stop at the next step */
    sl__cli_interrupted = 1;
}

/* A signal during produce/consume ends the loop cleanly (offsets committed); elsewhere the
 * default action (exit) is right. No SA_RESTART: poll() must return EINTR. */
static void install_interrupt_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int run(sl_cli_client_t *c)
{
    switch (c->args->command) {
    case SL_CLI_TOPIC_CREATE:
        return sl__cli_topic_create(c);
    case SL_CLI_TOPIC_LIST:
        return sl__cli_topic_list(c);
    case SL_CLI_TOPIC_DESCRIBE:
        return sl__cli_topic_describe(c);
    case SL_CLI_TOPIC_DELETE:
        return sl__cli_topic_delete(c);
    case SL_CLI_TOPIC_ALTER_CONFIG:
        return sl__cli_topic_alter_config(c);
    case SL_CLI_GROUP_LIST:
        return sl__cli_group_list(c);
    case SL_CLI_GROUP_DESCRIBE:
        return sl__cli_group_describe(c);
    case SL_CLI_CLUSTER_DESCRIBE:
        return sl__cli_cluster_describe(c);
    case SL_CLI_PRODUCE:
        return sl__cli_produce(c);
    case SL_CLI_CONSUME:
        return sl__cli_consume(c);
    }
    return sl__cli_fail(c, "internal: unhandled command %d", (int)c->args->command);
}

int sl_cli_main(int argc, char **argv)
{
    SL_ASSERT(argc >= 2 && argv != NULL);
    sl_cli_args_t args;
    char err[512];
    if (argc >= 3 && (strcmp(argv[argc - 1], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        fprintf(stdout, "usage:\n");
        sl_cli_usage(stdout);
        return SL_CLI_EXIT_OK;
    }
    int rc = sl__cli_args_parse(argc, argv, getenv("SLUICE_BOOTSTRAP"), &args, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "sluice: %s\nusage:\n", err);
        sl_cli_usage(stderr);
        return SL_CLI_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (args.command == SL_CLI_PRODUCE || args.command == SL_CLI_CONSUME)
        install_interrupt_handler();
    sl_cli_client_t client;
    if (sl__cli_client_init(&client, &args) != 0) {
        fprintf(stderr, "sluice: out of memory\n");
        return SL_CLI_EXIT_ERROR;
    }
    rc = run(&client);
    if (fflush(stdout) != 0 && rc == 0)
        rc = sl__cli_fail(&client, "cannot write the output");
    if (rc != 0 && client.error[0] != '\0')
        fprintf(stderr, "sluice: %s\n", client.error);
    sl__cli_client_deinit(&client);
    return rc == 0 ? SL_CLI_EXIT_OK : SL_CLI_EXIT_ERROR;
}
