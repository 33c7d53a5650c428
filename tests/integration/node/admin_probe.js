// admin_probe.js: connects to a Kafka-compatible broker with kafkajs 2.2.4's admin client and
// prints one JSON object on stdout for test_kafkajs.py: describeCluster (brokers, controller,
// cluster id) and listTopics. Each step reports its own error; the exit status is 1 if any failed.
// Usage: node admin_probe.js 127.0.0.1:PORT
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const errorText = (e) => `${e.name}: ${e.message}`;

async function main() {
  const kafka = new Kafka({
    clientId: 'sluice-kafkajs-probe',
    brokers: process.argv[2].split(','),
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 2, initialRetryTime: 200 },
    // kafkajs logs to stdout by default; keep stdout for the JSON.
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      process.stderr.write(`[${level}] ${namespace}: ${log.message}\n`);
    },
  });
  const admin = kafka.admin();
  const out = {};
  let ok = true;
  try {
    await admin.connect();
    out.connected = true;
  } catch (e) {
    out.connect_error = errorText(e);
    console.log(JSON.stringify(out));
    return 1;
  }
  try {
    const c = await admin.describeCluster();
    out.cluster_id = c.clusterId;
    out.controller = c.controller;
    out.brokers = c.brokers.map((b) => ({ node_id: b.nodeId, host: b.host, port: b.port }));
  } catch (e) {
    ok = false;
    out.describe_cluster_error = errorText(e);
  }
  try {
    out.topics = (await admin.listTopics()).sort();
  } catch (e) {
    ok = false;
    out.list_topics_error = errorText(e);
  }
  await admin.disconnect();
  console.log(JSON.stringify(out));
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.log(JSON.stringify({ fatal: errorText(e) }));
  process.exit(2);
});
