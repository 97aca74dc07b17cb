'use strict';
// Reference producer on kafkajs: JSON records (one per line on stdin) in, signed messages to the input topic.
//   node producer.js --bootstrap 127.0.0.1:9092 --keyring keyring.json [--topic phi.ingest] [--gzip] < records.jsonl
// Prints one JSON line per message sent: {"message_id", "key"}.

const fs = require('fs');
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');
const { loadHmacKeys, signingKey, signedHeaders, newMessageId } = require('./contract');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main() {
  const bootstrap = option('bootstrap');
  const topic = option('topic', 'phi.ingest');
  const schema = option('schema', 'clinical_record:1');
  const keyField = option('key-field', 'record_id');
  const [keyId, material] = signingKey(loadHmacKeys(option('keyring')), 'ingest-hmac');
  const lines = fs.readFileSync(0, 'utf8').split('\n').filter((line) => line.trim());
  const messages = [];
  const sent = [];
  for (const line of lines) {
    const record = JSON.parse(line);
    const key = Buffer.from(String(record[keyField]), 'utf8');
    const value = Buffer.from(JSON.stringify(record), 'utf8');
    const messageId = newMessageId();
    messages.push({ key, value, headers: signedHeaders(keyId, material, messageId, schema, key, value) });
    sent.push({ message_id: messageId, key: key.toString('utf8') });
  }
  const kafka = new Kafka({ clientId: 'reference-node-producer', brokers: bootstrap.split(','), logLevel: logLevel.ERROR });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    compression: process.argv.includes('--gzip') ? CompressionTypes.GZIP : CompressionTypes.None,
    messages,
  });
  await producer.disconnect();
  for (const item of sent) process.stdout.write(`${JSON.stringify(item)}\n`);
}

main().catch((error) => {
  process.stderr.write(`error: ${error.message}\n`);
  process.exitCode = 1;
});
