//go:build ccfault

package oracle

// MLDSASessionsUsed returns how many ML-DSA signing sessions this oracle's
// key share has counted (0 without keys). Test builds only (tag ccfault).
func (o *Oracle) MLDSASessionsUsed() uint64 {
	o.mu.Lock()
	th := o.th
	o.mu.Unlock()
	if th == nil {
		return 0
	}
	return th.mldsa.SessionsUsed()
}
