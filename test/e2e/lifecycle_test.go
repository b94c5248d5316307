package e2e

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startSecondDev starts another single-oracle TSA for a test that will
// disturb it, and returns it with the pid of its oracle process. The TSA
// is stopped at the end of the test unless the test stopped it.
func startSecondDev(t *testing.T) (*devServer, int) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(t.TempDir(), "dev"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := startDev(ccTSA, dir, singleOracle...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-s.waited:
		default:
			s.stop()
		}
	})
	m := regexp.MustCompile(`oracle process started.* pid=(\d+)`).FindStringSubmatch(s.log())
	if m == nil {
		t.Fatalf("no oracle pid in the log:\n%s", s.log())
	}
	pid, _ := strconv.Atoi(m[1])
	if !isOracleOf(pid, dir) {
		t.Fatalf("process %d is not an oracle of %s", pid, dir)
	}
	return s, pid
}

// isOracleOf reports whether pid is a running `cc-tsa node` of the TSA
// whose --dir is dir (a zombie's cmdline is empty).
func isOracleOf(pid int, dir string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return bytes.Contains(cmdline, []byte("\x00node\x00")) && bytes.Contains(cmdline, []byte(dir+"/"))
}

// TestLifecycle starts a second TSA, uses it, stops it with SIGTERM and
// checks that it exits 0, stops its oracle process and frees its port, and
// that its audit log holds exactly the tokens it issued.
func TestLifecycle(t *testing.T) {
	s, oraclePID := startSecondDev(t)
	for _, f := range []string{"ca.pem", "tsa-ecdsa.pem", "tsa-mldsa.pem"} {
		if _, err := os.Stat(s.file(f)); err != nil {
			t.Fatalf("cc-tsa dev did not write %s: %v", f, err)
		}
	}
	if !strings.Contains(s.stdout.String(), "NOT THRESHOLD") || !strings.Contains(s.log(), "NOT THRESHOLD") {
		t.Fatalf("development mode is not labelled NOT THRESHOLD:\nstdout:\n%s\nstderr:\n%s", s.stdout.String(), s.log())
	}
	r := filepath.Join(t.TempDir(), "r.tsr")
	out := mustRun(t, t.TempDir(), ccTSA, "request", "--url", s.url, "--digest", strings.Repeat("ab", 48), "--out", r)
	if !strings.Contains(out, "wrote ") {
		t.Fatalf("cc-tsa request against the second TSA:\n%s", out)
	}
	resps := [][]byte{readFile(t, r)}
	for i := 0; i < 2; i++ {
		resps = append(resps, timestamp(t, s, goodReq().der()))
	}
	// A refusal is not a token: it must not be in the audit log.
	bad := goodReq()
	bad.version = 2
	if r, err := parseResp(timestamp(t, s, bad.der())); err != nil || r.status != 2 {
		t.Fatalf("version 2 request: %+v %v", r, err)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("cc-tsa dev exited with %v on SIGTERM:\n%s", err, s.log())
	}
	// The oracle child was waited for before cc-tsa dev exited: it is gone
	// (or its pid now belongs to an unrelated process).
	if isOracleOf(oraclePID, s.dir) {
		t.Fatalf("oracle process %d still runs after cc-tsa dev exited", oraclePID)
	}
	if c, err := net.Dial("tcp", s.addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after cc-tsa dev exited", s.addr)
	}

	// Every token was written to the hash-chained audit log before it was
	// released, with its signer; tampering with the log is detected.
	recs := auditLog(t, s)
	checkAudited(t, recs, resps)
	for i, r := range recs {
		if len(r.Signers) != 1 || r.Signers[0] != 1 {
			t.Errorf("audit record %d: signers %v, want [1] (the single oracle)", i, r.Signers)
		}
	}
	checkAuditTamper(t, s)
}

// TestOracleDown kills the oracle process of a second TSA: the TSA must
// report itself not ready (503), refuse requests with systemFailure in an
// HTTP 200 TimeStampResp (never a 5xx, never a token), keep answering, and
// still exit 0 on SIGTERM.
func TestOracleDown(t *testing.T) {
	s, oraclePID := startSecondDev(t)
	if code, _, _ := post(t, s, "GET", "/readyz", "", nil); code != 200 {
		t.Fatalf("/readyz before the kill: HTTP %d", code)
	}
	if err := syscall.Kill(oraclePID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Wait until the TSA notices: its connection to the oracle closes as
	// the kernel tears the process down, and its status poll (every 2 s)
	// fails. The loop is bounded (30 s) only so that a TSA that never
	// notices fails the test instead of hanging it.
	var code int
	var body []byte
	for i := 0; i < 600; i++ {
		if code, body, _ = post(t, s, "GET", "/readyz", "", nil); code == 503 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 503 || !strings.Contains(string(body), `"ready": false`) {
		t.Fatalf("/readyz after the oracle died: HTTP %d\n%s", code, body)
	}
	for i := 0; i < 3; i++ {
		code, resp, ct := post(t, s, "POST", "/", "application/timestamp-query", goodReq().der())
		if code != 200 || ct != "application/timestamp-reply" {
			t.Fatalf("request %d with the oracle dead: HTTP %d %q: %s", i, code, ct, resp)
		}
		r, err := parseResp(resp)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 2 || r.token != nil || len(r.failInfo) != 1 || r.failInfo[0] != systemFailure {
			t.Fatalf("request %d with the oracle dead: status %d, failInfo %v, %q; want rejection/systemFailure", i, r.status, r.failInfo, r.statusText)
		}
	}
	if code, _, _ := post(t, s, "GET", "/healthz", "", nil); code != 200 {
		t.Fatalf("/healthz with the oracle dead: HTTP %d (the process itself is alive)", code)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("cc-tsa dev exited with %v on SIGTERM after losing its oracle:\n%s", err, s.log())
	}
}
