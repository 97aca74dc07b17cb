'use strict';
// Reference consumer on kafkajs: read output topics, verify every egress HMAC, decode Avro outputs with the
// shipped schemas.
//   node consumer.js --bootstrap 127.0.0.1:9092 --keyring keyring.json --topic phi.redacted [--topic ...]
//        [--schemas ../../schemas] [--expect N] [--timeout 60]
// Prints one JSON line per message; exit 1 if any fails verification.

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const avro = require('avsc');
const { Kafka, logLevel } = require('kafkajs');
const { loadHmacKeys, verify, ContractError } = require('./contract');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function options(name) {
  return process.argv.flatMap((arg, i) => (arg === `--${name}` ? [process.argv[i + 1]] : []));
}

// Output schemas by phi-schema value ("name:version"), from the shipped .avsc files.
function loadSchemas(folder) {
  const found = new Map();
  if (!folder) return found;
  for (const file of fs.readdirSync(folder).filter((f) => f.endsWith('.avsc'))) {
    const raw = JSON.parse(fs.readFileSync(path.join(folder, file), 'utf8'));
    found.set(`${path.basename(file, '.avsc')}:${raw.version || 1}`, avro.Type.forSchema(raw));
  }
  return found;
}

async function main() {
  const keys = loadHmacKeys(option('keyring'));
  const schemas = loadSchemas(option('schemas'));
  const expect = option('expect') ? Number(option('expect')) : Infinity;
  const timeoutMs = Number(option('timeout', '60')) * 1000;
  const kafka = new Kafka({ clientId: 'reference-node-consumer', brokers: option('bootstrap').split(','), logLevel: logLevel.ERROR });
  // sessionTimeout 6000 / heartbeatInterval 1000: the embedded broker (tansu) joins groups slowly otherwise.
  const consumer = kafka.consumer({ groupId: `reference-node-${crypto.randomUUID().slice(0, 8)}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
  await consumer.connect();
  for (const topic of options('topic')) await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let failures = 0;
  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  const timer = setTimeout(() => finish(), timeoutMs);
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      seen += 1;
      const shown = { topic, partition };
      try {
        const { messageId, schema } = verify(keys, message.headers || {}, message.key, message.value, 'egress-hmac');
        Object.assign(shown, { message_id: messageId, schema, verified: true });
        if (schemas.has(schema)) shown.value = schemas.get(schema).fromBuffer(message.value);
      } catch (error) {
        if (!(error instanceof ContractError)) throw error;
        Object.assign(shown, { verified: false, reason: error.reason });
        failures += 1;
      }
      process.stdout.write(`${JSON.stringify(shown, (k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
      if (seen >= expect) finish();
    },
  });
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  process.stderr.write(`${seen} messages, ${failures} failed verification\n`);
  // exitCode, not exit(): exit() can cut off output still queued for a pipe
  process.exitCode = failures ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`error: ${error.message}\n`);
  process.exitCode = 2;
});
