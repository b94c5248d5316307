package attest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/google/go-sev-guest/abi"
	labi "github.com/google/go-sev-guest/client/linuxabi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
)

func milanVcekBundle(t testing.TB) []byte {
	t.Helper()
	return bytes.Clone(trust.AskArkMilanVcekBytes)
}

// TestNewHardwareNoDevice runs where there is no SEV-SNP guest interface
// (CI, developer machines) and checks the clean error.
func TestNewHardwareNoDevice(t *testing.T) {
	for _, p := range []string{"/dev/sev-guest", "/sys/kernel/config/tsm/report"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists: this may be an SEV-SNP guest", p)
		}
	}
	h, err := NewHardware(0)
	if err == nil {
		t.Fatalf("NewHardware succeeded without a device: %+v", h)
	}
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("NewHardware error %v, want ErrNoDevice", err)
	}
	t.Logf("clean error: %v", err)
	if _, err := NewHardware(4); !errors.Is(err, ErrConfig) {
		t.Fatalf("NewHardware(4): %v, want ErrConfig", err)
	}
}

// leveled adapts go-sev-guest's fake quote provider (configfs-tsm shaped)
// to the leveled interface the hardware attester uses.
type leveled struct {
	*sevtest.QuoteProvider
	gotLevel *uint
}

func (l leveled) GetRawQuoteAtLevel(rd [64]byte, level uint) ([]byte, error) {
	*l.gotLevel = level
	return l.GetRawQuote(rd)
}

// TestHardwareWithFakeDevice drives the hardware attester with
// go-sev-guest's fake quote provider: the fake AMD-SP signs the report and
// appends its certificate table, which the attester must split correctly.
func TestHardwareWithFakeDevice(t *testing.T) {
	for _, vlek := range []bool{false, true} {
		sim := newSim(t, func(c *SimulatedConfig) { c.VMPL = 2; c.VLEK = vlek })
		rd := testReportData("hardware")
		// The report the fake device returns: our simulated report body.
		body := attest(t, sim, rd).Report
		var out [labi.SnpReportRespReportSize]byte
		copy(out[:], body)
		failRD := testReportData("firmware error")
		qp, err := sevtest.TcQuoteProvider([]sevtest.TestCase{
			{Name: "good", Input: rd, Output: out},
			{Name: "fw error", Input: failRD, FwErr: abi.ResourceLimit},
		}, &sevtest.DeviceOptions{Signer: sim.signer, Product: abi.DefaultSevProduct()})
		if err != nil {
			t.Fatal(err)
		}
		var level uint
		h := &Hardware{vmpl: 2, qp: leveled{QuoteProvider: qp, gotLevel: &level}}
		if h.Kind() != KindSEVSNP {
			t.Fatal("hardware attester not KindSEVSNP")
		}
		ev, err := h.Attest(rd)
		if err != nil {
			t.Fatalf("Attest: %v", err)
		}
		if level != 2 {
			t.Fatalf("requested VMPL %d, want 2", level)
		}
		if ev.Kind != KindSEVSNP {
			t.Fatalf("kind %v", ev.Kind)
		}
		wantEK, wantICA := sim.signer.Vcek.Raw, sim.signer.Ask.Raw
		if vlek {
			wantEK = sim.signer.Vlek.Raw
		}
		if !bytes.Equal(ev.EndorsementCert, wantEK) || !bytes.Equal(ev.IntermediateCert, wantICA) || !bytes.Equal(ev.RootCert, sim.signer.Ark.Raw) {
			t.Fatal("certificates not taken from the right table entries")
		}
		// Signed by fake keys, so it verifies under the simulated roots
		// once labelled as what it really is.
		ev.Kind = KindSimulated
		if _, err := newVerifier(t, sim.Roots(), func(p *Policy) { p.VMPL = 2 }).Verify(ev, rd); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if _, err := h.Attest(failRD); !errors.Is(err, ErrDevice) {
			t.Fatalf("firmware error: %v, want ErrDevice", err)
		}
		if _, err := h.Attest(testReportData("unknown")); !errors.Is(err, ErrDevice) {
			t.Fatalf("device failure: %v, want ErrDevice", err)
		}
	}
}

// rawQuote is a fake provider returning fixed bytes.
type rawQuote []byte

func (q rawQuote) GetRawQuoteAtLevel([64]byte, uint) ([]byte, error) { return q, nil }
func (rawQuote) IsSupported() bool                                   { return true }
func (rawQuote) Product() *spb.SevProduct                            { return nil }

func TestHardwareBadQuotes(t *testing.T) {
	sim := newSim(t, nil)
	rd := testReportData("q")
	ev := attest(t, sim, rd)
	table := func(entries ...[]byte) []byte {
		// entries are (guid, blob) pairs.
		n := len(entries) / 2
		hdr := (n + 1) * certTableEntrySize
		var out, blobs []byte
		for i := 0; i < n; i++ {
			out = append(out, entries[2*i]...)
			out = binary.LittleEndian.AppendUint32(out, uint32(hdr+len(blobs)))
			out = binary.LittleEndian.AppendUint32(out, uint32(len(entries[2*i+1])))
			blobs = append(blobs, entries[2*i+1]...)
		}
		out = append(out, make([]byte, certTableEntrySize)...)
		return append(out, blobs...)
	}
	vcek, ark := guid(abi.VcekGUID), guid(abi.ArkGUID)
	good := append(bytes.Clone(ev.Report), table(vcek[:], ev.EndorsementCert, ark[:], ev.RootCert)...)
	cases := map[string]struct {
		q    []byte
		want error
	}{
		"good":               {good, nil},
		"short":              {ev.Report[:100], ErrDevice},
		"no certificates":    {ev.Report, ErrDevice},
		"no VCEK":            {append(bytes.Clone(ev.Report), table(ark[:], ev.RootCert)...), ErrDevice},
		"other REPORT_DATA":  {append(attest(t, sim, testReportData("other")).Report, table(vcek[:], ev.EndorsementCert)...), ErrReportData},
		"tampered report":    {append(flip(ev.Report, offMeasurement), table(vcek[:], ev.EndorsementCert)...), ErrSignature},
		"duplicate VCEK":     {append(bytes.Clone(ev.Report), table(vcek[:], ev.EndorsementCert, vcek[:], ev.EndorsementCert)...), ErrDevice},
		"table no terminate": {append(bytes.Clone(ev.Report), vcek[:]...), ErrDevice},
	}
	for name, tc := range cases {
		h := &Hardware{qp: rawQuote(tc.q)}
		got, err := h.Attest(rd)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if !bytes.Equal(got.EndorsementCert, ev.EndorsementCert) || len(got.IntermediateCert) != 0 {
				t.Errorf("%s: wrong certificates", name)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestParseCertTable(t *testing.T) {
	entry := func(id byte, off, n uint32) []byte {
		e := make([]byte, certTableEntrySize)
		e[0] = id
		binary.LittleEndian.PutUint32(e[16:], off)
		binary.LittleEndian.PutUint32(e[20:], n)
		return e
	}
	term := make([]byte, certTableEntrySize)
	cat := func(p ...[]byte) []byte { return bytes.Join(p, nil) }
	// Two entries, terminator, blobs "abc" and "de", then page padding.
	good := cat(entry(1, 72, 3), entry(2, 75, 2), term, []byte("abcde"), make([]byte, 7))
	m, err := parseCertTable(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || string(m[[16]byte{1}]) != "abc" || string(m[[16]byte{2}]) != "de" {
		t.Fatalf("parsed %q", m)
	}
	if m, err := parseCertTable(nil); err != nil || len(m) != 0 {
		t.Fatalf("empty table: %v %v", m, err)
	}
	bad := map[string][]byte{
		"no terminator":       entry(1, 24, 0),
		"partial entry":       cat(entry(1, 48, 1), term[:10]),
		"overlaps header":     cat(entry(1, 0, 3), term, []byte("abc")),
		"overlaps terminator": cat(entry(1, 40, 3), term, []byte("abc")),
		"past end":            cat(entry(1, 48, 4), term, []byte("abc")),
		"offset overflow":     cat(entry(1, 0xffffffff, 2), term, []byte("abc")),
		"length overflow":     cat(entry(1, 48, 0xffffffff), term, []byte("abc")),
		"duplicate":           cat(entry(1, 72, 1), entry(1, 72, 1), term, []byte("a")),
	}
	for name, b := range bad {
		if _, err := parseCertTable(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
