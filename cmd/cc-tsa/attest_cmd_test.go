package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/attest"
	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// fakeTSA is a 3-of-5 TSA made of simulated oracles whose evidence is
// genuine (signed by simulated devices), with a ceremony record, a
// development CA and TSA certificates issued for the ceremony's keys, and
// an HTTP service (the real tsaserver) serving /attest and /ceremony.
type fakeTSA struct {
	devs    []*attest.Simulated
	ids     []peer.PublicKeys
	genesis *membership.Membership
	record  []byte
	ca      *devca.CA
	dir     string
	// attest answers /attest; tests replace it to misbehave.
	attest func(nonce [wire.NonceSize]byte) ([]*wire.Hello, error)
}

type fakeOptions struct {
	sameChip  bool // every oracle on one simulated chip
	simulated bool // the certificate says simulated (default true)
}

func newFakeTSA(t *testing.T, o fakeOptions) *fakeTSA {
	t.Helper()
	const n, threshold = 5, 3
	f := &fakeTSA{dir: t.TempDir()}
	m := sha512.Sum384([]byte("cc-tsa attest test image"))
	floor := attest.DefaultMinimumTCB()["Milan"]
	var one *attest.Simulated
	for i := 0; i < n; i++ {
		if o.sameChip && one != nil {
			f.devs = append(f.devs, one)
		} else {
			d, err := attest.NewSimulated(attest.SimulatedConfig{Measurement: m, TCB: floor})
			if err != nil {
				t.Fatal(err)
			}
			one = d
			f.devs = append(f.devs, d)
		}
		id, err := peer.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, id.Public())
	}
	res := &coordinator.CeremonyResult{Measurement: m[:]}
	for i := 1; i <= n; i++ {
		c := wire.Challenge{Node: uint8(i)}
		rand.Read(c.Value[:])
		res.Challenges = append(res.Challenges, c)
	}
	nonce := membership.Nonce(res.Challenges)
	for i := 1; i <= n; i++ {
		h := &wire.Hello{NodeID: uint8(i), Nodes: n, Threshold: threshold, Attestation: wire.AttestationSimulated, Identity: f.ids[i-1].Marshal()}
		h.Evidence = f.evidence(t, i, h, nonce)
		res.Hellos = append(res.Hellos, h)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if res.ECDSAPublicKey, err = ek.PublicKey.Bytes(); err != nil {
		t.Fatal(err)
	}
	mpk, _, err := mldsa65.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	res.MLDSAPublicKey, _ = mpk.MarshalBinary()
	rand.Read(res.MLDSATranscript[:])
	rand.Read(res.ECDSAKeyID[:])
	if res.TranscriptHash, err = coordinator.TranscriptHash(res); err != nil {
		t.Fatal(err)
	}
	rec, err := res.Record("SIMULATED SEV-SNP")
	if err != nil {
		t.Fatal(err)
	}
	if f.record, err = rec.Marshal(); err != nil {
		t.Fatal(err)
	}
	if f.genesis, err = rec.Genesis(); err != nil {
		t.Fatal(err)
	}
	f.ca, err = devca.New("attest test")
	if err != nil {
		t.Fatal(err)
	}
	f.issue(t, "tsa-ecdsa.pem", "ca.pem", f.ca, res, !o.simulated)
	f.attest = func(nonce [wire.NonceSize]byte) ([]*wire.Hello, error) {
		var out []*wire.Hello
		for i := 1; i <= n; i++ {
			out = append(out, f.hello(t, i, i, nonce))
		}
		return out, nil
	}
	return f
}

// issue writes a TSA certificate for res's keys issued by ca (and ca's
// roots) into the test directory.
func (f *fakeTSA) issue(t *testing.T, certName, caName string, ca *devca.CA, res *coordinator.CeremonyResult, hardware bool) {
	t.Helper()
	ext, err := (&devca.Evidence{Measurement: res.Measurement, TranscriptHash: res.TranscriptHash[:], Simulated: !hardware}).Extension()
	if err != nil {
		t.Fatal(err)
	}
	name, err := tst.EncodeName([][2]string{{"CN", "attest test TSA"}})
	if err != nil {
		t.Fatal(err)
	}
	kid := func() []byte { b := make([]byte, 20); rand.Read(b); return b }
	ec, _, err := ca.IssueTSA(&devca.Subject{Name: name, ECDSAPublicKey: res.ECDSAPublicKey, MLDSAPublicKey: res.MLDSAPublicKey,
		ECDSAKeyID: kid(), MLDSAKeyID: kid(), Extensions: []devca.Extension{ext}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.dir, certName), devca.CertPEM(ec), 0o644)
	os.WriteFile(filepath.Join(f.dir, caName), ca.RootsPEM(), 0o644)
}

// evidence is device i's evidence binding h's claim and nonce.
func (f *fakeTSA) evidence(t *testing.T, i int, h *wire.Hello, nonce [wire.NonceSize]byte) []byte {
	t.Helper()
	ev, err := f.devs[i-1].Attest(attest.ReportData(membership.ClaimOf(h).Marshal(), nil, nonce[:]))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ev.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// hello is member idx's Hello (identity idx, device dev) for nonce.
func (f *fakeTSA) hello(t *testing.T, idx, dev int, nonce [wire.NonceSize]byte) *wire.Hello {
	h := &wire.Hello{NodeID: uint8(idx), Nodes: 5, Threshold: 3, Attestation: wire.AttestationSimulated,
		Cluster: f.genesis.Cluster, Identity: f.ids[idx-1].Marshal()}
	h.Evidence = f.evidence(t, dev, h, nonce)
	return h
}

// serve starts the HTTP service and returns its URL.
func (f *fakeTSA) serve(t *testing.T) string {
	srv := httptest.NewServer(tsaserver.New(tsaserver.Config{
		Ceremony: f.record,
		Attest: func(ctx context.Context, nonce [wire.NonceSize]byte) ([]*wire.Hello, error) {
			return f.attest(nonce)
		},
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *fakeTSA) run(t *testing.T, url string, args ...string) (string, error) {
	var out bytes.Buffer
	all := append([]string{"--url", url, "--cert", filepath.Join(f.dir, "tsa-ecdsa.pem"), "--ca", filepath.Join(f.dir, "ca.pem")}, args...)
	err := runAttest(context.Background(), all, &out, &out)
	return out.String(), err
}

// TestAttestGenuineCluster checks that five distinct simulated members of
// the certified ceremony pass and that the output says what was proven
// and what was not.
func TestAttestGenuineCluster(t *testing.T) {
	f := newFakeTSA(t, fakeOptions{simulated: true})
	out, err := f.run(t, f.serve(t), "--attest", "simulated")
	if err != nil {
		t.Fatalf("genuine cluster refused: %v\n%s", err, out)
	}
	for _, want := range []string{"PROVEN", "NOT PROVEN", "5 distinct oracles", "SIMULATED", "members of epoch 0", "chains to"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if c := strings.Count(out, ": evidence OK"); c != 5 {
		t.Errorf("%d evidence OK lines, want 5:\n%s", c, out)
	}
}

// TestAttestRefusals checks every way `cc-tsa attest` must fail.
func TestAttestRefusals(t *testing.T) {
	f := newFakeTSA(t, fakeOptions{simulated: true})
	url := f.serve(t)
	genuine := f.attest

	t.Run("one oracle listed five times", func(t *testing.T) {
		f.attest = func(nonce [wire.NonceSize]byte) ([]*wire.Hello, error) {
			h := f.hello(t, 1, 1, nonce)
			return []*wire.Hello{h, h, h, h, h}, nil
		}
		defer func() { f.attest = genuine }()
		if out, err := f.run(t, url, "--attest", "simulated"); err == nil {
			t.Fatalf("accepted:\n%s", out)
		}
	})
	t.Run("four of five", func(t *testing.T) {
		f.attest = func(nonce [wire.NonceSize]byte) ([]*wire.Hello, error) {
			hs, _ := genuine(nonce)
			return hs[:4], nil
		}
		defer func() { f.attest = genuine }()
		if out, err := f.run(t, url, "--attest", "simulated"); err == nil || !strings.Contains(out+err.Error(), "5") {
			t.Fatalf("accepted or unclear: %v\n%s", err, out)
		}
	})
	t.Run("another cluster", func(t *testing.T) {
		f.attest = func(nonce [wire.NonceSize]byte) ([]*wire.Hello, error) {
			var out []*wire.Hello
			for i := 1; i <= 5; i++ {
				h := &wire.Hello{NodeID: uint8(i), Nodes: 5, Threshold: 3, Attestation: wire.AttestationSimulated, Cluster: [32]byte{1}, Identity: f.ids[i-1].Marshal()}
				h.Evidence = f.evidence(t, i, h, nonce)
				out = append(out, h)
			}
			return out, nil
		}
		defer func() { f.attest = genuine }()
		if out, err := f.run(t, url, "--attest", "simulated"); err == nil {
			t.Fatalf("accepted:\n%s", out)
		}
	})
	t.Run("TCB floor above the devices", func(t *testing.T) {
		above := attest.DefaultMinimumTCB()["Milan"]
		above.Microcode++
		out, err := f.run(t, url, "--attest", "simulated", "--min-tcb-milan", above.Flag())
		if err == nil || !strings.Contains(out, "microcode") {
			t.Fatalf("accepted or unclear: %v\n%s", err, out)
		}
	})
	t.Run("hardware by default", func(t *testing.T) {
		if out, err := f.run(t, url); err == nil {
			t.Fatalf("simulated evidence accepted without --attest simulated:\n%s", out)
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		other, err := devca.New("other")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(f.dir, "other-ca.pem"), other.RootsPEM(), 0o644)
		var out bytes.Buffer
		err = runAttest(context.Background(), []string{"--url", url, "--attest", "simulated", "--cert", filepath.Join(f.dir, "tsa-ecdsa.pem"), "--ca", filepath.Join(f.dir, "other-ca.pem")}, &out, &out)
		if err == nil {
			t.Fatalf("accepted:\n%s", out.String())
		}
	})
	t.Run("no --ca", func(t *testing.T) {
		var out bytes.Buffer
		err := runAttest(context.Background(), []string{"--url", url, "--attest", "simulated", "--cert", filepath.Join(f.dir, "tsa-ecdsa.pem")}, &out, &out)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("got %v, want a usage error", err)
		}
	})
	t.Run("certificate of another ceremony", func(t *testing.T) {
		g := newFakeTSA(t, fakeOptions{simulated: true})
		var out bytes.Buffer
		err := runAttest(context.Background(), []string{"--url", url, "--attest", "simulated", "--cert", filepath.Join(g.dir, "tsa-ecdsa.pem"), "--ca", filepath.Join(g.dir, "ca.pem")}, &out, &out)
		if err == nil {
			t.Fatalf("accepted:\n%s", out.String())
		}
	})
}

// TestAttestSameChip checks that five identities on one chip are refused
// even when the ceremony record lists them.
func TestAttestSameChip(t *testing.T) {
	f := newFakeTSA(t, fakeOptions{simulated: true, sameChip: true})
	out, err := f.run(t, f.serve(t), "--attest", "simulated")
	if err == nil || !strings.Contains(out+err.Error(), "chip") {
		t.Fatalf("accepted or unclear: %v\n%s", err, out)
	}
}

// TestAttestHardwareCertificate checks that simulated evidence is refused
// for a certificate that says its oracles are not simulated.
func TestAttestHardwareCertificate(t *testing.T) {
	f := newFakeTSA(t, fakeOptions{simulated: false})
	out, err := f.run(t, f.serve(t), "--attest", "simulated")
	if err == nil || !strings.Contains(out+err.Error(), "simulated: false") {
		t.Fatalf("accepted or unclear: %v\n%s", err, out)
	}
}

// FuzzParseAttestResponse checks that the /attest decoder never panics,
// fails only with errAttestResponse, and returns 1 to wire.MaxSigners
// entries.
func FuzzParseAttestResponse(f *testing.F) {
	f.Add([]byte(`[{"node":1,"attestation":"SIMULATED","identity":"AAEC","claim":"AAEC","evidence":"AAEC"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"node":1,"extra":1}]`))
	f.Add([]byte(`[{"node":1}] []`))
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := parseAttestResponse(b)
		if err != nil {
			if !errors.Is(err, errAttestResponse) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(nodes) == 0 || len(nodes) > wire.MaxSigners {
			t.Fatalf("%d entries accepted", len(nodes))
		}
	})
}
