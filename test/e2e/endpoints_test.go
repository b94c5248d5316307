package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
)

// TestEndpoints checks /healthz, /readyz, /metrics and /certs.
func TestEndpoints(t *testing.T) { forEachMode(t, testEndpoints) }

func testEndpoints(t *testing.T, srv *devServer) {
	t.Run("healthz", func(t *testing.T) {
		code, body, _ := post(t, srv, "GET", "/healthz", "", nil)
		if code != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Fatalf("/healthz: HTTP %d %q", code, body)
		}
	})

	t.Run("readyz", func(t *testing.T) {
		code, body, ct := post(t, srv, "GET", "/readyz", "", nil)
		if code != 200 || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("/readyz: HTTP %d %q: %s", code, ct, body)
		}
		var rep struct {
			Ready     bool   `json:"ready"`
			Mode      string `json:"mode"`
			Simulated bool   `json:"attestation_simulated"`
			Threshold int    `json:"threshold"`
			ReadyN    int    `json:"ready_oracles"`
			Oracles   []struct {
				Ready bool `json:"ready"`
			} `json:"oracles"`
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("/readyz is not JSON: %v\n%s", err, body)
		}
		ready := 0
		for _, o := range rep.Oracles {
			if o.Ready {
				ready++
			}
		}
		switch srv {
		case dev:
			if !rep.Ready || rep.Threshold != 1 || rep.ReadyN != 1 || len(rep.Oracles) != 1 || ready != 1 {
				t.Fatalf("/readyz of the single-oracle TSA:\n%s", body)
			}
			if !strings.Contains(string(body), "NOT THRESHOLD") {
				t.Fatalf("/readyz does not say the single-oracle mode is NOT THRESHOLD:\n%s", body)
			}
		case cluster:
			if !rep.Ready || rep.Threshold != 3 || rep.ReadyN != 5 || len(rep.Oracles) != 5 || ready != 5 {
				t.Fatalf("/readyz of the 3-of-5 cluster:\n%s", body)
			}
			if strings.Contains(string(body), "NOT THRESHOLD") || !strings.Contains(rep.Mode, "3-of-5 threshold") {
				t.Fatalf("/readyz mode of the 3-of-5 cluster:\n%s", body)
			}
			if !rep.Simulated || !strings.Contains(rep.Mode, "SIMULATED") {
				t.Fatalf("/readyz of a development cluster must say its attestation is simulated:\n%s", body)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		granted0 := requestsMetric(t, srv, `status="granted"`)
		badAlg0 := requestsMetric(t, srv, `status="rejection"`, `fail_info="badAlg"`)
		granted(t, timestamp(t, srv, goodReq().der()))
		r := goodReq()
		d := sha1.Sum([]byte("x"))
		r.hashOID, r.imprint = oidSHA1, d[:]
		if resp, err := parseResp(timestamp(t, srv, r.der())); err != nil || resp.status != 2 {
			t.Fatalf("SHA-1 request: %+v %v", resp, err)
		}
		if _, body, _ := post(t, srv, "GET", "/metrics", "", nil); !bytes.Contains(body, []byte("\ncc_tsa_requests_total{")) {
			t.Fatalf("/metrics lacks cc_tsa_requests_total after two requests:\n%s", body)
		}
		if g := requestsMetric(t, srv, `status="granted"`); g != granted0+1 {
			t.Errorf("granted requests went from %d to %d after one token", granted0, g)
		}
		if b := requestsMetric(t, srv, `status="rejection"`, `fail_info="badAlg"`); b != badAlg0+1 {
			t.Errorf("badAlg rejections went from %d to %d after one SHA-1 request", badAlg0, b)
		}
		if srv == cluster {
			// The coordinator's per-stage session time is exposed and has
			// grown for every stage a hybrid token goes through.
			_, body, _ := post(t, srv, "GET", "/metrics", "", nil)
			for _, stage := range []string{"propose", "begin", "mldsa", "attach", "ecdsa", "verify"} {
				prefix := `cc_tsa_session_stage_seconds_total{stage="` + stage + `"} `
				i := bytes.Index(body, []byte("\n"+prefix))
				if i < 0 {
					t.Errorf("/metrics lacks %s", prefix)
					continue
				}
				line, _, _ := strings.Cut(string(body[i+1+len(prefix):]), "\n")
				if v, err := strconv.ParseFloat(line, 64); err != nil || v <= 0 {
					t.Errorf("%s%s: want a positive number of seconds (%v)", prefix, line, err)
				}
			}
		}
	})

	t.Run("certs", func(t *testing.T) {
		code, body, _ := post(t, srv, "GET", "/certs", "", nil)
		if code != 200 {
			t.Fatalf("/certs: HTTP %d", code)
		}
		var got [][]byte
		for rest := body; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				t.Fatalf("/certs has a %q PEM block", b.Type)
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatalf("/certs certificate %d does not parse: %v", len(got), err)
			}
			got = append(got, b.Bytes)
		}
		var want [][]byte
		for _, f := range []string{"tsa-ecdsa.pem", "tsa-mldsa.pem", "ca.pem"} {
			for rest := readFile(t, srv.file(f)); ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				want = append(want, b.Bytes)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("/certs has %d certificates, want %d (TSA ECDSA, TSA ML-DSA, two roots)", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("/certs certificate %d differs from the PEM files in --dir", i)
			}
		}
		ec, err := x509.ParseCertificate(got[0])
		if err != nil || ec.PublicKeyAlgorithm != x509.ECDSA || len(ec.ExtKeyUsage) != 1 || ec.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
			t.Fatalf("first /certs certificate is not an ECDSA time-stamping certificate: %v", err)
		}
	})
}

// requestsMetric returns the value of the cc_tsa_requests_total series
// whose labels contain all of labels, or 0 if there is none yet.
func requestsMetric(t *testing.T, srv *devServer, labels ...string) int {
	t.Helper()
	code, body, _ := post(t, srv, "GET", "/metrics", "", nil)
	if code != 200 {
		t.Fatalf("/metrics: HTTP %d", code)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cc_tsa_requests_total{") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		return int(v)
	}
	return 0
}

// TestBench runs `cc-tsa bench` against each TSA (200 tokens from the
// single oracle, 20 from the slower threshold cluster).
func TestBench(t *testing.T) {
	for _, m := range []struct {
		name string
		srv  *devServer
		n    string
	}{{"single-oracle", dev, "200"}, {"threshold-3of5", cluster, "20"}} {
		t.Run(m.name, func(t *testing.T) {
			out := mustRun(t, t.TempDir(), ccTSA, "bench", "--url", m.srv.url, "-n", m.n, "-c", "4", "--quiet")
			for _, want := range []string{"tokens/s", "tokens: " + m.n + ",", "failed: 0"} {
				if !strings.Contains(out, want) {
					t.Fatalf("cc-tsa bench output lacks %q:\n%s", want, out)
				}
			}
			t.Logf("cc-tsa bench -n %s -c 4 (%s, hybrid, certReq):\n%s", m.n, m.name, out)
		})
	}
}
