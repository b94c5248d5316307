// Package hostile holds the hostile-coordinator test suite: a programmable
// malicious coordinator, with up to two malicious oracles that use their own
// keys, tries every attack the trust model (docs/threat-model.md) names
// against a real 3-of-5 cluster of oracles, through the oracles' wire
// interface only. Every attack must be refused with a typed error that names
// the right culprit or none, and must never yield a share, a second use of a
// mask or presignature, a token whose interval misses an honest signer's
// clock, a ban of an honest node, or unbounded memory.
//
// The package has no code outside its tests, which need the build tag
// ccfault (make test sets it): they use the oracles' test-only hooks.
package hostile
