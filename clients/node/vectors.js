'use strict';
// Checks docs/contract-vectors.json with this client's implementation of the contract (contract.js):
// every vector's signed bytes, MAC and phi-hmac header, every vector verifies, every rejection gets its reason.
//   node vectors.js ../../docs/contract-vectors.json

const fs = require('fs');
const { signedBytes, macText, verify, ContractError } = require('./contract');

const file = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const keys = new Map(file.keyring.keys
  .filter((k) => k.purpose.endsWith('-hmac'))
  .map((k) => [k.key_id, { purpose: k.purpose, version: k.version, status: k.status, material: Buffer.from(k.material, 'base64') }]));
const bytes = (b64) => (b64 === null ? null : Buffer.from(b64, 'base64'));
// kafkajs gives headers as an object of Buffers, an array where a header repeats
const headerObject = (pairs) => {
  const out = {};
  for (const [name, value] of pairs) {
    const buffer = Buffer.from(value, 'utf8');
    if (name in out) out[name] = [].concat(out[name], buffer);
    else out[name] = buffer;
  }
  return out;
};
const outcome = (pairs, key, value, purpose) => {
  try {
    verify(keys, headerObject(pairs), key, value, purpose);
    return 'ok';
  } catch (error) {
    if (error instanceof ContractError) return error.reason;
    throw error;
  }
};

const failures = [];
for (const v of file.vectors) {
  const key = bytes(v.key_b64);
  const value = bytes(v.value_b64);
  const signed = signedBytes(v.version, v.message_id, v.schema, key, value);
  if (signed.toString('hex') !== v.signed_bytes_hex) failures.push(`${v.name}: signed bytes differ`);
  const mac = macText(keys.get(v.key_id).material, signed);
  if (mac !== v.mac) failures.push(`${v.name}: MAC differs`);
  const purpose = v.direction === 'ingress' ? 'ingest-hmac' : 'egress-hmac';
  const want = v.expect === 'verified-schema-unsigned' ? 'hmac-schema-unsigned' : 'ok';
  const got = outcome(v.headers, key, value, purpose);
  if (got !== want) failures.push(`${v.name}: ${got}, expected ${want}`);
}
// the checks a reference client makes (the MAC and its key); message-id grammar is the worker's
const clientSide = new Set(['hmac-mismatch', 'hmac-missing', 'message-id-missing', 'hmac-unknown-key',
  'hmac-retired-key', 'hmac-wrong-purpose', 'hmac-schema-unsigned']);
let rejections = 0;
for (const r of file.rejections.filter((c) => clientSide.has(c.expect))) {
  const got = outcome(r.headers, bytes(r.key_b64), bytes(r.value_b64), 'ingest-hmac');
  rejections += 1;
  if (got !== r.expect) failures.push(`${r.name}: ${got}, expected ${r.expect}`);
}
if (failures.length) {
  process.stdout.write(`${failures.join('\n')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`${file.vectors.length} vectors and ${rejections} rejections check out\n`);
}
