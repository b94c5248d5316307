package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	sevtest "github.com/google/go-sev-guest/testing"
)

// Report layout offsets from the SEV-SNP ABI specification (ATTESTATION_REPORT).
const (
	offPolicy      = 0x08
	offVMPL        = 0x30
	offReportData  = 0x50
	offMeasurement = 0x90
	offSignature   = 0x2A0
)

func testMeasurement() [MeasurementSize]byte {
	return sha512.Sum384([]byte("cc-tsa test launch image"))
}

func testReportData(nonce string) [ReportDataSize]byte {
	return ReportData([]byte("identity public key"), []byte("hpke public key"), []byte(nonce))
}

func newSim(t testing.TB, mut func(*SimulatedConfig)) *Simulated {
	t.Helper()
	cfg := SimulatedConfig{Measurement: testMeasurement(), TCB: TCB{BootLoader: 3, TEE: 0, SNP: 8, Microcode: 115}}
	if mut != nil {
		mut(&cfg)
	}
	s, err := NewSimulated(cfg)
	if err != nil {
		t.Fatalf("NewSimulated: %v", err)
	}
	return s
}

func newVerifier(t testing.TB, roots *TrustedRoots, mut func(*Policy)) *Verifier {
	t.Helper()
	p := Policy{Roots: roots, Measurement: testMeasurement(), VMPL: 0, MinimumTCB: TCB{BootLoader: 3, SNP: 8, Microcode: 115}}
	if mut != nil {
		mut(&p)
	}
	v, err := NewVerifier(p)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func simRoots(t testing.TB) *TrustedRoots {
	t.Helper()
	r, err := SimulatedRoots()
	if err != nil {
		t.Fatalf("SimulatedRoots: %v", err)
	}
	return r
}

func attest(t testing.TB, a Attester, rd [ReportDataSize]byte) *Evidence {
	t.Helper()
	ev, err := a.Attest(rd)
	if err != nil {
		t.Fatalf("Attest: %v", err)
	}
	return ev
}

// TestReportDataVector checks ReportData against a preimage written out
// byte by byte from the documented encoding.
func TestReportDataVector(t *testing.T) {
	pre, err := hex.DecodeString("" +
		"0015" + hex.EncodeToString([]byte("CC-TSA attestation v1")) +
		"00000003" + "010203" +
		"00000002" + "0a0b" +
		"00000000")
	if err != nil {
		t.Fatal(err)
	}
	want := sha512.Sum512(pre)
	if got := ReportData([]byte{1, 2, 3}, []byte{10, 11}, nil); got != want {
		t.Fatalf("ReportData = %x, want %x", got, want)
	}
	// Field boundaries matter.
	a := ReportData([]byte("ab"), []byte("c"), nil)
	b := ReportData([]byte("a"), []byte("bc"), nil)
	c := ReportData([]byte("a"), []byte("b"), []byte("c"))
	if a == b || b == c || a == c {
		t.Fatal("ReportData is not injective across field boundaries")
	}
	if ReportData(nil, nil, []byte("n1")) == ReportData(nil, nil, []byte("n2")) {
		t.Fatal("nonce not bound")
	}
}

func TestSimulatedVerifies(t *testing.T) {
	for _, vlek := range []bool{false, true} {
		name := "VCEK"
		if vlek {
			name = "VLEK"
		}
		t.Run(name, func(t *testing.T) {
			sim := newSim(t, func(c *SimulatedConfig) { c.VLEK = vlek; c.GuestSVN = 7; c.HostData[0] = 0x42 })
			v := newVerifier(t, simRoots(t), nil)
			rd := testReportData("nonce-1")
			ev := attest(t, sim, rd)
			if ev.Kind != KindSimulated || sim.Kind() != KindSimulated || v.Kind() != KindSimulated {
				t.Fatal("simulated evidence or verifier not labelled SIMULATED")
			}
			rep, err := v.Verify(ev, rd)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Report{
				Simulated: true, Version: 3, Signer: name, ProductLine: "Milan",
				Measurement: testMeasurement(), ReportData: rd, ChipID: sim.ChipID(),
				GuestPolicy: DefaultGuestPolicy, VMPL: 0, GuestSVN: 7,
				ReportedTCB: TCB{3, 0, 8, 115}, CurrentTCB: TCB{3, 0, 8, 115},
				CommittedTCB: TCB{3, 0, 8, 115}, LaunchTCB: TCB{3, 0, 8, 115},
			}
			want.HostData[0] = 0x42
			if *rep != want {
				t.Fatalf("Verify = %+v\nwant %+v", *rep, want)
			}
			// The carried ASK/ASVK and ARK are informational: without them
			// the endorsement certificate still chains to the trusted roots.
			bare := *ev
			bare.IntermediateCert, bare.RootCert = nil, nil
			if _, err := v.Verify(&bare, rd); err != nil {
				t.Fatalf("Verify without carried ASK/ARK: %v", err)
			}
		})
	}
}

// TestSimulatedSignatureStdlib checks a simulated report against the
// SEV-SNP ABI with Go's crypto/ecdsa alone: ECDSA P-384 with SHA-384 over
// bytes 0x000-0x29F, R and S little-endian, 72 bytes each, from 0x2A0.
func TestSimulatedSignatureStdlib(t *testing.T) {
	sim := newSim(t, nil)
	rd := testReportData("")
	ev := attest(t, sim, rd)
	cert, err := x509.ParseCertificate(ev.EndorsementCert)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("VCEK key is %T", cert.PublicKey)
	}
	le := func(b []byte) *big.Int {
		be := make([]byte, len(b))
		for i := range b {
			be[len(b)-1-i] = b[i]
		}
		return new(big.Int).SetBytes(be)
	}
	r := le(ev.Report[offSignature : offSignature+72])
	s := le(ev.Report[offSignature+72 : offSignature+144])
	digest := sha512.Sum384(ev.Report[:offSignature])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Fatal("crypto/ecdsa rejects the simulated report signature")
	}
	if !bytes.Equal(ev.Report[offReportData:offReportData+64], rd[:]) {
		t.Fatal("REPORT_DATA not at offset 0x50")
	}
	m := testMeasurement()
	if !bytes.Equal(ev.Report[offMeasurement:offMeasurement+48], m[:]) {
		t.Fatal("MEASUREMENT not at offset 0x90")
	}
	// The chain checks out with Go's x509 as well: VCEK <- ASK <- ARK.
	ask, err := x509.ParseCertificate(ev.IntermediateCert)
	if err != nil {
		t.Fatal(err)
	}
	ark, err := x509.ParseCertificate(ev.RootCert)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(ask); err != nil {
		t.Fatalf("VCEK not signed by ASK: %v", err)
	}
	if err := ask.CheckSignatureFrom(ark); err != nil {
		t.Fatalf("ASK not signed by ARK: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func TestRefusals(t *testing.T) {
	roots := simRoots(t)
	rd := testReportData("nonce-2")
	good := newSim(t, nil)
	goodEv := attest(t, good, rd)
	otherMeasurement := sha512.Sum384([]byte("another image"))

	// A simulator whose fake ARK and ASK keys are not the library's.
	otherKeys := sevtest.DefaultAmdKeys()
	ark, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ask, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKeys.Ark, otherKeys.Ask, otherKeys.Asvk = ark, ask, ask
	otherRoot, err := newSimulated(SimulatedConfig{Measurement: testMeasurement(), TCB: TCB{3, 0, 8, 115}}, otherKeys)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		ev     func() *Evidence
		policy func(*Policy)
		roots  *TrustedRoots
		want   error
	}{
		{name: "wrong measurement", ev: func() *Evidence { return goodEv }, policy: func(p *Policy) { p.Measurement = otherMeasurement }, want: ErrMeasurement},
		{name: "measurement of another image", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.Measurement = otherMeasurement }), rd)
		}, want: ErrMeasurement},
		{name: "debug allowed", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.GuestPolicy = DefaultGuestPolicy | PolicyDebug }), rd)
		}, want: ErrDebug},
		{name: "debug allowed even with SMT allowed", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.GuestPolicy = DefaultGuestPolicy | PolicyDebug | PolicySMT }), rd)
		}, policy: func(p *Policy) { p.AllowSMT = true }, want: ErrDebug},
		{name: "migration agent", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.GuestPolicy = DefaultGuestPolicy | PolicyMigrateMA }), rd)
		}, want: ErrGuestPolicy},
		{name: "SMT not allowed", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.GuestPolicy = DefaultGuestPolicy | PolicySMT }), rd)
		}, want: ErrGuestPolicy},
		{name: "wrong REPORT_DATA", ev: func() *Evidence { return attest(t, good, testReportData("stale nonce")) }, want: ErrReportData},
		{name: "tampered signature", ev: func() *Evidence {
			e := *goodEv
			e.Report = flip(goodEv.Report, offSignature+5)
			return &e
		}, want: ErrSignature},
		{name: "tampered signature S", ev: func() *Evidence {
			e := *goodEv
			e.Report = flip(goodEv.Report, offSignature+72)
			return &e
		}, want: ErrSignature},
		{name: "tampered measurement", ev: func() *Evidence {
			e := *goodEv
			e.Report = flip(goodEv.Report, offMeasurement)
			return &e
		}, want: ErrSignature},
		{name: "tampered VMPL", ev: func() *Evidence {
			e := *goodEv
			e.Report = flip(goodEv.Report, offVMPL)
			return &e
		}, want: ErrSignature},
		{name: "tampered policy (debug bit set after signing)", ev: func() *Evidence {
			e := *goodEv
			e.Report = bytes.Clone(goodEv.Report)
			binary.LittleEndian.PutUint64(e.Report[offPolicy:], DefaultGuestPolicy|PolicyDebug)
			return &e
		}, want: ErrSignature},
		{name: "chain from another root", ev: func() *Evidence { return attest(t, otherRoot, rd) }, want: ErrChain},
		{name: "another root's endorsement cert", ev: func() *Evidence {
			e := *goodEv
			e.EndorsementCert = attest(t, otherRoot, rd).EndorsementCert
			return &e
		}, want: ErrChain},
		{name: "garbage endorsement cert", ev: func() *Evidence {
			e := *goodEv
			e.EndorsementCert = []byte{0x30, 0x03, 0x02, 0x01, 0x00}
			return &e
		}, want: ErrChain},
		{name: "VCEK of another chip", ev: func() *Evidence {
			e := *goodEv
			e.EndorsementCert = attest(t, newSim(t, nil), rd).EndorsementCert
			return &e
		}, want: ErrPolicy},
		{name: "VMPL 1, required 0", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.VMPL = 1 }), rd)
		}, want: ErrVMPL},
		{name: "VMPL 0, required 2", ev: func() *Evidence { return goodEv }, policy: func(p *Policy) { p.VMPL = 2 }, want: ErrVMPL},
		{name: "TCB below minimum (SNP)", ev: func() *Evidence {
			return attest(t, newSim(t, func(c *SimulatedConfig) { c.TCB = TCB{3, 0, 7, 115} }), rd)
		}, want: ErrTCB},
		{name: "TCB below minimum (microcode)", ev: func() *Evidence { return goodEv }, policy: func(p *Policy) { p.MinimumTCB.Microcode = 116 }, want: ErrTCB},
		{name: "guest SVN below minimum", ev: func() *Evidence { return goodEv }, policy: func(p *Policy) { p.MinimumGuestSVN = 1 }, want: ErrPolicy},
		{name: "certificates expired", ev: func() *Evidence { return goodEv }, policy: func(p *Policy) {
			p.Now = func() time.Time { return time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC) }
		}, want: ErrChain},
		{name: "simulated evidence, real AMD roots", ev: func() *Evidence { return goodEv }, roots: mustAMDRoots(t), want: ErrKindMismatch},
		{name: "simulated evidence relabelled SEV-SNP, real AMD roots", ev: func() *Evidence {
			e := *goodEv
			e.Kind = KindSEVSNP
			return &e
		}, roots: mustAMDRoots(t), want: ErrChain},
		{name: "relabelled SEV-SNP, simulated roots", ev: func() *Evidence {
			e := *goodEv
			e.Kind = KindSEVSNP
			return &e
		}, want: ErrKindMismatch},
		{name: "report too short", ev: func() *Evidence {
			e := *goodEv
			e.Report = goodEv.Report[:ReportSize-1]
			return &e
		}, want: ErrMalformed},
		{name: "unsupported report version", ev: func() *Evidence {
			e := *goodEv
			e.Report = bytes.Clone(goodEv.Report)
			binary.LittleEndian.PutUint32(e.Report, 1)
			return &e
		}, want: ErrMalformed},
		{name: "report version 9", ev: func() *Evidence {
			e := *goodEv
			e.Report = bytes.Clone(goodEv.Report)
			binary.LittleEndian.PutUint32(e.Report, 9)
			return &e
		}, want: ErrMalformed},
		{name: "nil evidence", ev: func() *Evidence { return nil }, want: ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := roots
			if tc.roots != nil {
				r = tc.roots
			}
			v := newVerifier(t, r, tc.policy)
			rep, err := v.Verify(tc.ev(), rd)
			if err == nil {
				t.Fatalf("Verify accepted: %+v", rep)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error %v, want %v", err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}
	// The good evidence still verifies (the cases did not mutate it).
	if _, err := newVerifier(t, roots, nil).Verify(goodEv, rd); err != nil {
		t.Fatalf("good evidence refused after the cases: %v", err)
	}
}

func mustAMDRoots(t testing.TB) *TrustedRoots {
	t.Helper()
	r, err := AMDRoots()
	if err != nil {
		t.Fatalf("AMDRoots: %v", err)
	}
	return r
}

func TestAMDRoots(t *testing.T) {
	r := mustAMDRoots(t)
	if r.Kind() != KindSEVSNP {
		t.Fatalf("AMD roots kind %v", r.Kind())
	}
	if got := r.ProductLines(); len(got) != 2 || got[0] != "Genoa" || got[1] != "Milan" {
		t.Fatalf("product lines %v", got)
	}
	for line, pc := range r.lines {
		if pc.Ark.Subject.CommonName != "ARK-"+line || pc.Ask.Subject.CommonName != "SEV-"+line || pc.Asvk.Subject.CommonName != "SEV-VLEK-"+line {
			t.Fatalf("%s: names %q %q %q", line, pc.Ark.Subject.CommonName, pc.Ask.Subject.CommonName, pc.Asvk.Subject.CommonName)
		}
		if _, ok := pc.Ark.PublicKey.(*rsa.PublicKey); !ok || pc.Ark.PublicKey.(*rsa.PublicKey).N.BitLen() != 4096 {
			t.Fatalf("%s ARK is not RSA-4096", line)
		}
	}
	if bytes.Contains([]byte(r.String()), []byte("SIMULATED")) {
		t.Fatalf("real roots labelled %q", r.String())
	}
	s := simRoots(t)
	if s.Kind() != KindSimulated || !bytes.Contains([]byte(s.String()), []byte("SIMULATED")) {
		t.Fatalf("simulated roots labelled %v %q", s.Kind(), s.String())
	}
	// Bundles of one product line from AMD's KDS format; the fake chain is
	// not accepted as one.
	if _, err := RootsFromKDSBundles("Milan", milanVcekBundle(t), nil); err != nil {
		t.Fatalf("RootsFromKDSBundles: %v", err)
	}
	if _, err := RootsFromKDSBundles("Turin", milanVcekBundle(t), nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown product line: %v", err)
	}
	if _, err := RootsFromKDSBundles("Genoa", milanVcekBundle(t), nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("Milan bundle accepted as Genoa: %v", err)
	}
	if _, err := RootsFromKDSBundles("Milan", []byte("not PEM"), nil); !errors.Is(err, ErrConfig) {
		t.Fatalf("garbage bundle: %v", err)
	}
}

func TestPolicyConfig(t *testing.T) {
	roots := simRoots(t)
	bad := []Policy{
		{Measurement: testMeasurement()},
		{Roots: roots},
		{Roots: roots, Measurement: testMeasurement(), VMPL: 4},
		{Roots: roots, Measurement: testMeasurement(), MinimumTCB: TCB{SNP: 128}},
	}
	for i, p := range bad {
		if _, err := NewVerifier(p); !errors.Is(err, ErrConfig) {
			t.Errorf("policy %d: %v, want ErrConfig", i, err)
		}
	}
	m := testMeasurement()
	badSim := []SimulatedConfig{
		{},
		{Measurement: m, GuestPolicy: PolicyDebug},
		{Measurement: m, VMPL: 4},
		{Measurement: m, TCB: TCB{TEE: 200}},
	}
	for i, c := range badSim {
		if _, err := NewSimulated(c); !errors.Is(err, ErrConfig) {
			t.Errorf("simulated config %d: %v, want ErrConfig", i, err)
		}
	}
}

func TestParseMeasurement(t *testing.T) {
	m := testMeasurement()
	got, err := ParseMeasurement(hex.EncodeToString(m[:]))
	if err != nil || got != m {
		t.Fatalf("ParseMeasurement = %x, %v", got, err)
	}
	for _, s := range []string{"", hex.EncodeToString(m[:47]), hex.EncodeToString(m[:]) + "00", strings.Repeat("zz", 48)} {
		if _, err := ParseMeasurement(s); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseMeasurement(%q): %v", s, err)
		}
	}
}

func TestVerifyKeys(t *testing.T) {
	sim := newSim(t, nil)
	id, hpke, nonce := []byte("id key"), []byte("hpke key"), []byte("verifier nonce")
	ev := attest(t, sim, ReportData(id, hpke, nonce))
	v := newVerifier(t, simRoots(t), nil)
	if _, err := v.VerifyKeys(ev, id, hpke, nonce); err != nil {
		t.Fatalf("VerifyKeys: %v", err)
	}
	for name, k := range map[string][3][]byte{
		"other identity": {[]byte("id kez"), hpke, nonce},
		"other HPKE key": {id, []byte("hpke kez"), nonce},
		"other nonce":    {id, hpke, []byte("verifier noncf")},
		"no nonce":       {id, hpke, nil},
	} {
		if _, err := v.VerifyKeys(ev, k[0], k[1], k[2]); !errors.Is(err, ErrReportData) {
			t.Errorf("%s: %v, want ErrReportData", name, err)
		}
	}
}

func TestEvidenceRoundTrip(t *testing.T) {
	sim := newSim(t, nil)
	rd := testReportData("round trip")
	ev := attest(t, sim, rd)
	b, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxEvidenceSize {
		t.Fatalf("%d bytes over MaxEvidenceSize", len(b))
	}
	got, err := UnmarshalEvidence(b)
	if err != nil {
		t.Fatalf("UnmarshalEvidence: %v", err)
	}
	if got.Kind != ev.Kind || !bytes.Equal(got.Report, ev.Report) || !bytes.Equal(got.EndorsementCert, ev.EndorsementCert) ||
		!bytes.Equal(got.IntermediateCert, ev.IntermediateCert) || !bytes.Equal(got.RootCert, ev.RootCert) {
		t.Fatal("round trip changed the evidence")
	}
	if _, err := newVerifier(t, simRoots(t), nil).Verify(got, rd); err != nil {
		t.Fatalf("decoded evidence refused: %v", err)
	}
	// Decoded evidence does not alias the input.
	b[20] ^= 0xff
	if !bytes.Equal(got.Report, ev.Report) {
		t.Fatal("decoded evidence aliases its input")
	}
}

func TestUnmarshalEvidenceStrict(t *testing.T) {
	ev := &Evidence{Kind: KindSEVSNP, Report: make([]byte, ReportSize), EndorsementCert: []byte{1, 2, 3}, RootCert: []byte{4}}
	good, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalEvidence(good); err != nil {
		t.Fatalf("good encoding refused: %v", err)
	}
	// Offsets in good: header 6, report length at 6, endorsement length at 6+4+ReportSize.
	endoLen := 6 + 4 + ReportSize
	mut := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	bad := map[string][]byte{
		"empty":          nil,
		"short header":   good[:5],
		"bad magic":      mut(func(b []byte) []byte { b[0] = 'X'; return b }),
		"bad version":    mut(func(b []byte) []byte { b[4] = 2; return b }),
		"kind 0":         mut(func(b []byte) []byte { b[5] = 0; return b }),
		"kind 3":         mut(func(b []byte) []byte { b[5] = 3; return b }),
		"trailing byte":  append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-1],
		"no root field":  good[:len(good)-5],
		"report short":   mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[6:], ReportSize-1); return b }),
		"report long":    mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[6:], ReportSize+1); return b }),
		"huge length":    mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[endoLen:], 0xffffffff); return b }),
		"empty endorse":  append(append(bytes.Clone(good[:endoLen]), 0, 0, 0, 0), good[endoLen+4+3:]...),
		"oversized cert": overCert(t),
		"over max size":  make([]byte, MaxEvidenceSize+1),
	}
	for name, b := range bad {
		if e, err := UnmarshalEvidence(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %+v, %v; want ErrMalformed", name, e, err)
		}
	}
	// Marshal refuses what Unmarshal would refuse.
	for name, e := range map[string]*Evidence{
		"nil":          nil,
		"kind":         {Kind: 9, Report: make([]byte, ReportSize), EndorsementCert: []byte{1}},
		"report":       {Kind: KindSimulated, Report: make([]byte, 10), EndorsementCert: []byte{1}},
		"no endorse":   {Kind: KindSimulated, Report: make([]byte, ReportSize)},
		"big root":     {Kind: KindSimulated, Report: make([]byte, ReportSize), EndorsementCert: []byte{1}, RootCert: make([]byte, MaxCertSize+1)},
		"big interm.":  {Kind: KindSimulated, Report: make([]byte, ReportSize), EndorsementCert: []byte{1}, IntermediateCert: make([]byte, MaxCertSize+1)},
		"big endorse.": {Kind: KindSimulated, Report: make([]byte, ReportSize), EndorsementCert: make([]byte, MaxCertSize+1)},
	} {
		if _, err := e.Marshal(); !errors.Is(err, ErrMalformed) {
			t.Errorf("Marshal %s: %v, want ErrMalformed", name, err)
		}
	}
}

func overCert(t *testing.T) []byte {
	ev := &Evidence{Kind: KindSimulated, Report: make([]byte, ReportSize), EndorsementCert: []byte{1}}
	b, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Replace the empty root field with one of MaxCertSize+1 bytes.
	b = b[:len(b)-4]
	b = binary.BigEndian.AppendUint32(b, MaxCertSize+1)
	return append(b, make([]byte, MaxCertSize+1)...)
}

func TestConcurrentAttestVerify(t *testing.T) {
	sim := newSim(t, nil)
	v := newVerifier(t, simRoots(t), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 3 {
				rd := testReportData(string(rune('a'+i)) + string(rune('0'+j)))
				ev, err := sim.Attest(rd)
				if err != nil {
					errs <- err
					return
				}
				if _, err := v.Verify(ev, rd); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
