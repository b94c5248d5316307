package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
)

// DefaultGuestPolicy is the guest policy of simulated reports unless
// configured otherwise: reserved bit 17 set, ABI 0.0, no SMT, no migration
// agent, no debugging.
const DefaultGuestPolicy uint64 = 1 << 17

// Guest policy bits (SEV-SNP ABI specification, GUEST_POLICY).
const (
	// PolicySMT allows simultaneous multithreading.
	PolicySMT uint64 = 1 << 16
	// PolicyMigrateMA allows a migration agent.
	PolicyMigrateMA uint64 = 1 << 18
	// PolicyDebug allows the host to debug (decrypt) the guest.
	PolicyDebug uint64 = 1 << 19
)

// Fixed properties of the simulated platform.
const (
	simProductName = "Milan-B1"
	simCSPID       = "cc-tsa-simulated"
	// Firmware version reported by simulated reports (current = committed).
	simFWMajor, simFWMinor, simFWBuild = 1, 55, 21
)

// simCreationTime is the issue time of the fake AMD certificates, fixed so
// that every process derives the same chain validity (ARK and ASK valid 25
// years, VCEK and VLEK 7 years from this date, i.e. until the end of 2031).
func simCreationTime() time.Time { return time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC) }

// SimulatedConfig configures a [Simulated] attester.
type SimulatedConfig struct {
	// Measurement is the launch measurement the fake reports claim;
	// required (a Verifier never pins all zeros).
	Measurement [MeasurementSize]byte
	// GuestPolicy is the raw guest policy; zero means DefaultGuestPolicy.
	// Bit 17 must be set.
	GuestPolicy uint64
	// VMPL is the privilege level (0-3) the reports claim.
	VMPL uint32
	// TCB is the reported, current and committed TCB, and the TCB in the
	// fake VCEK/VLEK certificate.
	TCB TCB
	// LaunchTCB, if not nil, is the launch TCB; nil means TCB.
	LaunchTCB *TCB
	// GuestSVN is the guest security version number.
	GuestSVN uint32
	// HostData is the HOST_DATA field (set by the host at launch).
	HostData [32]byte
	// VLEK makes the fake VLEK (as on AWS) sign reports instead of the fake
	// VCEK.
	VLEK bool
}

// Simulated is an [Attester] for development and tests, with no security
// whatsoever: it writes SEV-SNP reports in software and signs them with
// go-sev-guest's fake AMD key chain, whose private keys are public in that
// library's source. Its evidence is KindSimulated and verifies only under
// [SimulatedRoots]. It is safe for concurrent use.
type Simulated struct {
	cfg SimulatedConfig
	tcb uint64
	// launchTCB is the LAUNCH_TCB of the reports.
	launchTCB uint64
	chipID    [abi.ChipIDSize]byte
	reportID  [abi.ReportIDSize]byte
	signer    *sevtest.AmdSigner
	key       *ecdsa.PrivateKey
	ek, ica   *x509.Certificate
	roots     *TrustedRoots
}

// NewSimulated returns a simulated attester with a random CHIP_ID and
// REPORT_ID, whose fake VCEK (or VLEK) certificate carries cfg.TCB and the
// CHIP_ID as real ones do.
func NewSimulated(cfg SimulatedConfig) (*Simulated, error) {
	return newSimulated(cfg, sevtest.DefaultAmdKeys())
}

// newSimulated builds a simulator on the given fake AMD keys (tests use
// other keys to make a chain from another root).
func newSimulated(cfg SimulatedConfig, keys *sevtest.AmdKeys) (*Simulated, error) {
	if cfg.Measurement == ([MeasurementSize]byte{}) {
		return nil, fmt.Errorf("%w: no simulated measurement", ErrConfig)
	}
	if cfg.GuestPolicy == 0 {
		cfg.GuestPolicy = DefaultGuestPolicy
	}
	if _, err := abi.ParseSnpPolicy(cfg.GuestPolicy); err != nil {
		return nil, fmt.Errorf("%w: guest policy %#x: %v", ErrConfig, cfg.GuestPolicy, err)
	}
	if cfg.VMPL > 3 {
		return nil, fmt.Errorf("%w: VMPL %d out of range 0-3", ErrConfig, cfg.VMPL)
	}
	tcb, err := cfg.TCB.version()
	if err != nil {
		return nil, err
	}
	s := &Simulated{cfg: cfg, tcb: tcb, launchTCB: tcb}
	if cfg.LaunchTCB != nil {
		if s.launchTCB, err = cfg.LaunchTCB.version(); err != nil {
			return nil, err
		}
	}
	if _, err := rand.Read(s.chipID[:]); err != nil {
		return nil, fmt.Errorf("attest: simulated CHIP_ID: %w", err)
	}
	if _, err := rand.Read(s.reportID[:]); err != nil {
		return nil, fmt.Errorf("attest: simulated REPORT_ID: %w", err)
	}
	s.signer, err = fakeChain(keys, s.chipID[:], cfg.TCB)
	if err != nil {
		return nil, err
	}
	s.key, s.ek, s.ica = s.signer.Keys.Vcek, s.signer.Vcek, s.signer.Ask
	if cfg.VLEK {
		s.key, s.ek, s.ica = s.signer.Keys.Vlek, s.signer.Vlek, s.signer.Asvk
	}
	s.roots = simulatedRootsOf(s.signer)
	return s, nil
}

// fakeChain builds go-sev-guest's fake ARK/ASK/ASVK/VCEK/VLEK certificates
// for the Milan-B1 product with the KDS extensions a real VCEK (hwid, TCB)
// or VLEK (CSP id, TCB) carries.
func fakeChain(keys *sevtest.AmdKeys, chipID []byte, tcb TCB) (*sevtest.AmdSigner, error) {
	b := &sevtest.AmdSignerBuilder{
		Keys:             keys,
		ProductName:      simProductName,
		CSPID:            simCSPID,
		ArkCreationTime:  simCreationTime(),
		AskCreationTime:  simCreationTime(),
		AsvkCreationTime: simCreationTime(),
		VcekCreationTime: simCreationTime(),
		VlekCreationTime: simCreationTime(),
		VcekCustom:       sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb.parts(), chipID, "", simProductName)},
		VlekCustom:       sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb.parts(), nil, simCSPID, simProductName)},
	}
	signer, err := b.TestOnlyCertChain()
	if err != nil {
		return nil, fmt.Errorf("attest: fake AMD certificate chain: %w", err)
	}
	return signer, nil
}

func simulatedRootsOf(s *sevtest.AmdSigner) *TrustedRoots {
	return &TrustedRoots{
		kind:  KindSimulated,
		label: "SIMULATED fake AMD roots (go-sev-guest test keys, NOT SECURE)",
		lines: map[string]*trust.ProductCerts{
			kds.ProductLineOfProductName(simProductName): {Ark: s.Ark, Ask: s.Ask, Asvk: s.Asvk},
		},
	}
}

// SimulatedRoots returns the fake AMD roots under which every [Simulated]
// attester's evidence verifies: go-sev-guest's fake ARK with its ASK and
// ASVK for the Milan product line. They are labelled SIMULATED and prove
// nothing, because the fake private keys are public.
func SimulatedRoots() (*TrustedRoots, error) {
	signer, err := fakeChain(sevtest.DefaultAmdKeys(), make([]byte, abi.ChipIDSize), TCB{})
	if err != nil {
		return nil, err
	}
	return simulatedRootsOf(signer), nil
}

// Kind returns KindSimulated.
func (s *Simulated) Kind() Kind { return KindSimulated }

// Roots returns the fake roots of this simulator's chain (equivalent to
// [SimulatedRoots]).
func (s *Simulated) Roots() *TrustedRoots { return s.roots }

// ChipID returns the simulated CHIP_ID.
func (s *Simulated) ChipID() [abi.ChipIDSize]byte { return s.chipID }

// Attest writes a version 3 report with the configured fields and
// reportData, signs it with the fake VCEK (or VLEK), checks the signature,
// and returns it with the fake certificates.
func (s *Simulated) Attest(reportData [ReportDataSize]byte) (*Evidence, error) {
	signerKey := abi.VcekReportSigner
	if s.cfg.VLEK {
		signerKey = abi.VlekReportSigner
	}
	r := &spb.Report{
		Version:         abi.ReportVersion3,
		GuestSvn:        s.cfg.GuestSVN,
		Policy:          s.cfg.GuestPolicy,
		FamilyId:        make([]byte, abi.FamilyIDSize),
		ImageId:         make([]byte, abi.ImageIDSize),
		Vmpl:            s.cfg.VMPL,
		SignatureAlgo:   abi.SignEcdsaP384Sha384,
		CurrentTcb:      s.tcb,
		SignerInfo:      abi.ComposeSignerInfo(abi.SignerInfo{SigningKey: signerKey}),
		ReportData:      reportData[:],
		Measurement:     s.cfg.Measurement[:],
		HostData:        s.cfg.HostData[:],
		IdKeyDigest:     make([]byte, abi.IDKeyDigestSize),
		AuthorKeyDigest: make([]byte, abi.AuthorKeyDigestSize),
		ReportId:        s.reportID[:],
		ReportIdMa:      make([]byte, abi.ReportIDMASize),
		ReportedTcb:     s.tcb,
		Cpuid1EaxFms:    abi.MaskedCpuid1EaxFromSevProduct(abi.DefaultSevProduct()),
		ChipId:          s.chipID[:],
		CommittedTcb:    s.tcb,
		CurrentBuild:    simFWBuild,
		CurrentMinor:    simFWMinor,
		CurrentMajor:    simFWMajor,
		CommittedBuild:  simFWBuild,
		CommittedMinor:  simFWMinor,
		CommittedMajor:  simFWMajor,
		LaunchTcb:       s.launchTCB,
		Signature:       make([]byte, abi.SignatureSize),
	}
	raw, err := abi.ReportToAbiBytes(r)
	if err != nil {
		return nil, fmt.Errorf("attest: simulated report: %w", err)
	}
	digest := sha512.Sum384(abi.SignedComponent(raw))
	sigR, sigS, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("attest: signing simulated report: %w", err)
	}
	if err := abi.SetSignature(sigR, sigS, raw); err != nil {
		return nil, fmt.Errorf("attest: simulated report signature: %w", err)
	}
	ev := &Evidence{
		Kind:             KindSimulated,
		Report:           raw,
		EndorsementCert:  bytes.Clone(s.ek.Raw),
		IntermediateCert: bytes.Clone(s.ica.Raw),
		RootCert:         bytes.Clone(s.signer.Ark.Raw),
	}
	if err := selfCheck(ev, reportData); err != nil {
		return nil, err
	}
	return ev, nil
}
