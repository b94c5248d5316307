package tsaserver_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/audit"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

func query(t *testing.T, policy string, certReq bool) ([]byte, []byte) {
	t.Helper()
	data := make([]byte, 100)
	rand.Read(data)
	d := sha512.Sum384(data)
	der, err := rfc3161.EncodeRequest(&rfc3161.Request{HashAlg: wire.SHA384, Imprint: d[:], Nonce: []byte{0x12, 0x34}, CertReq: certReq}, policy)
	if err != nil {
		t.Fatal(err)
	}
	return der, data
}

func post(t *testing.T, url, ctype string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestIssueAndVerify(t *testing.T) {
	s := testtsa.Start(t)
	for _, c := range []struct {
		name    string
		policy  string
		certReq bool
		ecdsa   bool
	}{
		{"hybrid default", "", true, true},
		{"hybrid explicit, no certs", tst.OIDPolicyHybrid, false, true},
		{"ML-DSA only", tst.OIDPolicyMLDSA, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, data := query(t, c.policy, c.certReq)
			for _, path := range []string{"/", "/tsa"} {
				resp, body := post(t, s.HTTP.URL+path, "application/timestamp-query", q)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/timestamp-reply" {
					t.Fatalf("%s: HTTP %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				opts := s.Options()
				opts.Data, opts.RequirePQ = data, true
				if !c.certReq {
					opts.Certs = nil
					if _, err := tsverify.VerifyResponse(body, opts); err == nil {
						t.Fatal("token without certificates verified without them")
					}
					opts = s.Options()
					opts.Data, opts.RequirePQ = data, true
				}
				res, err := tsverify.VerifyResponse(body, opts)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if res.ECDSA != c.ecdsa || !res.MLDSA || !res.ImprintChecked || res.Info.Nonce.Int64() != 0x1234 {
					t.Fatalf("%s: result %+v", path, res)
				}
			}
		})
	}
}

// failInfo parses a rejection response and returns its failInfo bit.
func failInfo(t *testing.T, body []byte) int {
	t.Helper()
	_, err := tsverify.ParseResponse(body)
	se, ok := err.(*tsverify.StatusError)
	if !ok {
		t.Fatalf("not a refusal: %v", err)
	}
	if se.Status != 2 || len(se.FailInfo) != 1 {
		t.Fatalf("status %d failInfo %v", se.Status, se.FailInfo)
	}
	return se.FailInfo[0]
}

func TestHTTPRefusals(t *testing.T) {
	s := testtsa.Start(t)
	good, _ := query(t, "", false)
	sha1 := []byte{0x30, 0x24, 0x02, 0x01, 0x01, 0x30, 0x1f, 0x30, 0x07, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x04, 0x14}
	sha1 = append(sha1, make([]byte, 20)...)
	for _, c := range []struct {
		name, method, ctype string
		body                []byte
		code                int
		fail                int // -1: no TimeStampResp expected
	}{
		{"GET", "GET", "", nil, 405, -1},
		{"PUT", "PUT", "application/timestamp-query", good, 405, -1},
		{"wrong content type", "POST", "application/octet-stream", good, 415, -1},
		{"no content type", "POST", "", good, 415, -1},
		{"too large", "POST", "application/timestamp-query", make([]byte, tsaserver.MaxBody+1), 413, -1},
		{"empty", "POST", "application/timestamp-query", nil, 200, int(rfc3161.BadDataFormat)},
		{"garbage", "POST", "application/timestamp-query", []byte("GET / HTTP/1.1"), 200, int(rfc3161.BadDataFormat)},
		{"SHA-1", "POST", "application/timestamp-query", sha1, 200, int(rfc3161.BadAlg)},
		{"trailing", "POST", "application/timestamp-query", append(bytes.Clone(good), 0), 200, int(rfc3161.BadDataFormat)},
		{"content type with params", "POST", "application/timestamp-query; charset=binary", good, 200, -2},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, s.HTTP.URL+"/", bytes.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, c.code)
			}
			switch c.fail {
			case -1:
			case -2:
				if _, err := tsverify.ParseResponse(body); err != nil {
					t.Fatalf("not granted: %v", err)
				}
			default:
				if got := failInfo(t, body); got != c.fail {
					t.Fatalf("failInfo %d, want %d", got, c.fail)
				}
			}
		})
	}
	resp, _ := post(t, s.HTTP.URL+"/", "application/timestamp-query", good)
	if resp.StatusCode != 200 {
		t.Fatal("server stopped serving after refusals")
	}
}

func TestUntrustedTime(t *testing.T) {
	s := testtsa.Start(t)
	q, _ := query(t, "", false)
	s.Clock.SetTrusted(false)
	// The oracle itself refuses, even while the coordinator still believes it ready.
	_, body := post(t, s.HTTP.URL+"/", "application/timestamp-query", q)
	if got := failInfo(t, body); got != int(rfc3161.TimeNotAvailable) {
		t.Fatalf("failInfo %d, want timeNotAvailable", got)
	}
	s.Coordinator.Poll(t.Context())
	resp, _ := http.Get(s.HTTP.URL + "/readyz")
	if resp.StatusCode != 503 {
		t.Fatalf("/readyz %d with untrusted time", resp.StatusCode)
	}
	_, body = post(t, s.HTTP.URL+"/", "application/timestamp-query", q)
	if got := failInfo(t, body); got != int(rfc3161.SystemFailure) {
		t.Fatalf("failInfo %d without quorum, want systemFailure", got)
	}
	s.Clock.SetTrusted(true)
	s.Coordinator.Poll(t.Context())
	_, body = post(t, s.HTTP.URL+"/", "application/timestamp-query", q)
	if _, err := tsverify.VerifyResponse(body, s.Options()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	s := testtsa.Start(t)
	q, _ := query(t, "", false)
	post(t, s.HTTP.URL+"/", "application/timestamp-query", q)
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/certs":   "-----BEGIN CERTIFICATE-----",
		"/metrics": `cc_tsa_requests_total{fail_info="",status="granted"} 1`,
	} {
		resp, err := http.Get(s.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: HTTP %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(s.HTTP.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var rep tsaserver.ReadyReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz: %d %v", resp.StatusCode, err)
	}
	if !rep.Ready || rep.ReadyN != 1 || len(rep.Nodes) != 1 || !strings.Contains(rep.Nodes[0].Mode, "NOT THRESHOLD") {
		t.Fatalf("/readyz report %+v", rep)
	}
}

func TestAuditLogMatchesTokens(t *testing.T) {
	s := testtsa.Start(t)
	hashes := map[[32]byte]bool{}
	for i := 0; i < 5; i++ {
		q, _ := query(t, "", i%2 == 0)
		_, body := post(t, s.HTTP.URL+"/", "application/timestamp-query", q)
		tok, err := tsverify.ParseResponse(body)
		if err != nil {
			t.Fatal(err)
		}
		hashes[sha256.Sum256(tok)] = true
	}
	// Refusals leave no record.
	post(t, s.HTTP.URL+"/", "application/timestamp-query", []byte("junk"))
	n := 0
	if _, err := audit.Verify(s.AuditPath, nil, func(r *audit.Record) error {
		if !hashes[r.TokenHash] {
			t.Errorf("record %d names a token that was not issued", r.Seq)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(hashes) {
		t.Fatalf("%d records for %d tokens", n, len(hashes))
	}
	// Without a durable record there is no token.
	s.Audit.Close()
	q, _ := query(t, "", false)
	_, body := post(t, s.HTTP.URL+"/", "application/timestamp-query", q)
	if got := failInfo(t, body); got != int(rfc3161.SystemFailure) {
		t.Fatalf("failInfo %d with a closed audit log", got)
	}
}

// TestCeremonyEndpoint checks that GET /ceremony serves the configured
// ceremony record verbatim, and is absent without one.
func TestCeremonyEndpoint(t *testing.T) {
	rec := []byte(`{"transcript_hash":"00"}` + "\n")
	for _, tc := range []struct {
		rec  []byte
		code int
	}{{rec, 200}, {nil, 404}} {
		srv := httptest.NewServer(tsaserver.New(tsaserver.Config{Ceremony: tc.rec}))
		resp, err := http.Get(srv.URL + "/ceremony")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tc.code || (tc.code == 200 && (!bytes.Equal(b, rec) || resp.Header.Get("Content-Type") != "application/json")) {
			t.Fatalf("record %q: HTTP %d %q %q", tc.rec, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
}
