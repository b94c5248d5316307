package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"
)

// TestTokens issues tokens from four concurrent clients and checks the
// RFC 3161 promises of each: serial numbers unique and positive (at most
// 160 bits), the imprint and the nonce echoed, and genTime within the
// token's stated accuracy of this machine's clock while the request was in
// flight (development oracles read the host clock).
func TestTokens(t *testing.T) {
	// Threshold tokens take several signing rounds among five processes;
	// fewer of them keep the run short on two cores.
	t.Run("single-oracle", func(t *testing.T) { testTokens(t, dev, 100) })
	t.Run("threshold-3of5", func(t *testing.T) { testTokens(t, cluster, 20) })
}

func testTokens(t *testing.T, srv *devServer, n int) {
	const workers = 4
	type result struct {
		serial string
		err    error
	}
	jobs := make(chan int)
	results := make(chan result, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s, err := oneToken(srv, i)
				results <- result{s, err}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(results)
	seen := map[string]bool{}
	for r := range results {
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		if seen[r.serial] {
			t.Errorf("serial number %s issued twice", r.serial)
		}
		seen[r.serial] = true
	}
	if len(seen) != n && !t.Failed() {
		t.Fatalf("%d distinct serials from %d tokens", len(seen), n)
	}
}

// oneToken requests one token and checks it; it returns its serial in hex.
func oneToken(srv *devServer, i int) (string, error) {
	digest := make([]byte, 48)
	rand.Read(digest)
	nonce, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	yes := true
	req := tsReq{version: 1, hashOID: oidSHA384, imprint: digest, nonce: nonce, certReq: &yes}
	if i%2 == 1 {
		req.certReq = nil
	}
	der := req.der()
	before := time.Now()
	code, body, _, err := doPost(srv.url, "POST", "/", "application/timestamp-query", der)
	after := time.Now()
	if err != nil {
		return "", fmt.Errorf("request %d: %w", i, err)
	}
	if code != 200 {
		return "", fmt.Errorf("request %d: HTTP %d", i, code)
	}
	resp, err := parseResp(body)
	if err != nil || resp.status != 0 || resp.token == nil {
		return "", fmt.Errorf("request %d: %+v %v", i, resp, err)
	}
	sd, err := parseToken(resp.token)
	if err != nil {
		return "", fmt.Errorf("request %d: %v", i, err)
	}
	if (sd.certs > 0) != (req.certReq != nil) {
		return "", fmt.Errorf("request %d: %d certificates, certReq %v", i, sd.certs, req.certReq != nil)
	}
	f, err := parseTSTInfo(sd.eContent)
	if err != nil {
		return "", fmt.Errorf("request %d: %v", i, err)
	}
	rq, err := reqFields(der)
	if err != nil {
		return "", err
	}
	switch {
	case !bytes.Equal(f.imprint, rq.imprint):
		return "", fmt.Errorf("request %d: imprint not echoed", i)
	case f.nonce == nil || f.nonce.Cmp(nonce) != 0:
		return "", fmt.Errorf("request %d: nonce %v, sent %v", i, f.nonce, nonce)
	case f.serial.Sign() <= 0 || f.serial.BitLen() > 160:
		return "", fmt.Errorf("request %d: serial %v not a positive integer of at most 160 bits", i, f.serial)
	case f.accuracy <= 0:
		return "", fmt.Errorf("request %d: no accuracy in the TSTInfo", i)
	}
	// genTime has microsecond precision: allow that much rounding on top
	// of the stated accuracy.
	slack := f.accuracy + time.Microsecond
	if f.genTime.Before(before.Add(-slack)) || f.genTime.After(after.Add(slack)) {
		return "", fmt.Errorf("request %d: genTime %v ± %v outside the request's flight %v .. %v",
			i, f.genTime, f.accuracy, before.UTC(), after.UTC())
	}
	return f.serial.Text(16), nil
}
