package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterFaultTolerance starts its own 3-of-5 cluster, refreshes its
// ECDSA shares (cc-tsa node refresh), and kills its oracle processes one by
// one: with two of five gone every request must
// still be granted, and the tokens must verify with openssl, cc-tsa verify
// --require-pq and the Node.js verifier; with three gone the TSA must
// answer not ready (503) and refuse with systemFailure in an HTTP 200
// TimeStampResp, and still exit 0 on SIGTERM. Its audit log must hold the
// three tokens, each signed by the three surviving oracles.
func TestClusterFaultTolerance(t *testing.T) {
	openssl := needTool(t, "openssl")
	dir, err := filepath.Abs(filepath.Join(t.TempDir(), "cluster"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := startDev(ccTSA, dir, threshold3of5...)
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
	var pids, ids []int // oracle process ids and their node ids
	for _, m := range regexp.MustCompile(`oracle process started" node=(\d+) pid=(\d+)`).FindAllStringSubmatch(s.log(), -1) {
		id, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		if !isOracleOf(pid, dir) {
			t.Fatalf("process %d is not an oracle of %s", pid, dir)
		}
		pids, ids = append(pids, pid), append(ids, id)
	}
	if len(pids) != 5 {
		t.Fatalf("%d oracle processes in the log, want 5:\n%s", len(pids), s.log())
	}
	readyOracles := func() (int, int) {
		code, body, _ := post(t, s, "GET", "/readyz", "", nil)
		var rep struct {
			ReadyN int `json:"ready_oracles"`
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("/readyz: HTTP %d: %v\n%s", code, err, body)
		}
		return code, rep.ReadyN
	}
	// waitReady polls /readyz until it reports want ready oracles. The
	// loop is bounded (30 s) only so that a TSA that never notices fails
	// the test instead of hanging it; the coordinator polls every 2 s.
	waitReady := func(want int) int {
		var code, n int
		for i := 0; i < 600; i++ {
			if code, n = readyOracles(); n == want {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n != want {
			t.Fatalf("/readyz reports %d ready oracles, want %d", n, want)
		}
		return code
	}
	kill := func(pid int) {
		if !isOracleOf(pid, dir) {
			t.Fatalf("process %d is no longer an oracle of %s", pid, dir)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	if code := waitReady(5); code != 200 {
		t.Fatalf("/readyz with five oracles: HTTP %d", code)
	}
	// With all five live, the operator refreshes the ECDSA shares; every
	// token below is signed with the refreshed shares under the same
	// certificate key.
	if out := mustRun(t, dir, ccTSA, "node", "refresh", "--url", s.url); !strings.Contains(out, "refreshed on every member") {
		t.Fatalf("cc-tsa node refresh:\n%s", out)
	}
	if !strings.Contains(s.log(), "ECDSA shares refreshed on every member") {
		t.Fatalf("the TSA did not log the refresh:\n%s", s.log())
	}

	kill(pids[0])
	kill(pids[3])
	ca := s.file("ca.pem")
	var resps [][]byte
	for i := 0; i < 3; i++ {
		work := t.TempDir()
		data := writeFile(t, filepath.Join(work, "data.bin"), []byte(rand.Text()))
		q, r := filepath.Join(work, "q.tsq"), filepath.Join(work, "r.tsr")
		mustRun(t, work, openssl, "ts", "-query", "-data", data, "-sha384", "-cert", "-out", q)
		resp := timestamp(t, s, readFile(t, q))
		granted(t, resp)
		writeFile(t, r, resp)
		resps = append(resps, resp)
		if out := mustRun(t, work, openssl, "ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", ca); !strings.Contains(out, "Verification: OK") {
			t.Fatalf("openssl ts -verify with two oracles down:\n%s", out)
		}
		if out := mustRun(t, work, ccTSA, "verify", "--in", r, "--data", data, "--ca", ca, "--require-pq"); !strings.Contains(out, "Verification: OK") {
			t.Fatalf("cc-tsa verify with two oracles down:\n%s", out)
		}
		if i == 0 && os.Getenv("CC_TSA_SKIP_NODE") != "1" {
			node, script := nodeVerifier(t)
			if out, code := run(t, work, node, script, "--ca", ca, "--data", data, "--expect", "hybrid", r); code != 0 {
				t.Fatalf("verify-token.mjs with two oracles down:\n%s", out)
			}
		}
	}
	if code := waitReady(3); code != 200 {
		t.Fatalf("/readyz with three of five oracles: HTTP %d, want 200", code)
	}

	kill(pids[1])
	if code := waitReady(2); code != 503 {
		t.Fatalf("/readyz with two of five oracles: HTTP %d, want 503", code)
	}
	for i := 0; i < 2; i++ {
		r, err := parseResp(timestamp(t, s, goodReq().der()))
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 2 || r.token != nil || len(r.failInfo) != 1 || r.failInfo[0] != systemFailure {
			t.Fatalf("request with three oracles down: status %d, failInfo %v, %q; want rejection/systemFailure", r.status, r.failInfo, r.statusText)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatalf("cc-tsa dev (cluster) exited with %v on SIGTERM after losing three oracles:\n%s", err, s.log())
	}
	for _, pid := range pids {
		if isOracleOf(pid, dir) {
			t.Fatalf("oracle %d still runs after cc-tsa dev exited", pid)
		}
	}

	// The audit log holds exactly the three tokens, each signed by the
	// three surviving oracles.
	recs := auditLog(t, s)
	checkAudited(t, recs, resps)
	alive := []int{ids[1], ids[2], ids[4]}
	sort.Ints(alive)
	survivors := fmt.Sprint(alive)
	for i, r := range recs {
		got := append([]int(nil), r.Signers...)
		sort.Ints(got)
		if fmt.Sprint(got) != survivors {
			t.Errorf("audit record %d: signers %v, want the surviving oracles %s", i, r.Signers, survivors)
		}
	}
	checkAuditTamper(t, s)
}
