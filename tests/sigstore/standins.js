// Local stand-ins for keyless signing, started by tests/sign.rs: an OIDC issuer (GitHub Actions'
// token endpoint shape), and Sigstore's own mocks of Fulcio, Rekor and a timestamp authority
// (@sigstore/mock) served over HTTP on 127.0.0.1. Writes the trust root that verifies what they
// issue, prints one JSON line {"url", "trustedRoot", "requestToken"} and serves until stdin closes.
//
// usage: node standins.js DIR SUBJECT
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const jose = require('jose');
const asn1js = require('asn1js');

// The mock TSA takes JSON requests and a JS-number nonce; RFC 3161 clients (ours) send a DER
// TimeStampReq with a 64-bit nonce. An Integer made from the request's own nonce Integer keeps its
// bytes, and the DER request is read below.
const Integer = asn1js.Integer;
asn1js.Integer = class extends Integer {
  constructor(params = {}) {
    if (params.value instanceof Integer) {
      super({ valueHex: params.value.valueBlock.valueHexView.slice() });
    } else {
      super(params);
    }
  }
};
const mock = require('@sigstore/mock');

/** A DER TimeStampReq as the mock's request: {artifactHash, hashAlgorithmOID, nonce, certReq}. */
function timestampRequest(der) {
  const { result } = asn1js.fromBER(new Uint8Array(der));
  const [, imprint, ...optional] = result.valueBlock.value;
  const [algorithm, hashed] = imprint.valueBlock.value;
  const req = {
    artifactHash: Buffer.from(hashed.valueBlock.valueHexView),
    hashAlgorithmOID: algorithm.valueBlock.value[0].valueBlock.toString(),
    nonce: 0,
    policyOID: '1.2.3.4',
    certReq: false,
  };
  for (const field of optional) {
    if (field instanceof Integer) req.nonce = field;
    if (field instanceof asn1js.ObjectIdentifier) req.policyOID = field.valueBlock.toString();
    if (field instanceof asn1js.Boolean) req.certReq = field.valueBlock.value;
  }
  return req;
}

const [dir, subject] = process.argv.slice(2);
const keyPair = () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const b64 = (b) => Buffer.from(b).toString('base64');
const spki = (k) => k.export({ format: 'der', type: 'spki' });
const MAX_BODY = 1024 * 1024;

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

/** What Rekor logs for a proposed `dsse` v0.0.1 entry (the mock logs the proposal as it is): the
 * envelope's and payload's hashes and the signature with its verifier, once the signature has
 * been checked against the verifier's key over the envelope's PAE. */
function dsseEntry(proposed) {
  if (proposed.kind !== 'dsse' || proposed.apiVersion !== '0.0.1') throw new Error('only dsse 0.0.1');
  const { envelope, verifiers } = proposed.spec.proposedContent;
  const env = JSON.parse(envelope);
  const payload = Buffer.from(env.payload, 'base64');
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(env.payloadType)} ${env.payloadType} ${payload.length} `),
    payload,
  ]);
  const cert = new crypto.X509Certificate(Buffer.from(verifiers[0], 'base64'));
  const sig = env.signatures[0].sig;
  if (!crypto.verify('sha256', pae, cert.publicKey, Buffer.from(sig, 'base64'))) {
    throw new Error('the envelope signature does not verify with the verifier');
  }
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(payload) },
      signatures: [{ signature: sig, verifier: verifiers[0] }],
    },
  };
}

async function main() {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;

  const caKeys = keyPair();
  const ctlog = await mock.initializeCTLog(caKeys);
  const ca = await mock.initializeCA(caKeys, ctlog);
  const tlogKeys = keyPair();
  const tlog = await mock.initializeTLog(url, tlogKeys);
  const tsaKeys = keyPair();
  // A whole-second clock, set at each request: the `der` crate sigstore-tsa decodes with refuses a
  // GeneralizedTime with fractional seconds (RFC 3161 allows them; Sigstore's TSA writes none).
  // Rounded up, so that a time stamp is never before the second the certificate was issued in.
  const tsaClock = new Date();
  const tsa = await mock.initializeTSA(tsaKeys, tsaClock);
  const handlers = {
    'POST /api/v2/signingCert': mock.fulcioHandler(ca).fn,
    'POST /api/v1/log/entries': async (body) => {
      try {
        const entry = await tlog.log(dsseEntry(JSON.parse(body.toString())));
        return { statusCode: 201, response: JSON.stringify(entry), contentType: 'application/json' };
      } catch (e) {
        return { statusCode: 400, response: e.message };
      }
    },
    'POST /api/v1/timestamp': async (body) => (tsaClock.setTime(Math.ceil(Date.now() / 1000) * 1000), {
      statusCode: 201,
      response: Buffer.from(await tsa.timestamp(timestampRequest(body))),
      contentType: 'application/timestamp-reply',
    }),
  };

  // The OIDC issuer: a signed JWT for SUBJECT, handed to whoever shows the request token.
  const oidcKey = keyPair().privateKey;
  const requestToken = crypto.randomBytes(16).toString('hex');
  handlers['GET /token'] = async (_body, req) => {
    const u = new URL(req.url, url);
    if (req.headers.authorization !== `bearer ${requestToken}` &&
        req.headers.authorization !== `Bearer ${requestToken}`) {
      return { statusCode: 401, response: 'bad request token' };
    }
    if (u.searchParams.get('audience') !== 'sigstore') {
      return { statusCode: 400, response: 'audience must be sigstore' };
    }
    const jwt = await new jose.SignJWT({ sub: subject })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(url)
      .setAudience('sigstore')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(oidcKey);
    return { statusCode: 200, response: JSON.stringify({ value: jwt }), contentType: 'application/json' };
  };

  server.on('request', (req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(); else chunks.push(c);
    });
    req.on('end', async () => {
      const key = `${req.method} ${new URL(req.url, url).pathname}`;
      const handler = handlers[key];
      if (!handler) { res.writeHead(404); res.end('not found'); return; }
      const out = await handler(Buffer.concat(chunks), req);
      res.writeHead(out.statusCode, { 'Content-Type': out.contentType || 'text/plain' });
      res.end(out.response);
    });
  });

  const start = { start: '2000-01-01T00:00:00Z' };
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: url,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(spki(tlogKeys.publicKey)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: start },
      logId: { keyId: b64(crypto.createHash('sha256').update(spki(tlogKeys.publicKey)).digest()) },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: url,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: start,
    }],
    ctlogs: [{
      baseUrl: url,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: start },
      logId: { keyId: b64(ctlog.logID) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'tsa' },
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor: start,
    }],
  };
  const rootPath = path.join(dir, 'trusted_root.json');
  fs.writeFileSync(rootPath, JSON.stringify(trustedRoot, null, 2));
  process.stdout.write(JSON.stringify({ url, trustedRoot: rootPath, requestToken }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main().catch((e) => { console.error(e); process.exit(1); });
