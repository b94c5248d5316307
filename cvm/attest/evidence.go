package attest

import (
	"encoding/binary"
	"fmt"

	"github.com/google/go-sev-guest/abi"
)

// Kind says where evidence comes from.
type Kind uint8

const (
	// KindSEVSNP is evidence from a real AMD SEV-SNP secure processor.
	KindSEVSNP Kind = 1
	// KindSimulated is evidence signed in software with go-sev-guest's
	// public fake AMD keys. It proves nothing about the platform.
	KindSimulated Kind = 2
)

// String returns "SEV-SNP" or "SIMULATED" (the label used in logs, /readyz
// and certificates).
func (k Kind) String() string {
	switch k {
	case KindSEVSNP:
		return "SEV-SNP"
	case KindSimulated:
		return "SIMULATED"
	default:
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindSEVSNP || k == KindSimulated }

// Limits of the evidence encoding.
const (
	// ReportSize is the exact size of a raw SEV-SNP attestation report.
	ReportSize = abi.ReportSize
	// MaxCertSize bounds each DER certificate in evidence. AMD's ARK and
	// ASK (RSA-4096, RSA-PSS) are about 1.6 KiB, a VCEK about 1.3 KiB.
	MaxCertSize = 8192
	// MaxEvidenceSize bounds the marshalled form of any valid Evidence, so
	// that transports can bound their reads.
	MaxEvidenceSize = evidenceHeaderSize + 4*4 + ReportSize + 3*MaxCertSize

	evidenceMagic      = "CCEV"
	evidenceVersion    = 1
	evidenceHeaderSize = len(evidenceMagic) + 2
)

// Evidence is one attestation: a raw SEV-SNP report and the certificates
// that came with it from the secure processor's host-provided table.
//
// Only EndorsementCert is used to verify the report; the verifier checks it
// against its own trusted roots and never trusts IntermediateCert or
// RootCert, which are carried for inspection and may be empty.
type Evidence struct {
	// Kind is the attester's claim of where the evidence comes from. It is
	// not trusted: a verifier refuses evidence whose kind differs from its
	// roots, and the signature chain decides the rest.
	Kind Kind
	// Report is the raw attestation report, exactly ReportSize bytes.
	Report []byte
	// EndorsementCert is the DER VCEK or VLEK certificate (the report's
	// SIGNER_INFO says which).
	EndorsementCert []byte
	// IntermediateCert is the DER ASK (for a VCEK) or ASVK (for a VLEK)
	// certificate, or empty.
	IntermediateCert []byte
	// RootCert is the DER ARK certificate, or empty.
	RootCert []byte
}

// Marshal encodes e in the evidence wire form:
//
//	"CCEV" (4 bytes) || version (1 byte, = 1) || kind (1 byte) ||
//	u32(len(report))       || report          (len = ReportSize)
//	u32(len(endorsement))  || endorsement     (1 ≤ len ≤ MaxCertSize)
//	u32(len(intermediate)) || intermediate    (0 ≤ len ≤ MaxCertSize)
//	u32(len(root))         || root            (0 ≤ len ≤ MaxCertSize)
//
// with big-endian lengths and nothing after the last field. It fails with
// ErrMalformed if e violates these limits, so whatever Marshal returns,
// UnmarshalEvidence accepts.
func (e *Evidence) Marshal() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	n := evidenceHeaderSize + 4*4 + len(e.Report) + len(e.EndorsementCert) + len(e.IntermediateCert) + len(e.RootCert)
	out := make([]byte, 0, n)
	out = append(out, evidenceMagic...)
	out = append(out, evidenceVersion, byte(e.Kind))
	for _, f := range [][]byte{e.Report, e.EndorsementCert, e.IntermediateCert, e.RootCert} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return out, nil
}

// check enforces the field limits shared by Marshal and UnmarshalEvidence.
func (e *Evidence) check() error {
	if e == nil {
		return fmt.Errorf("%w: nil evidence", ErrMalformed)
	}
	if !e.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, uint8(e.Kind))
	}
	if len(e.Report) != ReportSize {
		return fmt.Errorf("%w: report is %d bytes, want %d", ErrMalformed, len(e.Report), ReportSize)
	}
	if len(e.EndorsementCert) == 0 {
		return fmt.Errorf("%w: missing endorsement key certificate", ErrMalformed)
	}
	for _, c := range []struct {
		name string
		der  []byte
	}{{"endorsement", e.EndorsementCert}, {"intermediate", e.IntermediateCert}, {"root", e.RootCert}} {
		if len(c.der) > MaxCertSize {
			return fmt.Errorf("%w: %s certificate is %d bytes, limit %d", ErrMalformed, c.name, len(c.der), MaxCertSize)
		}
	}
	return nil
}

// UnmarshalEvidence decodes the wire form written by [Evidence.Marshal]. It
// is strict: wrong magic, version or kind, a report of the wrong size, an
// empty endorsement certificate, a certificate over MaxCertSize, a
// truncated field or trailing bytes are all ErrMalformed. The returned
// Evidence does not alias b. Decoding checks structure only; use a
// [Verifier] to check the contents.
func UnmarshalEvidence(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(b), MaxEvidenceSize)
	}
	if len(b) < evidenceHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the header", ErrMalformed, len(b))
	}
	if string(b[:len(evidenceMagic)]) != evidenceMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrMalformed)
	}
	if v := b[len(evidenceMagic)]; v != evidenceVersion {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrMalformed, v)
	}
	e := &Evidence{Kind: Kind(b[len(evidenceMagic)+1])}
	rest := b[evidenceHeaderSize:]
	limits := []int{ReportSize, MaxCertSize, MaxCertSize, MaxCertSize}
	fields := []*[]byte{&e.Report, &e.EndorsementCert, &e.IntermediateCert, &e.RootCert}
	for i, dst := range fields {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: truncated length of field %d", ErrMalformed, i)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(limits[i]) {
			return nil, fmt.Errorf("%w: field %d is %d bytes, limit %d", ErrMalformed, i, n, limits[i])
		}
		if uint64(len(rest)) < uint64(n) {
			return nil, fmt.Errorf("%w: truncated field %d", ErrMalformed, i)
		}
		if n > 0 {
			*dst = append([]byte(nil), rest[:n]...)
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}
