package attest

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
)

// MeasurementSize is the size of an SEV-SNP launch measurement.
const MeasurementSize = abi.MeasurementSize

// Policy says which evidence a [Verifier] accepts. Debugging and a
// migration agent are never allowed.
type Policy struct {
	// Roots are the trusted AMD roots; required. The evidence kind must
	// match Roots.Kind().
	Roots *TrustedRoots
	// Measurement is the pinned launch measurement; required (all zero is
	// refused as unconfigured).
	Measurement [MeasurementSize]byte
	// VMPL is the exact VMPL the report must come from (0-3).
	VMPL uint32
	// MinimumTCB is the lowest acceptable TCB of evidence from any
	// product line, per component. It applies to REPORTED_TCB and to
	// LAUNCH_TCB.
	MinimumTCB TCB
	// MinimumTCBByProduct, if not nil, holds the floor per product line
	// ("Milan", "Genoa"; see DefaultMinimumTCB), which applies on top of
	// MinimumTCB (the component-wise maximum of both is required).
	// Evidence from a product line without an entry is then refused.
	MinimumTCBByProduct map[string]TCB
	// MinimumGuestSVN is the lowest acceptable guest SVN.
	MinimumGuestSVN uint32
	// AllowSMT accepts guests whose policy allows simultaneous
	// multithreading (most cloud CVMs do).
	AllowSMT bool
	// Now returns the time at which certificates must be valid; nil means
	// time.Now.
	Now func() time.Time
}

// Verifier checks evidence against a Policy. It is safe for concurrent use.
type Verifier struct {
	p Policy
}

// NewVerifier checks p and returns a Verifier for it.
func NewVerifier(p Policy) (*Verifier, error) {
	if p.Roots == nil || len(p.Roots.lines) == 0 {
		return nil, fmt.Errorf("%w: no trusted roots", ErrConfig)
	}
	if p.Measurement == ([MeasurementSize]byte{}) {
		return nil, fmt.Errorf("%w: no pinned measurement", ErrConfig)
	}
	if p.VMPL > 3 {
		return nil, fmt.Errorf("%w: VMPL %d out of range 0-3", ErrConfig, p.VMPL)
	}
	if _, err := p.MinimumTCB.version(); err != nil {
		return nil, err
	}
	floors := make(map[string]TCB, len(p.MinimumTCBByProduct))
	for line, t := range p.MinimumTCBByProduct {
		if line != "Milan" && line != "Genoa" {
			return nil, fmt.Errorf("%w: TCB floor for product line %q: only Milan and Genoa have this TCB layout", ErrConfig, line)
		}
		if _, err := t.version(); err != nil {
			return nil, err
		}
		floors[line] = t
	}
	if p.MinimumTCBByProduct != nil {
		p.MinimumTCBByProduct = floors // a private copy
	}
	return &Verifier{p: p}, nil
}

// Kind returns the kind of evidence this verifier accepts.
func (v *Verifier) Kind() Kind { return v.p.Roots.kind }

// Report holds the fields of a verified attestation report.
type Report struct {
	// Simulated is true when the report was verified under simulated
	// roots: it then proves nothing about the platform.
	Simulated bool
	// Version is the report format version.
	Version uint32
	// Signer is "VCEK" or "VLEK".
	Signer string
	// ProductLine is the product line named by the verified endorsement
	// key certificate ("Milan", "Genoa").
	ProductLine string
	// Measurement is the launch measurement.
	Measurement [MeasurementSize]byte
	// ReportData is the REPORT_DATA field.
	ReportData [ReportDataSize]byte
	// HostData is the HOST_DATA field.
	HostData [abi.HostDataSize]byte
	// ChipID is the CHIP_ID field (zero if the host masks it).
	ChipID [abi.ChipIDSize]byte
	// GuestPolicy is the raw guest policy.
	GuestPolicy uint64
	// VMPL is the privilege level the report was requested at.
	VMPL uint32
	// GuestSVN is the guest security version number.
	GuestSVN uint32
	// ReportedTCB, CurrentTCB, CommittedTCB and LaunchTCB are the
	// report's TCB fields.
	ReportedTCB, CurrentTCB, CommittedTCB, LaunchTCB TCB
}

// Verify checks that ev is genuine and acceptable and that its REPORT_DATA
// is wantReportData, and returns the report's fields. In order it checks:
// the encoding and kind; the signature chain with go-sev-guest's
// verify.SnpAttestation (endorsement key certificate up to the trusted
// roots only, no network, no revocation lists); then the fields against
// the policy (measurement, REPORT_DATA, debug, other policy bits, VMPL,
// the TCB floor of the product line for REPORTED_TCB and LAUNCH_TCB, guest
// SVN) with typed errors, and finally go-sev-guest's
// validate.SnpAttestation with the same policy as a second, complete
// check. The first failure is returned.
func (v *Verifier) Verify(ev *Evidence, wantReportData [ReportDataSize]byte) (*Report, error) {
	if err := ev.check(); err != nil {
		return nil, err
	}
	if ev.Kind != v.p.Roots.kind {
		return nil, fmt.Errorf("%w: %v evidence, %v roots", ErrKindMismatch, ev.Kind, v.p.Roots.kind)
	}
	att, info, err := attestation(ev)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if v.p.Now != nil {
		now = v.p.Now()
	}
	vopts := &verify.Options{
		DisableCertFetching: true,
		TrustedRoots:        v.p.Roots.options(),
		Now:                 now,
		Getter:              refuseGetter{},
	}
	if err := verify.SnpAttestation(att, vopts); err != nil {
		// Tell a bad signature from a bad chain: check the signature alone
		// under the certificate that came with the report.
		ek, perr := x509.ParseCertificate(ev.EndorsementCert)
		if perr != nil {
			return nil, fmt.Errorf("%w: %v certificate: %v", ErrChain, info.SigningKey, perr)
		}
		if serr := verify.SnpReportSignature(ev.Report, ek); serr != nil {
			return nil, fmt.Errorf("%w: %v", ErrSignature, serr)
		}
		return nil, fmt.Errorf("%w: %v", ErrChain, err)
	}
	r := att.GetReport()
	rep := reportOf(r, info, v.p.Roots.kind == KindSimulated)
	if rep.ProductLine, err = productLine(ev.EndorsementCert, info.SigningKey); err != nil {
		return nil, err
	}
	floor, err := v.floor(rep.ProductLine)
	if err != nil {
		return nil, err
	}
	if err := v.checkFields(rep, wantReportData, floor); err != nil {
		return nil, err
	}
	vmpl := int(v.p.VMPL)
	vo := &validate.Options{
		GuestPolicy:      abi.SnpPolicy{SMT: v.p.AllowSMT},
		MinimumGuestSvn:  v.p.MinimumGuestSVN,
		ReportData:       wantReportData[:],
		Measurement:      v.p.Measurement[:],
		MinimumTCB:       floor.parts(),
		MinimumLaunchTCB: floor.parts(),
		VMPL:             &vmpl,
	}
	if err := validate.SnpAttestation(att, vo); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	return rep, nil
}

// VerifyKeys is Verify with the expected REPORT_DATA computed as
// ReportData(identity, hpke, nonce): it checks that ev binds exactly these
// keys and this nonce.
func (v *Verifier) VerifyKeys(ev *Evidence, identity, hpke, nonce []byte) (*Report, error) {
	return v.Verify(ev, ReportData(identity, hpke, nonce))
}

// ParseMeasurement decodes a launch measurement written as 96 hexadecimal
// digits (as printed by AMD's and cloud providers' tools).
func ParseMeasurement(s string) ([MeasurementSize]byte, error) {
	var m [MeasurementSize]byte
	if len(s) != 2*MeasurementSize {
		return m, fmt.Errorf("%w: measurement has %d hex digits, want %d", ErrConfig, len(s), 2*MeasurementSize)
	}
	if _, err := hex.Decode(m[:], []byte(s)); err != nil {
		return m, fmt.Errorf("%w: measurement: %v", ErrConfig, err)
	}
	return m, nil
}

// floor returns the TCB floor for evidence of a product line.
func (v *Verifier) floor(line string) (TCB, error) {
	f := v.p.MinimumTCB
	if v.p.MinimumTCBByProduct != nil {
		pf, ok := v.p.MinimumTCBByProduct[line]
		if !ok {
			return TCB{}, fmt.Errorf("%w: no TCB floor configured for product line %q", ErrTCB, line)
		}
		f = maxTCB(f, pf)
	}
	return f, nil
}

// productLine returns the product line named by a verified endorsement key
// certificate (its KDS productName extension, e.g. "Milan-B0").
func productLine(der []byte, signer abi.ReportSigner) (string, error) {
	ek, err := x509.ParseCertificate(der)
	if err != nil {
		return "", fmt.Errorf("%w: endorsement key certificate: %v", ErrChain, err)
	}
	exts, err := kds.CertificateExtensions(ek, signer)
	if err != nil {
		return "", fmt.Errorf("%w: endorsement key certificate extensions: %v", ErrChain, err)
	}
	line := kds.ProductLineOfProductName(exts.ProductName)
	if line == "" {
		return "", fmt.Errorf("%w: endorsement key certificate names no product", ErrChain)
	}
	return line, nil
}

// checkFields applies the policy to a report whose signature chain is
// verified, with one typed error per rule; floor is the TCB floor of the
// report's product line.
func (v *Verifier) checkFields(rep *Report, wantReportData [ReportDataSize]byte, floor TCB) error {
	if subtle.ConstantTimeCompare(rep.Measurement[:], v.p.Measurement[:]) != 1 {
		return fmt.Errorf("%w: got %x", ErrMeasurement, rep.Measurement)
	}
	if subtle.ConstantTimeCompare(rep.ReportData[:], wantReportData[:]) != 1 {
		return fmt.Errorf("%w: report binds other keys or another nonce", ErrReportData)
	}
	pol, err := abi.ParseSnpPolicy(rep.GuestPolicy)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrGuestPolicy, err)
	}
	if pol.Debug {
		return fmt.Errorf("%w: guest policy %#x", ErrDebug, rep.GuestPolicy)
	}
	if pol.MigrateMA {
		return fmt.Errorf("%w: migration agent allowed (policy %#x)", ErrGuestPolicy, rep.GuestPolicy)
	}
	if pol.SMT && !v.p.AllowSMT {
		return fmt.Errorf("%w: SMT allowed (policy %#x)", ErrGuestPolicy, rep.GuestPolicy)
	}
	if rep.VMPL != v.p.VMPL {
		return fmt.Errorf("%w: report from VMPL %d, want %d", ErrVMPL, rep.VMPL, v.p.VMPL)
	}
	if err := checkFloor("reported", rep.ProductLine, rep.ReportedTCB, floor); err != nil {
		return err
	}
	if err := checkFloor("launch", rep.ProductLine, rep.LaunchTCB, floor); err != nil {
		return err
	}
	if rep.GuestSVN < v.p.MinimumGuestSVN {
		return fmt.Errorf("%w: guest SVN %d below %d", ErrPolicy, rep.GuestSVN, v.p.MinimumGuestSVN)
	}
	return nil
}

// attestation converts evidence into go-sev-guest's form.
func attestation(ev *Evidence) (*spb.Attestation, abi.SignerInfo, error) {
	r, err := abi.ReportToProto(ev.Report)
	if err != nil {
		return nil, abi.SignerInfo{}, fmt.Errorf("%w: report: %v", ErrMalformed, err)
	}
	if err := abi.ValidateReportFormat(ev.Report); err != nil {
		return nil, abi.SignerInfo{}, fmt.Errorf("%w: report: %v", ErrMalformed, err)
	}
	info, err := abi.ParseSignerInfo(r.GetSignerInfo())
	if err != nil {
		return nil, abi.SignerInfo{}, fmt.Errorf("%w: SIGNER_INFO: %v", ErrMalformed, err)
	}
	chain := &spb.CertificateChain{AskCert: ev.IntermediateCert, ArkCert: ev.RootCert, Extras: map[string][]byte{}}
	switch info.SigningKey {
	case abi.VcekReportSigner:
		chain.VcekCert = ev.EndorsementCert
	case abi.VlekReportSigner:
		chain.VlekCert = ev.EndorsementCert
	default:
		return nil, abi.SignerInfo{}, fmt.Errorf("%w: report signed by %v", ErrSignature, info.SigningKey)
	}
	return &spb.Attestation{Report: r, CertificateChain: chain}, info, nil
}

func reportOf(r *spb.Report, info abi.SignerInfo, simulated bool) *Report {
	rep := &Report{
		Simulated:    simulated,
		Version:      r.GetVersion(),
		Signer:       info.SigningKey.String(),
		GuestPolicy:  r.GetPolicy(),
		VMPL:         r.GetVmpl(),
		GuestSVN:     r.GetGuestSvn(),
		ReportedTCB:  tcbOf(r.GetReportedTcb()),
		CurrentTCB:   tcbOf(r.GetCurrentTcb()),
		CommittedTCB: tcbOf(r.GetCommittedTcb()),
		LaunchTCB:    tcbOf(r.GetLaunchTcb()),
	}
	copy(rep.Measurement[:], r.GetMeasurement())
	copy(rep.ReportData[:], r.GetReportData())
	copy(rep.HostData[:], r.GetHostData())
	copy(rep.ChipID[:], r.GetChipId())
	return rep
}

// selfCheck is what an attester runs before releasing evidence: the report
// decodes, carries the requested REPORT_DATA, and its signature verifies
// under the endorsement key certificate that comes with it (the chain is
// the verifier's business).
func selfCheck(ev *Evidence, reportData [ReportDataSize]byte) error {
	if err := ev.check(); err != nil {
		return err
	}
	att, _, err := attestation(ev)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(att.GetReport().GetReportData(), reportData[:]) != 1 {
		return fmt.Errorf("%w: the secure processor returned another REPORT_DATA", ErrReportData)
	}
	ek, err := x509.ParseCertificate(ev.EndorsementCert)
	if err != nil {
		return fmt.Errorf("%w: endorsement key certificate: %v", ErrChain, err)
	}
	if err := verify.SnpReportSignature(ev.Report, ek); err != nil {
		return fmt.Errorf("%w: own report: %v", ErrSignature, err)
	}
	return nil
}

// refuseGetter is the HTTPS getter given to go-sev-guest: verification
// must never reach the network (cert fetching is disabled anyway).
type refuseGetter struct{}

// Get always fails.
func (refuseGetter) Get(url string) ([]byte, error) {
	return nil, errors.New("attest: network access refused (" + url + ")")
}
