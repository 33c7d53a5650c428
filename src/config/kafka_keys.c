/* kafka_keys.c: Apache Kafka 3.9 broker keys that Sluice accepts but does not use (an operator's
 * pasted server.properties still starts, with a warning per key), and the "did you mean" search.
 * Invariants: kafka_keys is sorted by strcmp (bsearch; a unit test checks it) and shares no name
 * with the Sluice key table; suggestions consider both lists. */
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

static const char *const kafka_keys[] = {
    "advertised.host.name",
    "advertised.port",
    "alter.config.policy.class.name",
    "alter.log.dirs.replication.quota.window.num",
    "alter.log.dirs.replication.quota.window.size.seconds",
    "authorizer.class.name",
    "auto.include.jmx.reporter",
    "background.threads",
    "broker.id",
    "broker.id.generation.enable",
    "client.quota.callback.class",
    "client.telemetry.max.bytes",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "config.providers",
    "connection.failed.authentication.delay.ms",
    "connections.max.reauth.ms",
    "control.plane.listener.name",
    "controlled.shutdown.enable",
    "controlled.shutdown.max.retries",
    "controlled.shutdown.retry.backoff.ms",
    "controller.quorum.append.linger.ms",
    "controller.quorum.auto.join.enable",
    "controller.quota.window.num",
    "controller.quota.window.size.seconds",
    "controller.socket.timeout.ms",
    "create.topic.policy.class.name",
    "delegation.token.expiry.check.interval.ms",
    "delegation.token.expiry.time.ms",
    "delegation.token.master.key",
    "delegation.token.max.lifetime.ms",
    "delegation.token.secret.key",
    "delete.records.purgatory.purge.interval.requests",
    "early.start.listeners",
    "eligible.leader.replicas.enable",
    "fetch.max.bytes",
    "fetch.purgatory.purge.interval.requests",
    "group.consumer.assignors",
    "group.consumer.heartbeat.interval.ms",
    "group.consumer.max.heartbeat.interval.ms",
    "group.consumer.max.session.timeout.ms",
    "group.consumer.max.size",
    "group.consumer.migration.policy",
    "group.consumer.min.heartbeat.interval.ms",
    "group.consumer.min.session.timeout.ms",
    "group.consumer.session.timeout.ms",
    "group.coordinator.append.linger.ms",
    "group.coordinator.new.enable",
    "group.coordinator.rebalance.protocols",
    "group.coordinator.threads",
    "group.max.size",
    "host.name",
    "initial.broker.registration.timeout.ms",
    "kafka.metrics.polling.interval.secs",
    "kafka.metrics.reporters",
    "leader.imbalance.check.interval.seconds",
    "leader.imbalance.per.broker.percentage",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.min.compaction.lag.ms",
    "log.dir.failure.timeout.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "log.flush.scheduler.interval.ms",
    "log.flush.start.offset.checkpoint.interval.ms",
    "log.initial.task.delay.ms",
    "log.local.retention.bytes",
    "log.local.retention.ms",
    "log.message.downconversion.enable",
    "log.message.format.version",
    "log.message.timestamp.difference.max.ms",
    "log.roll.jitter.hours",
    "log.roll.jitter.ms",
    "max.connection.creation.rate",
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "max.incremental.fetch.session.cache.slots",
    "max.request.partition.size.limit",
    "metadata.log.max.record.bytes.between.snapshots",
    "metadata.log.max.snapshot.interval.ms",
    "metadata.log.segment.bytes",
    "metadata.log.segment.ms",
    "metadata.max.idle.interval.ms",
    "metadata.max.retention.bytes",
    "metadata.max.retention.ms",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.recording.level",
    "metrics.sample.window.ms",
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
    "num.replica.alter.log.dirs.threads",
    "num.replica.fetchers",
    "offset.metadata.max.bytes",
    "offsets.commit.required.acks",
    "offsets.commit.timeout.ms",
    "offsets.load.buffer.size",
    "offsets.retention.check.interval.ms",
    "offsets.topic.compression.codec",
    "offsets.topic.segment.bytes",
    "password.encoder.cipher.algorithm",
    "password.encoder.iterations",
    "password.encoder.key.length",
    "password.encoder.keyfactory.algorithm",
    "password.encoder.old.secret",
    "password.encoder.secret",
    "port",
    "principal.builder.class",
    "producer.id.expiration.check.interval.ms",
    "producer.purgatory.purge.interval.requests",
    "queued.max.requests",
    "quota.window.num",
    "quota.window.size.seconds",
    "remote.fetch.max.wait.ms",
    "remote.log.index.file.cache.total.size.bytes",
    "remote.log.manager.copier.thread.pool.size",
    "remote.log.manager.copy.max.bytes.per.second",
    "remote.log.manager.copy.quota.window.num",
    "remote.log.manager.copy.quota.window.size.seconds",
    "remote.log.manager.expiration.thread.pool.size",
    "remote.log.manager.fetch.max.bytes.per.second",
    "remote.log.manager.fetch.quota.window.num",
    "remote.log.manager.fetch.quota.window.size.seconds",
    "remote.log.manager.task.interval.ms",
    "remote.log.manager.thread.pool.size",
    "remote.log.metadata.custom.metadata.max.bytes",
    "remote.log.metadata.manager.class.name",
    "remote.log.metadata.manager.class.path",
    "remote.log.metadata.manager.impl.prefix",
    "remote.log.metadata.manager.listener.name",
    "remote.log.reader.max.pending.tasks",
    "remote.log.reader.threads",
    "remote.log.storage.manager.class.name",
    "remote.log.storage.manager.class.path",
    "remote.log.storage.manager.impl.prefix",
    "remote.log.storage.system.enable",
    "replica.fetch.backoff.ms",
    "replica.fetch.min.bytes",
    "replica.fetch.response.max.bytes",
    "replica.high.watermark.checkpoint.interval.ms",
    "replica.selector.class",
    "replica.socket.receive.buffer.bytes",
    "replica.socket.timeout.ms",
    "replication.quota.window.num",
    "replication.quota.window.size.seconds",
    "request.timeout.ms",
    "reserved.broker.max.id",
    "sasl.client.callback.handler.class",
    "sasl.enabled.mechanisms",
    "sasl.jaas.config",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal.to.local.rules",
    "sasl.kerberos.service.name",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.retry.backoff.max.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.mechanism.controller.protocol",
    "sasl.mechanism.inter.broker.protocol",
    "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.server.callback.handler.class",
    "sasl.server.max.receive.size",
    "security.inter.broker.protocol",
    "security.providers",
    "server.max.startup.time.ms",
    "socket.connection.setup.timeout.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.listen.backlog.size",
    "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes",
    "ssl.allow.dn.changes",
    "ssl.allow.san.changes",
    "ssl.cipher.suites",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.endpoint.identification.algorithm",
    "ssl.engine.factory.class",
    "ssl.key.password",
    "ssl.keymanager.algorithm",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.principal.mapping.rules",
    "ssl.protocol",
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.trustmanager.algorithm",
    "ssl.truststore.certificates",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "super.users",
    "telemetry.max.bytes",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "transaction.max.timeout.ms",
    "transaction.partition.verification.enable",
    "transaction.remove.expired.transaction.cleanup.interval.ms",
    "transaction.state.log.load.buffer.size",
    "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions",
    "transaction.state.log.replication.factor",
    "transaction.state.log.segment.bytes",
    "transactional.id.expiration.ms",
    "unstable.api.versions.enable",
    "unstable.feature.versions.enable",
    "zookeeper.clientCnxnSocket",
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
    "zookeeper.max.in.flight.requests",
    "zookeeper.metadata.migration.enable",
    "zookeeper.session.timeout.ms",
    "zookeeper.set.acl",
    "zookeeper.ssl.client.enable",
    "zookeeper.ssl.keystore.location",
    "zookeeper.ssl.keystore.password",
    "zookeeper.ssl.truststore.location",
    "zookeeper.ssl.truststore.password",
};

/* Whole families of Kafka keys (per-listener overrides, TLS, SASL, tiered storage, ZooKeeper). */
static const char *const kafka_prefixes[] = {
    "delegation.token.", "group.consumer.", "group.share.", "listener.name.", "metadata.log.",
    "password.encoder.", "remote.log.",     "sasl.",        "share.",         "ssl.",
    "unstable.",         "zookeeper.",
};

/* Kafka keys that would change what the cluster is if they were ignored: refused with the reason.
 */
static const struct {
    const char *name;
    const char *reason;
} kafka_refused[] = {
    {"controller.quorum.bootstrap.servers",
     "dynamic quorum (KIP-853) is not supported; use controller.quorum.voters"},
};

const char *sl__config_kafka_key_refusal(const char *name)
{
    SL_ASSERT(name != NULL);
    for (size_t i = 0; i < SL_ARRAY_LEN(kafka_refused); i++)
        if (strcmp(kafka_refused[i].name, name) == 0)
            return kafka_refused[i].reason;
    return NULL;
}

const char *sl__config_kafka_refused_at(size_t index, const char **reason)
{
    if (index >= SL_ARRAY_LEN(kafka_refused))
        return NULL;
    if (reason != NULL)
        *reason = kafka_refused[index].reason;
    return kafka_refused[index].name;
}

static int key_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool sl__config_kafka_key_known(const char *name)
{
    SL_ASSERT(name != NULL);
    if (sl_config_key_find(name) != NULL)
        return false; /* Sluice's own (metadata.log.dir within the metadata.log. family) */
    if (bsearch(&name, kafka_keys, SL_ARRAY_LEN(kafka_keys), sizeof(kafka_keys[0]), key_compare) !=
        NULL)
        return true;
    for (size_t i = 0; i < SL_ARRAY_LEN(kafka_prefixes); i++) {
        size_t len = strlen(kafka_prefixes[i]);
        if (strncmp(name, kafka_prefixes[i], len) == 0 && name[len] != '\0')
            return true;
    }
    return false;
}

/* Levenshtein distance with one row; names longer than SL_CONFIG_NAME_BYTES_MAX count as far. */
size_t sl__config_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la >= SL_CONFIG_NAME_BYTES_MAX || lb >= SL_CONFIG_NAME_BYTES_MAX)
        return SIZE_MAX;
    size_t row[SL_CONFIG_NAME_BYTES_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = SL_MIN(row[j] + 1, row[j - 1] + 1);
            row[j] = SL_MIN(best, diagonal + cost);
            diagonal = above;
        }
    }
    SL_ASSERT(row[lb] <= SL_MAX(la, lb));
    return row[lb];
}

static void consider(const char *name, const char *candidate, const char **best, size_t *best_d)
{
    size_t d = sl__config_edit_distance(name, candidate);
    if (d < *best_d) {
        *best = candidate;
        *best_d = d;
    }
}

const char *sl__config_suggest(const char *name)
{
    SL_ASSERT(name != NULL);
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < sl__config_keys_count; i++)
        consider(name, sl__config_keys[i].name, &best, &best_d);
    for (size_t i = 0; i < SL_ARRAY_LEN(kafka_keys); i++)
        consider(name, kafka_keys[i], &best, &best_d);
    /* Close enough to be a typo: a few edits, and less than a third of the name. */
    size_t len = strlen(name);
    if (best == NULL || best_d > 4 || best_d * 3 > len)
        return NULL;
    return best;
}

bool sl__config_kafka_keys_sorted(void)
{
    for (size_t i = 1; i < SL_ARRAY_LEN(kafka_keys); i++) {
        if (strcmp(kafka_keys[i - 1], kafka_keys[i]) >= 0)
            return false;
    }
    return true;
}

const char *sl__config_kafka_key_at(size_t index)
{
    return index < SL_ARRAY_LEN(kafka_keys) ? kafka_keys[index] : NULL;
}

const char *sl__config_kafka_prefix_at(size_t index)
{
    return index < SL_ARRAY_LEN(kafka_prefixes) ? kafka_prefixes[index] : NULL;
}
