//go:build ccfault

package oracle

import "time"

// PresignCounts is what a coordinator has created in an oracle through
// presigning and pair-setup relays, for tests of the limits.
type PresignCounts struct {
	Runs          int // presigning relay sessions in progress
	Pairs         int // pair setups in progress
	Presignatures int // finished, unused presignatures held by the oracle
	SignerLive    int // live presignatures in the ECDSA signer's pool
	SessionIDs    int // presigning session ids remembered for reuse refusal
}

// PresignCounts returns the oracle's presigning state sizes (zero before
// it holds threshold keys). Compiled only with the build tag ccfault.
func (o *Oracle) PresignCounts() PresignCounts {
	o.mu.Lock()
	k := o.th
	o.mu.Unlock()
	if k == nil {
		return PresignCounts{}
	}
	k.mu.Lock()
	k.pruneRunsLocked()
	c := PresignCounts{Runs: len(k.runs.runs), Pairs: len(k.pairs.runs), Presignatures: len(k.presigs)}
	signer := k.signer
	k.mu.Unlock()
	c.SignerLive, c.SessionIDs = signer.Live(), signer.Sessions()
	return c
}

// AdvancePresignClock moves the clock of the oracle's presigning age
// limits forward by d, so that tests inject time instead of sleeping.
// Compiled only with the build tag ccfault.
func (o *Oracle) AdvancePresignClock(d time.Duration) {
	o.mu.Lock()
	k := o.th
	o.mu.Unlock()
	if k != nil {
		k.skew.Add(int64(d))
	}
}
