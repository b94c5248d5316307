package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// ccTSA is the cc-tsa binary built by TestMain; dev and cluster are the
// two TSAs it started for the whole run.
var (
	ccTSA   string
	dev     *devServer // `cc-tsa dev --nodes 1 --threshold 1`: one oracle, whole keys
	cluster *devServer // `cc-tsa dev --nodes 5 --threshold 3`: the product's 3-of-5 threshold signing
)

// mode is one way of running the TSA.
type mode struct {
	name string
	srv  *devServer
}

// modes returns both TSAs, for tests that run against each.
func modes() []mode {
	return []mode{{"single-oracle", dev}, {"threshold-3of5", cluster}}
}

// forEachMode runs f as a subtest against each TSA.
func forEachMode(t *testing.T, f func(t *testing.T, srv *devServer)) {
	for _, m := range modes() {
		t.Run(m.name, func(t *testing.T) { f(t, m.srv) })
	}
}

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "cc-tsa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if bin := os.Getenv("CC_TSA_BIN"); bin != "" {
		// A prebuilt binary, e.g. the one CI or `make build` produced.
		ccTSA, err = filepath.Abs(bin)
	} else {
		ccTSA, err = buildCCTSA(tmp)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cc-tsa:", err)
		return 1
	}
	// Start both TSAs at once: the threshold cluster's key ceremony takes
	// a few seconds.
	var clusterErr error
	clusterUp := make(chan struct{})
	go func() {
		defer close(clusterUp)
		cluster, clusterErr = startDev(ccTSA, filepath.Join(tmp, "cluster"), threshold3of5...)
	}()
	dev, err = startDev(ccTSA, filepath.Join(tmp, "dev"), singleOracle...)
	<-clusterUp
	code := 1
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "e2e: starting cc-tsa dev (single oracle):", err)
	case clusterErr != nil:
		fmt.Fprintln(os.Stderr, "e2e: starting cc-tsa dev (3-of-5 threshold):", clusterErr)
	default:
		code = m.Run()
	}
	for _, m := range modes() {
		if m.srv == nil {
			continue
		}
		if err := m.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: cc-tsa dev (%s) did not stop cleanly on SIGTERM: %v\n%s\n", m.name, err, m.srv.log())
			code = 1
		}
	}
	return code
}

// buildCCTSA builds ../../cmd/cc-tsa into dir.
func buildCCTSA(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	cmdDir, err := filepath.Abs(filepath.Join("..", "..", "cmd"))
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "cc-tsa")
	c := exec.Command(goBin, "build", "-o", out, "./cc-tsa")
	c.Dir = cmdDir
	if b, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, b)
	}
	return out, nil
}

// devServer is one running `cc-tsa dev`.
type devServer struct {
	cmd     *exec.Cmd
	addr    string // 127.0.0.1:PORT
	url     string // http://127.0.0.1:PORT/
	dir     string // --dir: ca.pem, tsa-ecdsa.pem, tsa-mldsa.pem
	logPath string // its stderr
	stdout  bytes.Buffer
	waited  chan struct{}
	waitErr error
}

var servingLine = regexp.MustCompile(`^cc-tsa dev: serving http://(\S+)/`)

// singleOracle are the `cc-tsa dev` flags of the single-oracle development
// mode: one oracle process with whole keys, labelled NOT THRESHOLD.
var singleOracle = []string{"--nodes", "1", "--threshold", "1"}

// threshold3of5 are the flags of the product's configuration: five oracle
// processes, three signers per token (simulated attestation in dev).
var threshold3of5 = []string{"--nodes", "5", "--threshold", "3"}

// startDev starts `cc-tsa dev --listen 127.0.0.1:0 --dir dir [args]` and
// waits for its "serving" line. It returns an error if the process exits
// first.
func startDev(bin, dir string, args ...string) (*devServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &devServer{dir: dir, logPath: dir + ".log", waited: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	s.cmd = exec.Command(bin, append([]string{"dev", "--listen", "127.0.0.1:0", "--dir", dir}, args...)...)
	s.cmd.Stderr = logf
	dieWithParent(s.cmd)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		s.stdout.WriteString(sc.Text() + "\n")
		if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
			s.addr = m[1]
			break
		}
	}
	if s.addr == "" {
		io.Copy(io.Discard, stdout)
		err := s.cmd.Wait()
		return nil, fmt.Errorf("exited (%v) before serving; stdout:\n%s\nstderr:\n%s", err, s.stdout.String(), s.log())
	}
	go func() {
		io.Copy(io.Discard, stdout)
		s.waitErr = s.cmd.Wait()
		close(s.waited)
	}()
	host, _, err := net.SplitHostPort(s.addr)
	if err != nil || host != "127.0.0.1" {
		s.stop()
		return nil, fmt.Errorf("serving on %q, want 127.0.0.1:PORT", s.addr)
	}
	s.url = "http://" + s.addr + "/"
	return s, nil
}

// stop sends SIGTERM to exactly this process and waits for it; it returns
// nil only if the process exited with status 0.
func (s *devServer) stop() error {
	select {
	case <-s.waited:
		return fmt.Errorf("had already exited: %v", s.waitErr)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	<-s.waited
	return s.waitErr
}

// log returns what the server wrote to stderr so far.
func (s *devServer) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// file returns the path of a file the server wrote into its --dir.
func (s *devServer) file(name string) string { return filepath.Join(s.dir, name) }

// run runs a command and returns its combined output and exit code. It
// fails the test if the command could not be run at all.
func run(t *testing.T, dir, name string, args ...string) (string, int) {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ee.Exited():
		return string(out), ee.ExitCode()
	}
	t.Fatalf("running %s %q: %v\n%s", name, args, err, out)
	return "", -1
}

// mustRun runs a command and fails the test unless it exits 0.
func mustRun(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	out, code := run(t, dir, name, args...)
	if code != 0 {
		t.Fatalf("%s %q exited %d:\n%s", name, args, code, out)
	}
	return out
}

// needTool returns the path of a tool the test needs, failing the test if
// it is not installed (CI installs every one of them).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed by this test and is not installed: %v", name, err)
	}
	return p
}

// post sends body to srv and returns the HTTP status code, the response
// body and its Content-Type.
func post(t *testing.T, srv *devServer, method, path, contentType string, body []byte) (int, []byte, string) {
	t.Helper()
	code, b, ct, err := doPost(srv.url, method, path, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, b, ct
}

// doPost is post without a *testing.T, for use from any goroutine.
func doPost(base, method, path, contentType string, body []byte) (int, []byte, string, error) {
	u, err := url.JoinPath(base, path)
	if err != nil {
		return 0, nil, "", err
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, "", fmt.Errorf("%s %s: reading body: %w", method, u, err)
	}
	return resp.StatusCode, b, resp.Header.Get("Content-Type"), nil
}

// timestamp POSTs a DER TimeStampReq and returns the TimeStampResp,
// failing the test unless the answer is HTTP 200 application/timestamp-reply.
func timestamp(t *testing.T, srv *devServer, query []byte) []byte {
	t.Helper()
	code, body, ct := post(t, srv, http.MethodPost, "/", "application/timestamp-query", query)
	if code != http.StatusOK || ct != "application/timestamp-reply" {
		t.Fatalf("POST /: HTTP %d, Content-Type %q: %s", code, ct, body[:min(len(body), 200)])
	}
	return body
}

// granted parses resp and fails the test unless it grants a token.
func granted(t *testing.T, resp []byte) *tsResp {
	t.Helper()
	r, err := parseResp(resp)
	if err != nil {
		t.Fatalf("parsing TimeStampResp: %v", err)
	}
	if r.status != 0 || r.token == nil || r.hasFail {
		t.Fatalf("TimeStampResp status %d, failInfo %v, text %q, token %d bytes; want granted", r.status, r.failInfo, r.statusText, len(r.token))
	}
	return r
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
