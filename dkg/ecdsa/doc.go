// Package ecdsa implements 3-of-5 threshold ECDSA over P-384 with the DKLs23
// protocol (Doerner, Kondi, Lee, shelat, "Threshold ECDSA in Three Rounds",
// IEEE S&P 2024): a dealerless Feldman-VSS key generation with pairwise
// base OTs, two message-independent presigning rounds built on OT-extension
// based random vector OLE, and one online round. The result is an ordinary
// ECDSA signature that crypto/ecdsa and OpenSSL verify.
//
// It is a pure, message-driven library: every protocol participant is a
// state machine whose rounds take the typed messages of the previous round
// and return this party's outgoing messages. Transport, authentication and
// encryption belong to the caller: every message type has strict
// MarshalBinary/UnmarshalBinary methods and a Confidential method telling the
// transport whether the payload must be encrypted. Callers should sign every
// message with the node's identity key: signed messages turn a blame into
// publicly verifiable evidence (see Complaint).
//
// Flow:
//
//   - Key generation: NewDKG, then Round1 … Round5 and Finish on every party,
//     yielding a *KeyShare. The share is unconfirmed until the ten
//     confirmation signatures (one per 3-subset, over ConfirmationDigest)
//     have been produced with the normal signing flow and checked with
//     KeyShare.ConfirmKey; before that only confirmation digests can be
//     signed.
//   - Presigning: a Signer per KeyShare; Signer.NewPresign (refuses a session
//     id it has seen), PresignSession.Round1, Round2, Finalize → a single-use
//     *Presignature held in memory, in a pool bounded in count and age.
//   - Online: Sign(presignature, digest) → *SignShare (marks the
//     presignature consumed before computing anything); Combine(pk, digest,
//     shares) → DER signature, verified with crypto/ecdsa before it is
//     returned.
//   - Replacement of a node at the same index: KeyShare.ReshareContribution
//     on three helpers, NewReplacementShare on the new node, a PairSetup
//     between the new node and every other party, KeyShare.InstallPair on
//     both sides, then the confirmations again.
//   - Proactive refresh after a membership change: NewRefresh on all
//     parties, Round1, Round2, then Commit once the digests agree; every
//     index gets a new share of the same key (same key id and public key)
//     and the old share is zeroized, so shares of earlier epochs are useless.
//
// Failures are terminal: every state machine refuses further use after an
// error, and protocol faults are reported as *AbortError naming the blamed
// party. A failed OT-extension or RVOLE check sets AbortError.Ban and the
// Signer bans that party permanently, because the failure leaks information
// about the pairwise OT correlation. On any security abort involving a party
// the caller should cancel all concurrent sessions with it.
//
// Arithmetic is constant time: points with filippo.io/nistec and scalars
// mod n with filippo.io/bigmod. Received scalars ≥ n are rejected, received
// points must be on the curve and not the identity. All hashing is SHAKE256
// over domain-separated, length-prefixed transcripts binding protocol
// version, curve, key id, session id, sender, receiver and round.
package ecdsa
