/* cli: the admin commands in the sluice binary (`sluice topic create ...`, `sluice group describe`,
 * `sluice produce`, ...). A small blocking Kafka client on the generated codecs, so it works
 * against any Kafka-compatible broker. Exit status: 0 ok, 1 error (the broker's error name on
 * stderr), 2 usage. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define SL_CLI_EXIT_OK 0
#define SL_CLI_EXIT_ERROR 1
#define SL_CLI_EXIT_USAGE 2

/* True when argv[1] names one of the admin commands (topic, group, cluster, produce, consume). */
bool sl_cli_is_command(const char *name);
/* Runs the admin command in argv (argv[1] is the command); returns the exit status. Reads
 * SLUICE_BOOTSTRAP from the environment; writes results to stdout and errors to stderr. */
int sl_cli_main(int argc, char **argv);
/* Prints the admin commands' usage lines. */
void sl_cli_usage(FILE *out);

#endif
