package attest

import (
	"fmt"

	"github.com/google/go-sev-guest/kds"
)

// Attester produces attestation evidence for the running node.
type Attester interface {
	// Attest returns fresh evidence whose report carries reportData in its
	// REPORT_DATA field (normally the output of [ReportData]).
	Attest(reportData [ReportDataSize]byte) (*Evidence, error)
	// Kind says whether the evidence is real (KindSEVSNP) or simulated.
	Kind() Kind
}

// TCB holds the security patch levels of an SEV-SNP TCB_VERSION (Milan and
// Genoa layout). Components other than Microcode range over 0-127.
type TCB struct {
	// BootLoader is the AMD-SP boot loader security patch level.
	BootLoader uint8
	// TEE is the AMD-SP operating system security patch level.
	TEE uint8
	// SNP is the SNP firmware security patch level.
	SNP uint8
	// Microcode is the CPU microcode patch level.
	Microcode uint8
}

// String renders t as in AMD's tools: "bl=3 tee=0 snp=8 ucode=115".
func (t TCB) String() string {
	return fmt.Sprintf("bl=%d tee=%d snp=%d ucode=%d", t.BootLoader, t.TEE, t.SNP, t.Microcode)
}

func (t TCB) parts() kds.TCBParts {
	return kds.TCBParts{BlSpl: t.BootLoader, TeeSpl: t.TEE, SnpSpl: t.SNP, UcodeSpl: t.Microcode}
}

// version encodes t as a TCB_VERSION value.
func (t TCB) version() (uint64, error) {
	v, err := kds.ComposeTCBParts(t.parts())
	if err != nil {
		return 0, fmt.Errorf("%w: TCB %v: %v", ErrConfig, t, err)
	}
	return uint64(v), nil
}

// tcbOf decodes a TCB_VERSION value (reserved bytes are dropped).
func tcbOf(v uint64) TCB {
	p := kds.DecomposeTCBVersion(kds.TCBVersion(v))
	return TCB{BootLoader: p.BlSpl, TEE: p.TeeSpl, SNP: p.SnpSpl, Microcode: p.UcodeSpl}
}
