// An idempotent kafkajs producer for test_idempotence.py: sends COUNT records, record i with value
// "<prefix>-<i>" to partition i % PARTITIONS, one send at a time in order (kafkajs allows one
// request in flight when idempotent), retrying as kafkajs does. Prints one JSON object.
// usage: node idempotent_producer.js BOOTSTRAP TOPIC PARTITIONS COUNT PREFIX
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [bootstrap, topic, partitions, count, prefix] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'sluice-idempotent', brokers: [bootstrap],
    logLevel: logLevel.NOTHING, requestTimeout: 5000, connectionTimeout: 3000,
    retry: { retries: 30, initialRetryTime: 50, maxRetryTime: 1000 } });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1,
    allowAutoTopicCreation: false });
  await producer.connect();
  const errors = [];
  let delivered = 0;
  const n = Number(count), parts = Number(partitions);
  const batch = 20;
  for (let start = 0; start < n; start += batch) {
    // One send per batch of records spread over the partitions, in order.
    const messages = [];
    for (let i = start; i < Math.min(n, start + batch); i++)
      messages.push({ value: `${prefix}-${i}`, partition: i % parts });
    try {
      await producer.send({ topic, acks: -1, messages });
      delivered += messages.length;
    } catch (e) {
      errors.push(String(e));
      break;
    }
  }
  await producer.disconnect();
  console.log(JSON.stringify({ client: 'kafkajs', delivered, errors, unflushed: 0,
    idempotent: true }));
}

main().catch((e) => { console.log(JSON.stringify({ client: 'kafkajs', fatal: String(e) }));
  process.exit(1); });
