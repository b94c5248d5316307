// verify-token.mjs: an independent verifier for CC-TSA time-stamp tokens.
//
// Nothing here is CC-TSA code: ASN.1 is parsed with asn1js, ML-DSA-65 is
// verified with @noble/post-quantum, hashes and ECDSA P-384 use node:crypto
// (OpenSSL). It checks what docs/token-format.md promises:
//
//   - the TimeStampResp grants a token (status 0 or 1), DER, no trailing bytes;
//   - hybrid policy (outer ECDSA P-384 token): messageDigest = SHA-384(TSTInfo),
//     CMSAlgorithmProtection, signingCertificateV2, the ECDSA signature and the
//     ECDSA TSA certificate's signature by the ECDSA root (node:crypto); the
//     unsigned attribute id-aa-ccTsaPqToken holds the inner ML-DSA-65 token and
//     SHA-512(inner token DER) equals the signed attribute id-aa-ccTsaPqTokenHash;
//     the inner eContent equals the outer eContent byte for byte;
//   - the ML-DSA-65 token (inner, or the whole token for the ML-DSA-only
//     policy): SignedData v3 with {sha512}, one SignerInfo v1 with
//     issuerAndSerialNumber, messageDigest = SHA-512(TSTInfo),
//     signingCertificateV2 with explicit sha512 over the ML-DSA certificate,
//     CMSAlgorithmProtection {sha512, id-ml-dsa-65}, and the ML-DSA-65
//     signature (empty context) over the signed attributes re-tagged as a SET;
//     the ML-DSA TSA certificate's signature over its TBSCertificate by the
//     ML-DSA-65 root from the CA file, its critical timeStamping-only EKU and
//     its validity at genTime;
//   - the TSTInfo: version 1, the policy matching the token kind and, with
//     --data, the message imprint.
//
// Usage: node verify-token.mjs --ca ca.pem [--cert PEM]... [--data FILE]
//                              [--expect hybrid|mldsa] [--token] FILE
// FILE is a DER TimeStampResp (or, with --token, a bare ContentInfo token).
// --cert supplies certificates for tokens issued without certReq.
// Prints one line per check; exits 0 only if every check passed, 1 if any
// failed, 2 on bad usage.
import { readFileSync } from 'node:fs';
import { createHash, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';

// The project's OID arc (provisional, see docs/token-format.md).
const ARC = '1.3.6.1.4.1.32473.3161';
const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  cmsAlgorithmProtection: '1.2.840.113549.1.9.52',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  ecdsaSHA384: '1.2.840.10045.4.3.3',
  ecPublicKey: '1.2.840.10045.2.1',
  mldsa65: '2.16.840.1.101.3.4.3.18',
  extKeyUsage: '2.5.29.37',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  pqToken: `${ARC}.1.1`,
  pqTokenHash: `${ARC}.1.2`,
  policyHybrid: `${ARC}.2.1`,
  policyMLDSA: `${ARC}.2.2`,
};
const HASHES = { [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };
const MLDSA65_PK_LEN = 1952;
const MLDSA65_SIG_LEN = 3309;

class ParseError extends Error {}

// ---------- output ----------
let passed = 0;
let failed = 0;
function check(name, cond, detail = '') {
  if (cond) {
    passed++;
    console.log(`ok    ${name}`);
  } else {
    failed++;
    console.log(`FAIL  ${name}${detail ? ': ' + detail : ''}`);
  }
  return cond;
}

// ---------- bytes ----------
const hex = (b) => Buffer.from(b).toString('hex');
const eq = (a, b) => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
const digest = (alg, data) => new Uint8Array(createHash(alg).update(data).digest());

// ---------- strict DER parsing with asn1js ----------

// parseDER parses exactly one DER element filling all of bytes. asn1js
// accepts BER, so DER is enforced here: no indefinite lengths anywhere,
// and the re-encoding (minimal definite lengths) must equal the input.
function parseDER(bytes, what) {
  const buf = new Uint8Array(bytes);
  const r = asn1js.fromBER(buf);
  if (r.offset === -1 || r.result.error) throw new ParseError(`${what}: not BER: ${r.result.error}`);
  if (r.offset !== buf.length) throw new ParseError(`${what}: ${buf.length - r.offset} trailing bytes`);
  // Only constructed encodings have elements; asn1js also decodes the
  // contents of primitive BIT and OCTET STRINGs when they happen to parse
  // (a hash, a signature), and those bytes are content, not encoding.
  const definite = (n) => {
    if (n.lenBlock?.isIndefiniteForm) throw new ParseError(`${what}: not DER (indefinite length)`);
    if (!n.idBlock?.isConstructed) return;
    const v = n.valueBlock?.value;
    if (Array.isArray(v)) v.forEach(definite);
  };
  definite(r.result);
  const again = new Uint8Array(r.result.toBER(false));
  if (!eq(again, buf)) throw new ParseError(`${what}: not DER (re-encoding differs)`);
  return r.result;
}

const raw = (node) => new Uint8Array(node.valueBeforeDecodeView);
const isUniversal = (n, tag) => n.idBlock.tagClass === 1 && n.idBlock.tagNumber === tag;
const isContext = (n, tag) => n.idBlock.tagClass === 3 && n.idBlock.tagNumber === tag;

function children(n, what, min = 0, max = Infinity) {
  const v = n?.valueBlock?.value;
  if (!Array.isArray(v)) throw new ParseError(`${what}: not constructed`);
  if (v.length < min || v.length > max) throw new ParseError(`${what}: ${v.length} elements`);
  return v;
}
function seq(n, what, min, max) {
  if (!n || !isUniversal(n, 16)) throw new ParseError(`${what}: not a SEQUENCE`);
  return children(n, what, min, max);
}
function set(n, what, min, max) {
  if (!n || !isUniversal(n, 17)) throw new ParseError(`${what}: not a SET`);
  return children(n, what, min, max);
}
// oid decodes an OBJECT IDENTIFIER to dotted form itself: asn1js's own
// string form does not handle arcs wider than 53 bits (such as 2.25 UUID
// arcs, which the project used before).
function oid(n, what) {
  if (!n || !isUniversal(n, 6) || n.idBlock.isConstructed) throw new ParseError(`${what}: not an OBJECT IDENTIFIER`);
  const b = new Uint8Array(n.valueBeforeDecodeView).subarray(n.idBlock.blockLength + n.lenBlock.blockLength);
  if (b.length === 0 || b[b.length - 1] & 0x80) throw new ParseError(`${what}: truncated OBJECT IDENTIFIER`);
  const arcs = [];
  let v = 0n;
  let start = true;
  for (const x of b) {
    if (start && x === 0x80) throw new ParseError(`${what}: non-minimal OBJECT IDENTIFIER arc`);
    v = (v << 7n) | BigInt(x & 0x7f);
    start = (x & 0x80) === 0;
    if (start) {
      if (arcs.length === 0) arcs.push(v < 80n ? v / 40n : 2n, v < 80n ? v % 40n : v - 80n);
      else arcs.push(v);
      v = 0n;
    }
  }
  return arcs.join('.');
}
function int(n, what) {
  if (!n || !isUniversal(n, 2)) throw new ParseError(`${what}: not an INTEGER`);
  return n.toBigInt();
}
function intBytes(n, what) {
  if (!n || !isUniversal(n, 2)) throw new ParseError(`${what}: not an INTEGER`);
  return new Uint8Array(n.valueBlock.valueHexView);
}
function octets(n, what) {
  if (!n || !isUniversal(n, 4) || n.idBlock.isConstructed) throw new ParseError(`${what}: not a primitive OCTET STRING`);
  return new Uint8Array(n.valueBlock.valueHexView);
}
function bits(n, what) {
  if (!n || !isUniversal(n, 3) || n.idBlock.isConstructed) throw new ParseError(`${what}: not a primitive BIT STRING`);
  if (n.valueBlock.unusedBits !== 0) throw new ParseError(`${what}: ${n.valueBlock.unusedBits} unused bits`);
  return new Uint8Array(n.valueBlock.valueHexView);
}
// explicit returns the single element inside an EXPLICIT [tag].
function explicit(n, tag, what) {
  if (!n || !isContext(n, tag) || !n.idBlock.isConstructed) throw new ParseError(`${what}: not [${tag}] EXPLICIT`);
  return children(n, what, 1, 1)[0];
}
// algorithm parses an AlgorithmIdentifier: {oid, params: 'absent'|'null'|'other'}.
function algorithm(n, what) {
  const v = seq(n, what, 1, 2);
  let params = 'absent';
  if (v.length === 2) params = isUniversal(v[1], 5) ? 'null' : 'other';
  return { oid: oid(v[0], what + ' algorithm'), params };
}
function time(n, what) {
  if (!n || !(isUniversal(n, 23) || isUniversal(n, 24))) throw new ParseError(`${what}: not a UTCTime or GeneralizedTime`);
  return n.toDate();
}

// ---------- X.509 ----------

function parseCert(der) {
  const root = parseDER(der, 'certificate');
  const [tbs, sigAlg, sig] = seq(root, 'Certificate', 3, 3);
  const t = seq(tbs, 'TBSCertificate', 6, 10);
  let i = 0;
  if (isContext(t[0], 0)) i++; // version
  const serial = intBytes(t[i++], 'serialNumber');
  const tbsSigAlg = algorithm(t[i++], 'TBSCertificate signature');
  const issuer = t[i++];
  seq(issuer, 'issuer');
  const [nb, na] = seq(t[i++], 'validity', 2, 2);
  const subject = t[i++];
  seq(subject, 'subject');
  const spki = seq(t[i++], 'subjectPublicKeyInfo', 2, 2);
  const extensions = new Map();
  for (; i < t.length; i++) {
    if (!isContext(t[i], 3)) continue;
    for (const e of seq(explicit(t[i], 3, 'extensions'), 'Extensions', 1)) {
      const ev = seq(e, 'Extension', 2, 3);
      const critical = ev.length === 3 && ev[1].valueBlock.value === true;
      extensions.set(oid(ev[0], 'extnID'), { critical, value: octets(ev[ev.length - 1], 'extnValue') });
    }
  }
  return {
    der: new Uint8Array(der),
    tbs: raw(tbs),
    sigAlg: algorithm(sigAlg, 'signatureAlgorithm'),
    tbsSigAlg,
    signature: bits(sig, 'signatureValue'),
    serial,
    issuer: raw(issuer),
    subject: raw(subject),
    notBefore: time(nb, 'notBefore'),
    notAfter: time(na, 'notAfter'),
    keyAlg: algorithm(spki[0], 'subjectPublicKeyInfo algorithm'),
    publicKey: bits(spki[1], 'subjectPublicKey'),
    extensions,
  };
}

function readPEMCerts(path) {
  const text = readFileSync(path, 'utf8');
  const out = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;
  for (const m of text.matchAll(re)) out.push(parseCert(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
  if (out.length === 0) throw new ParseError(`${path}: no PEM certificates`);
  return out;
}

// ---------- CMS ----------

// parseToken parses a ContentInfo holding SignedData with one SignerInfo.
function parseToken(der, what) {
  const ci = seq(parseDER(der, what), `${what} ContentInfo`, 2, 2);
  if (oid(ci[0], 'contentType') !== OID.signedData) throw new ParseError(`${what}: content type is not signedData`);
  const sd = seq(explicit(ci[1], 0, 'content'), `${what} SignedData`, 4, 6);
  let i = 0;
  const version = int(sd[i++], 'SignedData version');
  const digestAlgorithms = set(sd[i++], 'digestAlgorithms').map((a) => algorithm(a, 'digestAlgorithm'));
  const eci = seq(sd[i++], 'encapContentInfo', 2, 2);
  const eContentType = oid(eci[0], 'eContentType');
  const eContent = octets(explicit(eci[1], 0, 'eContent'), 'eContent');
  const certs = [];
  if (i < sd.length && isContext(sd[i], 0)) {
    for (const c of children(sd[i], 'certificates')) certs.push(parseCert(raw(c)));
    i++;
  }
  if (i < sd.length && isContext(sd[i], 1)) throw new ParseError(`${what}: unexpected crls`);
  const sis = set(sd[i++], 'signerInfos');
  if (i !== sd.length) throw new ParseError(`${what}: unexpected SignedData fields`);
  if (sis.length !== 1) throw new ParseError(`${what}: ${sis.length} SignerInfos, want exactly 1`);
  const s = seq(sis[0], 'SignerInfo', 5, 7);
  let j = 0;
  const siVersion = int(s[j++], 'SignerInfo version');
  const sid = s[j++];
  let issuer = null;
  let serial = null;
  if (isUniversal(sid, 16)) {
    const [iss, ser] = seq(sid, 'issuerAndSerialNumber', 2, 2);
    seq(iss, 'issuer');
    issuer = raw(iss);
    serial = intBytes(ser, 'serialNumber');
  }
  const digestAlgorithm = algorithm(s[j++], 'SignerInfo digestAlgorithm');
  if (!isContext(s[j], 0)) throw new ParseError(`${what}: no signed attributes`);
  const signedAttrsNode = s[j++];
  const signedAttrs = parseAttributes(signedAttrsNode, 'signedAttrs');
  const signatureAlgorithm = algorithm(s[j++], 'signatureAlgorithm');
  const signature = octets(s[j++], 'signature');
  let unsignedAttrs = new Map();
  if (j < s.length) {
    if (!isContext(s[j], 1)) throw new ParseError(`${what}: unexpected SignerInfo field`);
    unsignedAttrs = parseAttributes(s[j++], 'unsignedAttrs');
  }
  if (j !== s.length) throw new ParseError(`${what}: trailing SignerInfo fields`);
  // The signature covers the DER of the attributes as a SET OF (RFC 5652
  // §5.4): the same bytes with the IMPLICIT [0] tag replaced by SET.
  const signedAttrsSet = raw(signedAttrsNode).slice();
  if (signedAttrsSet[0] !== 0xa0) throw new ParseError(`${what}: signed attributes tag 0x${signedAttrsSet[0].toString(16)}`);
  signedAttrsSet[0] = 0x31;
  return {
    version, digestAlgorithms, eContentType, eContent, certs,
    signer: { version: siVersion, issuer, serial, digestAlgorithm, signedAttrs, signedAttrsSet, signatureAlgorithm, signature, unsignedAttrs },
  };
}

// parseAttributes returns a Map from attribute OID to its array of values;
// a repeated attribute type is an error (RFC 5652 §5.3).
function parseAttributes(n, what) {
  const out = new Map();
  for (const a of children(n, what, 1)) {
    const [t, vals] = seq(a, 'Attribute', 2, 2);
    const type = oid(t, 'attrType');
    if (out.has(type)) throw new ParseError(`${what}: attribute ${type} repeated`);
    out.set(type, set(vals, `attribute ${type} values`, 1));
  }
  return out;
}

// single returns the only value of attribute type in attrs, or null.
function single(attrs, type) {
  const v = attrs.get(type);
  return v && v.length === 1 ? v[0] : null;
}

// parseTSTInfo parses the fields this verifier checks.
function parseTSTInfo(der) {
  const v = seq(parseDER(der, 'TSTInfo'), 'TSTInfo', 5, 10);
  const version = int(v[0], 'TSTInfo version');
  const policy = oid(v[1], 'policy');
  const [alg, hashed] = seq(v[2], 'messageImprint', 2, 2);
  const serial = int(v[3], 'serialNumber');
  if (!isUniversal(v[4], 24)) throw new ParseError('genTime: not a GeneralizedTime');
  return {
    version, policy, serial, genTime: v[4].toDate(),
    imprintAlg: algorithm(alg, 'hashAlgorithm'), imprint: octets(hashed, 'hashedMessage'),
  };
}

// findCert returns the certificate with the given issuer and serial.
function findCert(pool, issuer, serial) {
  return pool.find((c) => eq(c.issuer, issuer) && eq(c.serial, serial)) || null;
}

// checkSigningCertificateV2 checks that attr names cert with hash alg
// (wantAlg, or SHA-256 when the encoding leaves the default out).
function checkSigningCertificateV2(prefix, attr, cert, wantExplicit) {
  if (!check(`${prefix}: signingCertificateV2 present once`, attr !== null)) return;
  const certs = seq(seq(attr, 'SigningCertificateV2', 1, 2)[0], 'certs', 1);
  const id = seq(certs[0], 'ESSCertIDv2', 1, 3);
  let k = 0;
  let hashOID = OID.sha256;
  if (isUniversal(id[0], 16)) hashOID = algorithm(id[k++], 'ESSCertIDv2 hashAlgorithm').oid;
  if (wantExplicit) check(`${prefix}: signingCertificateV2 hash algorithm is explicit ${HASHES[wantExplicit]}`, k === 1 && hashOID === wantExplicit, `got ${k ? hashOID : 'default sha256'}`);
  const h = HASHES[hashOID];
  const certHash = octets(id[k], 'certHash');
  check(`${prefix}: signingCertificateV2 certHash = ${h}(TSA certificate)`, h && cert && eq(certHash, digest(h, cert.der)),
    cert ? `got ${hex(certHash)}` : 'no certificate to compare');
}

function checkCMSAlgorithmProtection(prefix, attr, wantDigest, wantSig) {
  if (!check(`${prefix}: CMSAlgorithmProtection present once`, attr !== null)) return;
  const v = seq(attr, 'CMSAlgorithmProtection', 2, 3);
  const d = algorithm(v[0], 'digestAlgorithm').oid;
  if (!isContext(v[1], 1)) throw new ParseError('CMSAlgorithmProtection: no [1] signatureAlgorithm');
  const s = oid(children(v[1], 'signatureAlgorithm', 1, 2)[0], 'signatureAlgorithm');
  check(`${prefix}: CMSAlgorithmProtection = {${HASHES[wantDigest]}, ${wantSig}}`, d === wantDigest && s === wantSig, `got {${d}, ${s}}`);
}

function checkCommonAttributes(prefix, t, hashOID) {
  const ct = single(t.signer.signedAttrs, OID.contentType);
  check(`${prefix}: contentType attribute = id-ct-TSTInfo`, ct !== null && oid(ct, 'contentType') === OID.tstInfo);
  const md = single(t.signer.signedAttrs, OID.messageDigest);
  const want = digest(HASHES[hashOID], t.eContent);
  check(`${prefix}: messageDigest = ${HASHES[hashOID]}(eContent)`, md !== null && eq(octets(md, 'messageDigest'), want),
    md ? `got ${hex(octets(md, 'messageDigest'))}, want ${hex(want)}` : 'absent');
}

// ---------- the ML-DSA-65 token ----------

function checkMLDSAToken(prefix, t, pool, roots, tst) {
  check(`${prefix}: SignedData version 3`, t.version === 3n, `got ${t.version}`);
  check(`${prefix}: digestAlgorithms = {sha512}`, t.digestAlgorithms.length === 1 && t.digestAlgorithms[0].oid === OID.sha512);
  check(`${prefix}: eContentType = id-ct-TSTInfo`, t.eContentType === OID.tstInfo);
  const s = t.signer;
  check(`${prefix}: SignerInfo version 1 with issuerAndSerialNumber`, s.version === 1n && s.issuer !== null);
  check(`${prefix}: SignerInfo digestAlgorithm sha512`, s.digestAlgorithm.oid === OID.sha512);
  check(`${prefix}: signatureAlgorithm id-ml-dsa-65, parameters absent`, s.signatureAlgorithm.oid === OID.mldsa65 && s.signatureAlgorithm.params === 'absent',
    `got ${s.signatureAlgorithm.oid} (${s.signatureAlgorithm.params})`);
  checkCommonAttributes(prefix, t, OID.sha512);
  const cert = s.issuer ? findCert([...t.certs, ...pool], s.issuer, s.serial) : null;
  if (!check(`${prefix}: ML-DSA TSA certificate found (${t.certs.length ? 'in the token' : 'from --cert'})`, cert !== null)) return;
  checkSigningCertificateV2(prefix, single(s.signedAttrs, OID.signingCertificateV2), cert, OID.sha512);
  checkCMSAlgorithmProtection(prefix, single(s.signedAttrs, OID.cmsAlgorithmProtection), OID.sha512, OID.mldsa65);

  const keyOK = check(`${prefix}: TSA certificate key is ML-DSA-65 (${MLDSA65_PK_LEN} bytes)`,
    cert.keyAlg.oid === OID.mldsa65 && cert.keyAlg.params === 'absent' && cert.publicKey.length === MLDSA65_PK_LEN);
  check(`${prefix}: signature is ${MLDSA65_SIG_LEN} bytes`, s.signature.length === MLDSA65_SIG_LEN, `got ${s.signature.length}`);
  if (keyOK) {
    let ok = false;
    try {
      ok = ml_dsa65.verify(s.signature, s.signedAttrsSet, cert.publicKey);
    } catch (e) {
      ok = false;
    }
    check(`${prefix}: ML-DSA-65 signature over signed attributes (@noble/post-quantum)`, ok);
  }
  checkTSACert(prefix, cert, tst);
  checkMLDSAChain(prefix, cert, roots);
}

function checkTSACert(prefix, cert, tst) {
  const eku = cert.extensions.get(OID.extKeyUsage);
  let only = false;
  if (eku) {
    const purposes = seq(parseDER(eku.value, 'ExtKeyUsage'), 'ExtKeyUsage', 1).map((p) => oid(p, 'KeyPurposeId'));
    only = purposes.length === 1 && purposes[0] === OID.timeStamping;
  }
  check(`${prefix}: TSA certificate EKU is critical id-kp-timeStamping only`, eku && eku.critical && only);
  check(`${prefix}: TSA certificate valid at genTime`, cert.notBefore <= tst.genTime && tst.genTime <= cert.notAfter,
    `validity ${cert.notBefore.toISOString()}..${cert.notAfter.toISOString()}, genTime ${tst.genTime.toISOString()}`);
}

function checkMLDSAChain(prefix, cert, roots) {
  const root = roots.find((r) => r.keyAlg.oid === OID.mldsa65 && eq(r.subject, cert.issuer));
  if (!check(`${prefix}: ML-DSA-65 root for the TSA certificate's issuer found in the CA file`, root !== undefined)) return;
  check(`${prefix}: TSA certificate signatureAlgorithm id-ml-dsa-65`, cert.sigAlg.oid === OID.mldsa65 && cert.tbsSigAlg.oid === OID.mldsa65);
  const vfy = (sig, msg, pk) => {
    try {
      return ml_dsa65.verify(sig, msg, pk);
    } catch (e) {
      return false;
    }
  };
  check(`${prefix}: TSA certificate signature over TBSCertificate by the ML-DSA-65 root`, vfy(cert.signature, cert.tbs, root.publicKey));
  check(`${prefix}: ML-DSA-65 root is self-signed`, eq(root.subject, root.issuer) && vfy(root.signature, root.tbs, root.publicKey));
}

// ---------- the outer ECDSA P-384 token ----------

function checkECDSAToken(t, pool, roots, tst) {
  const p = 'outer';
  check(`${p}: SignedData version 3`, t.version === 3n, `got ${t.version}`);
  check(`${p}: digestAlgorithms = {sha384}`, t.digestAlgorithms.length === 1 && t.digestAlgorithms[0].oid === OID.sha384);
  check(`${p}: eContentType = id-ct-TSTInfo`, t.eContentType === OID.tstInfo);
  const s = t.signer;
  check(`${p}: SignerInfo version 1 with issuerAndSerialNumber`, s.version === 1n && s.issuer !== null);
  check(`${p}: SignerInfo digestAlgorithm sha384`, s.digestAlgorithm.oid === OID.sha384);
  checkCommonAttributes(p, t, OID.sha384);
  const cert = s.issuer ? findCert([...t.certs, ...pool], s.issuer, s.serial) : null;
  if (!check(`${p}: ECDSA TSA certificate found (${t.certs.length ? 'in the token' : 'from --cert'})`, cert !== null)) return;
  checkSigningCertificateV2(p, single(s.signedAttrs, OID.signingCertificateV2), cert, null);
  checkCMSAlgorithmProtection(p, single(s.signedAttrs, OID.cmsAlgorithmProtection), OID.sha384, OID.ecdsaSHA384);
  const x = new X509Certificate(Buffer.from(cert.der));
  check(`${p}: ECDSA P-384 signature over signed attributes (node:crypto)`,
    cryptoVerify('sha384', Buffer.from(s.signedAttrsSet), { key: x.publicKey, dsaEncoding: 'der' }, Buffer.from(s.signature)));
  const root = roots.find((r) => r.keyAlg.oid === OID.ecPublicKey && eq(r.subject, cert.issuer));
  if (check(`${p}: ECDSA root for the TSA certificate's issuer found in the CA file`, root !== undefined)) {
    const rx = new X509Certificate(Buffer.from(root.der));
    check(`${p}: ECDSA TSA certificate signed by the ECDSA root (node:crypto)`, x.checkIssued(rx) && x.verify(rx.publicKey));
  }
  checkTSACert(p, cert, tst);
}

// ---------- main ----------

function usage(msg) {
  console.error(`verify-token: ${msg}`);
  console.error('usage: node verify-token.mjs --ca ca.pem [--cert PEM]... [--data FILE] [--expect hybrid|mldsa] [--token] FILE');
  process.exit(2);
}

function main() {
  const args = process.argv.slice(2);
  let ca = null;
  let data = null;
  let expect = null;
  let bare = false;
  const certFiles = [];
  const files = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = () => (i + 1 < args.length ? args[++i] : usage(`${a} needs a value`));
    if (a === '--ca') ca = next();
    else if (a === '--cert') certFiles.push(next());
    else if (a === '--data') data = next();
    else if (a === '--expect') expect = next();
    else if (a === '--token') bare = true;
    else if (a.startsWith('-')) usage(`unknown flag ${a}`);
    else files.push(a);
  }
  if (ca === null || files.length !== 1) usage('need --ca and exactly one input file');
  if (expect !== null && expect !== 'hybrid' && expect !== 'mldsa') usage('--expect takes hybrid or mldsa');

  const roots = readPEMCerts(ca);
  const pool = certFiles.flatMap(readPEMCerts);
  const input = readFileSync(files[0]);
  let tokenDER = input;
  if (!bare) {
    const resp = seq(parseDER(input, 'TimeStampResp'), 'TimeStampResp', 1, 2);
    const status = int(seq(resp[0], 'PKIStatusInfo', 1, 3)[0], 'PKIStatus');
    check('TimeStampResp status granted', status === 0n || status === 1n, `status ${status}`);
    if (resp.length !== 2) throw new ParseError('TimeStampResp: no timeStampToken');
    tokenDER = raw(resp[1]);
  }
  const tok = parseToken(tokenDER, 'token');
  const tst = parseTSTInfo(tok.eContent);
  check('TSTInfo version 1', tst.version === 1n, `got ${tst.version}`);
  const kind = tok.signer.signatureAlgorithm.oid === OID.ecdsaSHA384 ? 'hybrid'
    : tok.signer.signatureAlgorithm.oid === OID.mldsa65 ? 'mldsa' : 'unknown';
  check(`token kind is hybrid or ML-DSA-only (signatureAlgorithm ${tok.signer.signatureAlgorithm.oid})`, kind !== 'unknown');
  if (expect !== null) check(`token kind is the expected ${expect}`, kind === expect, `got ${kind}`);
  if (data !== null) {
    const h = HASHES[tst.imprintAlg.oid];
    check(`messageImprint = ${h}(${data})`, h && eq(tst.imprint, digest(h, readFileSync(data))), `imprint ${hex(tst.imprint)}`);
  }

  if (kind === 'hybrid') {
    check('TSTInfo policy is the hybrid policy', tst.policy === OID.policyHybrid, `got ${tst.policy}`);
    checkECDSAToken(tok, pool, roots, tst);
    const pq = single(tok.signer.unsignedAttrs, OID.pqToken);
    if (!check('outer: unsigned attribute id-aa-ccTsaPqToken present with one value', pq !== null && tok.signer.unsignedAttrs.size === 1)) return;
    const innerDER = raw(pq);
    const bound = single(tok.signer.signedAttrs, OID.pqTokenHash);
    const want = digest('sha512', innerDER);
    check('outer: signed attribute id-aa-ccTsaPqTokenHash = SHA-512(inner token DER)', bound !== null && eq(octets(bound, 'ccTsaPqTokenHash'), want),
      bound ? `got ${hex(octets(bound, 'ccTsaPqTokenHash'))}, want ${hex(want)}` : 'absent');
    const inner = parseToken(innerDER, 'inner token');
    check('inner: eContent equals the outer eContent byte for byte', eq(inner.eContent, tok.eContent));
    check('inner: no unsigned attributes', inner.signer.unsignedAttrs.size === 0);
    checkMLDSAToken('inner', inner, pool, roots, tst);
  } else if (kind === 'mldsa') {
    check('TSTInfo policy is the ML-DSA-only policy', tst.policy === OID.policyMLDSA, `got ${tst.policy}`);
    check('token: no unsigned attributes', tok.signer.unsignedAttrs.size === 0);
    checkMLDSAToken('token', tok, pool, roots, tst);
  }
  console.log(`TSTInfo: policy ${tst.policy}, serial ${tst.serial.toString(16)}, genTime ${tst.genTime.toISOString()}, imprint ${HASHES[tst.imprintAlg.oid] ?? tst.imprintAlg.oid}`);
}

try {
  main();
} catch (e) {
  check(e instanceof ParseError ? 'parse' : 'no internal error', false, e.message);
}
if (failed === 0 && passed > 0) {
  console.log(`verify-token: ALL ${passed} CHECKS PASSED`);
  process.exit(0);
}
console.log(`verify-token: ${failed} of ${passed + failed} checks FAILED`);
process.exit(1);
