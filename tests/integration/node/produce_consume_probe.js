// produce_consume_probe.js: kafkajs 2.2.4's producer and admin client as an application uses them,
// printing one JSON object on stdout for test_produce_consume.py / test_topic_admin.py:
// createTopics (twice), fetchTopicMetadata, producer.send with acks=-1 and acks=1 (gzip on the
// second batch, headers, keys, explicit partitions and timestamps), fetchTopicOffsets,
// fetchTopicOffsetsByTimestamp, deleteTopics, listTopics. Its consumer (a group member) belongs
// to the consumer-group tests. Each step reports its own error; the exit status is 1 if any
// failed.
// Usage: node produce_consume_probe.js 127.0.0.1:PORT TOPIC
'use strict';
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const errorText = (e) => `${e.name}: ${e.message}`;
const PARTITIONS = 3;

async function step(out, name, fn) {
  try {
    out[name] = await fn();
    return true;
  } catch (e) {
    out[`${name}_error`] = errorText(e);
    return false;
  }
}

const offsetsByPartition = (list) => Object.fromEntries(
  list.map((p) => [String(p.partition), { low: p.low, high: p.high, offset: p.offset }]));

async function main() {
  const [bootstrap, topic] = process.argv.slice(2);
  const kafka = new Kafka({
    clientId: 'sluice-kafkajs-datapath',
    brokers: bootstrap.split(','),
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 200 },
    logLevel: logLevel.WARN,
    // kafkajs logs to stdout by default; keep stdout for the JSON.
    logCreator: () => ({ namespace, level, log }) => {
      process.stderr.write(`[${level}] ${namespace}: ${log.message}\n`);
    },
  });
  const admin = kafka.admin();
  // kafkajs's default (not idempotent); idempotent producers are covered by test_idempotence.py.
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
  const out = {};
  let ok = true;
  await admin.connect();
  await producer.connect();
  const base = (Math.floor(Date.now() / 1000) - 60) * 1000;
  out.base_ts = base;
  const topics = [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }];
  ok = await step(out, 'created', () => admin.createTopics({ topics, waitForLeaders: true })) && ok;
  // kafkajs answers false, not an error, when the topic already exists.
  ok = await step(out, 'created_again', () => admin.createTopics({ topics })) && ok;
  ok = await step(out, 'metadata', async () => (await admin.fetchTopicMetadata({ topics: [topic] }))
    .topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ id: p.partitionId, leader: p.leader,
        replicas: p.replicas, isr: p.isr, error: p.partitionErrorCode }))
        .sort((a, b) => a.id - b.id),
    }))) && ok;
  const batch = (n0, tag) => Array.from({ length: PARTITIONS * 2 }, (_, i) => ({
    partition: i % PARTITIONS,
    key: `${tag}-${i}`,
    value: `value-${tag}-${i}`.repeat(20),
    timestamp: String(base + n0 + i),
    headers: { tag, n: String(n0 + i) },
  }));
  ok = await step(out, 'sent_acks_all', () => producer.send({ topic, acks: -1,
    messages: batch(0, 'all') })) && ok;
  ok = await step(out, 'sent_acks_1_gzip', () => producer.send({ topic, acks: 1,
    compression: CompressionTypes.GZIP, messages: batch(100, 'one') })) && ok;
  // Polled until every partition shows both sends: Sluice moves the high watermark only after
  // the fdatasync that follows an acks=1 answer (test_acks1_records_visible_when_answered).
  ok = await step(out, 'offsets', async () => {
    const deadline = Date.now() + 5000;
    let offsets = await admin.fetchTopicOffsets(topic);
    while (offsets.some((p) => p.high !== '4') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      offsets = await admin.fetchTopicOffsets(topic);
    }
    return offsetsByPartition(offsets);
  }) && ok;
  // The first send's records 0..5 went to partitions 0,1,2,0,1,2 in one batch per partition;
  // base+100 is the first record of the second send.
  for (const [label, ts] of [['ts_first', base], ['ts_second_send', base + 100],
    ['ts_future', base + 1e9]]) {
    ok = await step(out, label, async () => offsetsByPartition(
      await admin.fetchTopicOffsetsByTimestamp(topic, ts))) && ok;
  }
  await producer.disconnect();
  ok = await step(out, 'deleted', () => admin.deleteTopics({ topics: [topic], timeout: 10000 }))
    && ok;
  ok = await step(out, 'listed_after_delete', async () => {
    // The reference Kafka propagates a deletion asynchronously.
    const deadline = Date.now() + 10000;
    let names = await admin.listTopics();
    while (names.includes(topic) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      names = await admin.listTopics();
    }
    return names.sort();
  }) && ok;
  await admin.disconnect();
  console.log(JSON.stringify(out));
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.log(JSON.stringify({ fatal: errorText(e) }));
  process.exit(2);
});
