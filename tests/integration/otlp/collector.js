// A stand-in OTLP/HTTP collector for tests/integration/test_export.sh. It
// decodes what sluice sends with code nobody here wrote: the protobuf
// classes OpenTelemetry generated from opentelemetry-proto, shipped in
// @opentelemetry/otlp-transformer 0.57.x (later releases dropped them for a
// hand-written encoder with no request decoder).
//
// Each request body is checked against the OTLP/JSON rules: JSON, ids as
// lowercase hex of the right length, enums as integers, every field known
// to the protobuf schema (a field that does not survive encode -> decode is
// a misspelling), types the schema's verify() accepts. The decoded result,
// not the request, is what gets written for the test to examine:
//   OUT/spans.jsonl    one span per line, attributes flattened
//   OUT/metrics.jsonl  one export request per line, data points flattened
//   OUT/errors.log     what failed a check (the request then gets a 400)
// FAIL_FIRST_TRACES=n answers the first n valid trace requests with 503,
// so the exporter's retry path runs for real.
//
//   node collector.js PORT OUT
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const pb = root.opentelemetry.proto;
const TYPES = {
  '/v1/traces': pb.collector.trace.v1.ExportTraceServiceRequest,
  '/v1/metrics': pb.collector.metrics.v1.ExportMetricsServiceRequest,
};
const ID_HEX_LEN = { traceId: 32, spanId: 16, parentSpanId: 16 };
const ENUMS = new Set(['kind', 'aggregationTemporality', 'code']);
// 64-bit integers travel as decimal strings (proto3 JSON); verify() wants
// numbers, so these become numbers for it, and only for it.
const INT64 = new Set(['intValue', 'asInt', 'count', 'bucketCounts', 'startTimeUnixNano',
  'endTimeUnixNano', 'timeUnixNano']);

const [port, out] = [Number(process.argv[2]), process.argv[3]];
let failTraces = Number(process.env.FAIL_FIRST_TRACES || 0);

function fail(msg) {
  throw new Error(msg);
}

// OTLP/JSON carries ids as hex, where proto3 JSON would use base64: turn
// them into bytes before protobufjs sees them.
function idsToBytes(v, at) {
  if (Array.isArray(v)) return v.map((x, i) => idsToBytes(x, `${at}[${i}]`));
  if (v === null || typeof v !== 'object') return v;
  const o = {};
  for (const [k, x] of Object.entries(v)) {
    if (k in ID_HEX_LEN) {
      if (typeof x !== 'string' || !new RegExp(`^[0-9a-f]{${ID_HEX_LEN[k]}}$`).test(x))
        fail(`${at}.${k}: want ${ID_HEX_LEN[k]} lowercase hex digits, got ${JSON.stringify(x)}`);
      o[k] = Buffer.from(x, 'hex');
    } else {
      if (ENUMS.has(k) && !Number.isInteger(x)) fail(`${at}.${k}: enums are integers in OTLP/JSON`);
      o[k] = idsToBytes(x, `${at}.${k}`);
    }
  }
  return o;
}

function forVerify(v, key) {
  if (Array.isArray(v)) return v.map((x) => forVerify(x, key));
  if (Buffer.isBuffer(v)) return v;
  if (v !== null && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = forVerify(x, k);
    return o;
  }
  if (INT64.has(key)) {
    if (typeof v !== 'string' || !/^-?[0-9]+$/.test(v)) fail(`${key}: want a decimal string, got ${JSON.stringify(v)}`);
    return Number(v);
  }
  return v;
}

function isDefault(v) {
  return v === 0 || v === '' || v === '0' || v === false ||
    (Array.isArray(v) && v.length === 0);
}

// Everything sent must come back out of the decoder unchanged.
function same(sent, back, at) {
  if (Array.isArray(sent)) {
    if (!Array.isArray(back) || back.length !== sent.length) fail(`${at}: array changed in decoding`);
    sent.forEach((x, i) => same(x, back[i], `${at}[${i}]`));
  } else if (sent !== null && typeof sent === 'object') {
    for (const [k, x] of Object.entries(sent)) {
      if (back === undefined || !(k in back)) {
        if (isDefault(x)) continue;
        fail(`${at}.${k} did not survive decoding: not a field of this OTLP message?`);
      }
      if (k in ID_HEX_LEN) {
        if (Buffer.from(back[k], 'base64').toString('hex') !== x) fail(`${at}.${k} changed`);
      } else {
        same(x, back[k], `${at}.${k}`);
      }
    }
  } else if (typeof sent === 'number' && typeof back === 'number') {
    if (sent !== back) fail(`${at}: ${sent} decoded as ${back}`);
  } else if (String(sent) !== String(back)) {
    fail(`${at}: ${JSON.stringify(sent)} decoded as ${JSON.stringify(back)}`);
  }
}

function decode(type, body) {
  let json;
  try {
    json = JSON.parse(body);
  } catch (e) {
    fail(`not JSON: ${e.message}`);
  }
  const obj = idsToBytes(json, '$');
  const err = type.verify(forVerify(obj, ''));
  if (err) fail(`schema: ${err}`);
  const bin = type.encode(type.fromObject(obj)).finish();
  const back = type.toObject(type.decode(bin), { longs: String, enums: Number, bytes: String });
  same(json, back, '$');
  return back;
}

function anyValue(v) {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('boolValue' in v) return v.boolValue;
  if ('doubleValue' in v) return v.doubleValue;
  return null;
}

function attrs(list) {
  const o = {};
  for (const a of list || []) o[a.key] = anyValue(a.value);
  return o;
}

const hex = (b64) => (b64 ? Buffer.from(b64, 'base64').toString('hex') : '');

function writeSpans(req) {
  const lines = [];
  for (const rs of req.resourceSpans || []) {
    const resource = attrs(rs.resource && rs.resource.attributes);
    for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) {
        lines.push(JSON.stringify({
          resource, scope: ss.scope && ss.scope.name, traceId: hex(s.traceId),
          spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name,
          kind: s.kind, start: s.startTimeUnixNano, end: s.endTimeUnixNano,
          attrs: attrs(s.attributes), status: (s.status && s.status.code) || 0,
        }));
      }
    }
  }
  fs.appendFileSync(path.join(out, 'spans.jsonl'), lines.map((l) => l + '\n').join(''));
}

function writeMetrics(req) {
  const metrics = [];
  for (const rm of req.resourceMetrics || []) {
    const resource = attrs(rm.resource && rm.resource.attributes);
    for (const sm of rm.scopeMetrics || []) {
      for (const m of sm.metrics || []) {
        const kind = ['histogram', 'sum', 'gauge'].find((k) => k in m);
        const points = (m[kind].dataPoints || []).map((p) => ({
          attrs: attrs(p.attributes), count: Number(p.count || 0), sum: p.sum,
          bucketCounts: (p.bucketCounts || []).map(Number), explicitBounds: p.explicitBounds,
          asInt: p.asInt !== undefined ? Number(p.asInt) : undefined, start: p.startTimeUnixNano,
          time: p.timeUnixNano,
        }));
        metrics.push({ resource, name: m.name, unit: m.unit, kind,
          temporality: m[kind].aggregationTemporality, monotonic: m[kind].isMonotonic, points });
      }
    }
  }
  fs.appendFileSync(path.join(out, 'metrics.jsonl'), JSON.stringify({ metrics }) + '\n');
}

function handle(req, body, res) {
  const type = TYPES[req.url];
  try {
    if (req.method !== 'POST' || !type) fail(`unexpected ${req.method} ${req.url}`);
    if (req.headers['content-type'] !== 'application/json')
      fail(`content-type ${req.headers['content-type']}, want application/json`);
    const decoded = decode(type, body);
    if (req.url === '/v1/traces' && failTraces > 0) {
      failTraces--;
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end('{}');
      return;
    }
    (req.url === '/v1/traces' ? writeSpans : writeMetrics)(decoded);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{}');
  } catch (e) {
    fs.appendFileSync(path.join(out, 'errors.log'), `${req.url}: ${e.message}\n`);
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: e.message }));
  }
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
}).listen(port, '127.0.0.1', () => fs.writeFileSync(path.join(out, 'ready'), ''));
