// An independent check of cargo-tiny's bundles with Sigstore's JavaScript verifier
// (@sigstore/verify + @sigstore/bundle), used by tests/sign.rs.
//
// usage: node verify.js BUNDLE DIGEST key PUBLIC_KEY.pem
//        node verify.js BUNDLE DIGEST identity TRUSTED_ROOT.json IDENTITY ISSUER
// Checks the bundle's shape (v0.3), its signature (and, keyless, the certificate chain, the SCT, the
// Rekor entry and the identity), and that the in-toto statement's subject is DIGEST
// (sha256:<hex>). Prints the predicate type; exits non-zero with the reason otherwise.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [bundlePath, digest, mode, ...rest] = process.argv.slice(2);
const json = JSON.parse(fs.readFileSync(bundlePath, 'utf8'));
if (json.mediaType !== 'application/vnd.dev.sigstore.bundle.v0.3+json') {
  throw new Error(`not a v0.3 bundle: ${json.mediaType}`);
}
const bundle = bundleFromJSON(json);
let verifier;
let policy;
if (mode === 'key') {
  const key = crypto.createPublicKey(fs.readFileSync(rest[0]));
  const der = key.export({ format: 'der', type: 'spki' });
  const hint = crypto.createHash('sha256').update(der).digest('base64');
  const empty = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [],
  });
  const keys = { [hint]: { rawBytes: der, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } };
  // Key mode is offline: no log entry, no timestamp.
  verifier = new Verifier(toTrustMaterial(empty, keys), {
    tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0,
  });
} else if (mode === 'identity') {
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rest[0], 'utf8')));
  verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  policy = { subjectAlternativeName: rest[1], extensions: { issuer: rest[2] } };
} else {
  throw new Error(`unknown mode ${mode}`);
}
verifier.verify(toSignedEntity(bundle), policy);

// The signature covers the statement; the statement must be about DIGEST.
const statement = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString('utf8'));
if (statement._type !== 'https://in-toto.io/Statement/v1') throw new Error(`not a Statement v1: ${statement._type}`);
const hex = digest.replace(/^sha256:/, '');
if (!statement.subject.some((s) => s.digest && s.digest.sha256 === hex)) {
  throw new Error(`the statement is not about ${digest}`);
}
process.stdout.write(`${statement.predicateType}\n`);
