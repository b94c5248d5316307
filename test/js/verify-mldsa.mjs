// verify-mldsa.mjs: independent check of ML-DSA-65 signatures with
// @noble/post-quantum (not CC-TSA code).
//
// Usage: node verify-mldsa.mjs FILE...
// Each non-empty line of FILE holds four whitespace-separated hex fields:
//   publicKey message context signature
// where "-" stands for an empty field. Every signature must verify, and a copy
// with one flipped bit must be rejected. Prints counts; exits 1 on any failure.
import { readFileSync } from 'node:fs';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';

function hex(s) {
  if (s === '-') return new Uint8Array(0);
  if (!/^([0-9a-fA-F]{2})+$/.test(s)) throw new Error(`bad hex field of length ${s.length}`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node verify-mldsa.mjs FILE...');
  process.exit(2);
}
let ok = 0, bad = 0, tamperedRejected = 0, tamperedAccepted = 0, malformed = 0;
for (const file of files) {
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (const [i, line] of lines.entries()) {
    const f = line.split(/\s+/);
    let pk, msg, ctx, sig;
    try {
      if (f.length !== 4) throw new Error(`${f.length} fields`);
      [pk, msg, ctx, sig] = f.map(hex);
      if (pk.length !== 1952 || sig.length !== 3309) throw new Error(`pk ${pk.length} B, sig ${sig.length} B`);
    } catch (e) {
      console.error(`${file}:${i + 1}: malformed line: ${e.message}`);
      malformed++;
      continue;
    }
    if (ml_dsa65.verify(sig, msg, pk, { context: ctx })) {
      ok++;
    } else {
      console.error(`${file}:${i + 1}: signature rejected`);
      bad++;
    }
    const t = sig.slice();
    t[(i * 131) % t.length] ^= 0x01;
    if (ml_dsa65.verify(t, msg, pk, { context: ctx })) {
      console.error(`${file}:${i + 1}: tampered signature accepted`);
      tamperedAccepted++;
    } else {
      tamperedRejected++;
    }
  }
}
console.log(`noble ml_dsa65.verify: ok=${ok} bad=${bad} tampered-rejected=${tamperedRejected} tampered-accepted=${tamperedAccepted} malformed=${malformed}`);
process.exit(bad === 0 && tamperedAccepted === 0 && malformed === 0 && ok > 0 ? 0 : 1);
