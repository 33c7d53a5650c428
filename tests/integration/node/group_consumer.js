// group_consumer.js: a kafkajs 2.2.4 consumer group member as an application runs it: subscribe
// from the beginning, consume until COUNT messages arrived (auto-commit), disconnect (commits and
// leaves). Prints {"values": [...], "partitions": [...]} on stdout; exit status 1 on any error.
// Usage: node group_consumer.js 127.0.0.1:PORT TOPIC GROUP COUNT
'use strict';
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [bootstrap, topic, group, countText] = process.argv.slice(2);
  const count = Number(countText);
  const kafka = new Kafka({
    clientId: 'sluice-kafkajs-group',
    brokers: bootstrap.split(','),
    connectionTimeout: 5000,
    requestTimeout: 10000,
    retry: { retries: 3, initialRetryTime: 200 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      process.stderr.write(`[${level}] ${namespace}: ${log.message}\n`);
    },
  });
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 500 });
  const values = [];
  const partitions = new Set();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommitInterval: 100,
    eachMessage: async ({ partition, message }) => {
      values.push(message.value.toString());
      partitions.add(partition);
      if (values.length >= count) done();
    },
  });
  const timer = setTimeout(() => done(), 30000);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  process.stdout.write(JSON.stringify({ values, partitions: [...partitions].sort() }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.name}: ${e.message}\n`);
  process.exit(1);
});
