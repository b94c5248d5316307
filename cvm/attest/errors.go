package attest

import "errors"

// Errors returned by this package. Every error it returns wraps exactly one
// of them (test with errors.Is) and adds context.
var (
	// ErrMalformed reports evidence or a report that does not decode.
	ErrMalformed = errors.New("attest: malformed evidence")
	// ErrConfig reports an invalid Policy, SimulatedConfig or trusted roots.
	ErrConfig = errors.New("attest: invalid configuration")
	// ErrNoDevice reports that no SEV-SNP guest interface (configfs-tsm or
	// /dev/sev-guest) is available: the process is not in an SEV-SNP guest.
	ErrNoDevice = errors.New("attest: no SEV-SNP guest device")
	// ErrDevice reports a failure of the SEV-SNP guest interface.
	ErrDevice = errors.New("attest: SEV-SNP guest device failed")
	// ErrKindMismatch reports evidence of another kind (simulated or
	// hardware) than the verifier's trusted roots.
	ErrKindMismatch = errors.New("attest: evidence kind does not match the trusted roots")
	// ErrSignature reports a report whose signature does not verify under
	// the endorsement key certificate that came with it.
	ErrSignature = errors.New("attest: report signature invalid")
	// ErrChain reports an endorsement key certificate (VCEK or VLEK) that
	// does not chain to the trusted AMD roots.
	ErrChain = errors.New("attest: certificate chain not rooted in the trusted AMD roots")
	// ErrMeasurement reports a launch measurement other than the pinned one.
	ErrMeasurement = errors.New("attest: launch measurement not the pinned one")
	// ErrReportData reports a REPORT_DATA other than the expected one.
	ErrReportData = errors.New("attest: REPORT_DATA mismatch")
	// ErrDebug reports a guest policy that allows debugging.
	ErrDebug = errors.New("attest: guest policy allows debugging")
	// ErrGuestPolicy reports a guest policy bit the verifier's policy does
	// not allow (SMT, migration agent, ABI version).
	ErrGuestPolicy = errors.New("attest: guest policy not allowed")
	// ErrVMPL reports a report taken at another VMPL than the required one.
	ErrVMPL = errors.New("attest: VMPL not the required one")
	// ErrTCB reports a TCB below the minimum or inconsistent TCB values.
	ErrTCB = errors.New("attest: TCB below the minimum")
	// ErrPolicy reports any other refusal by go-sev-guest's validation.
	ErrPolicy = errors.New("attest: report refused by policy")
)
