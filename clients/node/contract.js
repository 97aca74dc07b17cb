'use strict';
// The phi-pipeline wire contract (docs/contract.md), implemented from the spec alone: node's crypto only.

const crypto = require('crypto');
const fs = require('fs');

const HEADER_MESSAGE_ID = 'phi-message-id';
const HEADER_HMAC = 'phi-hmac';
const HEADER_SCHEMA = 'phi-schema';
const DOMAIN = { v1: 'phi-pipeline/hmac/v1', v2: 'phi-pipeline/hmac/v2' };
const MESSAGE_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

class ContractError extends Error {
  constructor(reason, detail) {
    super(`${reason}: ${detail}`);
    this.reason = reason;
  }
}

// One field of the signed bytes: presence byte (0 absent, 1 present), 8-byte big-endian length, the bytes.
function field(data) {
  const head = Buffer.alloc(9);
  if (data === null || data === undefined) return head;
  head.writeUInt8(1, 0);
  head.writeBigUInt64BE(BigInt(data.length), 1);
  return Buffer.concat([head, data]);
}

const utf8 = (text) => (text === null || text === undefined ? null : Buffer.from(text, 'utf8'));

function signedBytes(version, messageId, schema, key, value) {
  const parts = [field(Buffer.from(DOMAIN[version], 'ascii')), field(utf8(messageId))];
  if (version === 'v2') parts.push(field(utf8(schema)));
  parts.push(field(key), field(value));
  return Buffer.concat(parts);
}

function macText(material, data) {
  return crypto.createHmac('sha256', material).update(data).digest('base64');
}

function sign(keyId, material, messageId, schema, key, value) {
  return `v2:${keyId}:${macText(material, signedBytes('v2', messageId, schema, key, value))}`;
}

function newMessageId() {
  return `msg-${crypto.randomUUID().replace(/-/g, '')}`;
}

// The HMAC keys of a keyring file ("phi-pipeline-keyring", format_version 1).
function loadHmacKeys(path) {
  const doc = JSON.parse(fs.readFileSync(path, 'utf8'));
  if (doc.format !== 'phi-pipeline-keyring' || doc.format_version !== 1) {
    throw new ContractError('keyring', 'not a phi-pipeline-keyring version 1 file');
  }
  const keys = new Map();
  for (const k of doc.keys) {
    if (k.purpose === 'ingest-hmac' || k.purpose === 'egress-hmac') {
      keys.set(k.key_id, { purpose: k.purpose, version: k.version, status: k.status, material: Buffer.from(k.material, 'base64') });
    }
  }
  return keys;
}

// The newest active key of a purpose: [keyId, material].
function signingKey(keys, purpose) {
  let best = null;
  for (const [keyId, k] of keys) {
    if (k.purpose === purpose && k.status === 'active' && (best === null || k.version > best[2])) best = [keyId, k.material, k.version];
  }
  if (best === null) throw new ContractError('keyring', `no active ${purpose} key`);
  return [best[0], best[1]];
}

function signedHeaders(keyId, material, messageId, schema, key, value) {
  return {
    [HEADER_MESSAGE_ID]: messageId,
    [HEADER_HMAC]: sign(keyId, material, messageId, schema, key, value),
    [HEADER_SCHEMA]: schema,
  };
}

// Verify a consumed message (kafkajs gives headers as an object of Buffers, arrays when repeated).
function verify(keys, headers, key, value, purpose) {
  const one = (name, duplicateReason) => {
    const found = headers[name];
    if (Array.isArray(found)) throw new ContractError(duplicateReason, `${found.length} ${name} headers`);
    return found === undefined || found === null ? null : Buffer.from(found);
  };
  const rawId = one(HEADER_MESSAGE_ID, 'message-id-invalid');
  if (rawId === null || rawId.length === 0) throw new ContractError('message-id-missing', 'no phi-message-id');
  const messageId = rawId.toString('utf8');
  const rawSchema = one(HEADER_SCHEMA, 'hmac-malformed');
  const schema = rawSchema === null ? null : rawSchema.toString('utf8');
  const header = one(HEADER_HMAC, 'hmac-malformed');
  if (header === null || header.length === 0) throw new ContractError('hmac-missing', 'no phi-hmac');
  const parts = header.toString('ascii').split(':');
  if (parts.length !== 3 || !(parts[0] in DOMAIN)) throw new ContractError('hmac-malformed', 'not v2:<key-id>:<base64>');
  const [version, keyId, text] = parts;
  const k = keys.get(keyId);
  if (k === undefined) throw new ContractError('hmac-unknown-key', 'key id not in the keyring');
  if (k.purpose !== purpose) throw new ContractError('hmac-wrong-purpose', keyId);
  if (k.status !== 'active') throw new ContractError('hmac-retired-key', keyId);
  const expected = Buffer.from(macText(k.material, signedBytes(version, messageId, schema, key, value)), 'ascii');
  const given = Buffer.from(text, 'ascii');
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) {
    throw new ContractError('hmac-mismatch', 'MAC does not match');
  }
  if (version === 'v1' && schema !== null) throw new ContractError('hmac-schema-unsigned', 'a v1 MAC does not cover phi-schema');
  return { messageId, schema };
}

module.exports = {
  ContractError, MESSAGE_ID, field, signedBytes, macText, sign, newMessageId, loadHmacKeys, signingKey, signedHeaders, verify,
};
