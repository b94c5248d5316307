// Package mldsa implements threshold ML-DSA-65: T-of-N signing (2 ≤ T ≤ N ≤ 6)
// whose output is a standard 3309-byte FIPS 204 signature under a standard
// 1952-byte public key.
//
// The scheme is the one of Celi, del Pino, Espitau, Niot and Prest, "Efficient
// Threshold ML-DSA" (ePrint 2026/013): the secret is the sum of short secrets
// s_I, one per subset I of N−T+1 parties (short replicated secret sharing);
// every signer masks with a point drawn uniformly from a hyperball (an
// ellipsoid), commits to a full MLWE sample w_i = A·y_i + e_i, and rejects
// locally with an L2-norm test; K slots run in parallel per attempt.
//
// The package is a pure library: no networking and no goroutines. Every round
// is a method that takes the typed messages of the previous round and returns
// this party's next message, or an *AbortError naming the culprit:
//
//	st, _ := share.Round1(rand.Reader)                 // heavy, message-independent: pool it
//	sess, cmt, _ := share.NewSession(st, cfg)          // binds key, session id, signers, μ
//	rev, _ := sess.Round2(allCommitments)              // reveal w_i
//	resp, _ := sess.Round3(allReveals)                 // check commitments, respond
//	sig, _ := mldsa.Combine(params, pk, cfg, allCommitments, allReveals, allResponses)
//
// Combine verifies the signature with a standard FIPS 204 verifier before it
// returns it. When no slot of an attempt succeeds (probability ≤ 1/2 by the
// choice of K), Combine returns ErrNoValidSlot and the parties start a new
// attempt with fresh round-1 states.
//
// Round-1 commitments are SHA-512 hashes binding a domain label, the key (tr),
// the session id, the shape, the signer set, the sender, μ and all K
// commitments w_i; because they bind μ, the 64-byte commitment is computed
// when the session starts (NewSession), while the expensive part of round 1
// (sampling and A·y) is message-independent.
//
// Limits: the hyperball sampler (a 64-bit ziggurat) uses float64 and is not
// constant time; the protocol has no identifiable aborts for a signer that
// sends a well-formed but wrong response (the attempt just fails); secret
// state is kept in memory only and is zeroized when the protocol consumes it
// (Go offers no guarantee that the runtime did not copy it before).
package mldsa
