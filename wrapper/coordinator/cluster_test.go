package coordinator_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/audit"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/cc-tsa/cc-tsa/wrapper/tsaserver"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

func request(t *testing.T, url, policy string) ([]byte, []byte) {
	t.Helper()
	data := make([]byte, 32)
	rand.Read(data)
	d := sha512.Sum384(data)
	q, err := rfc3161.EncodeRequest(&rfc3161.Request{HashAlg: wire.SHA384, Imprint: d[:], Nonce: []byte{0x42}, CertReq: true}, policy)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return body, data
}

// issue requests one token and verifies it with the cluster's roots.
func issue(t *testing.T, c *testtsa.Cluster, policy string) *tsverify.Result {
	t.Helper()
	body, data := request(t, c.HTTP.URL, policy)
	opts := c.Options()
	opts.Data, opts.RequirePQ = data, true
	res, err := tsverify.VerifyResponse(body, opts)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return res
}

func readyz(t *testing.T, url string) (int, tsaserver.ReadyReport) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep tsaserver.ReadyReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, rep
}

// waitReady waits (boundedly) until n oracles are ready again.
func waitReady(t *testing.T, c *testtsa.Cluster, n int) {
	t.Helper()
	for i := 0; i < 600; i++ {
		c.Coordinator.Poll(context.Background())
		if len(c.Coordinator.ReadyNodes()) >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("fewer than %d oracles ready after waiting", n)
}

// TestCluster runs one 3-of-5 cluster through the life the issue asks for:
// tokens of both policies from threshold signatures, every signer subset in
// use, a lying oracle excluded and named, two oracles down, then three.
func TestCluster(t *testing.T) {
	c := testtsa.StartCluster(t, 5, 3)
	ev, err := devca.ParseEvidence(c.ECDSACert)
	if err != nil || !bytes.Equal(ev.TranscriptHash, c.Ceremony.TranscriptHash[:]) || !ev.Simulated {
		t.Fatalf("attestation evidence extension: %+v %v", ev, err)
	}

	t.Run("both policies", func(t *testing.T) {
		if res := issue(t, c, ""); !res.ECDSA || !res.MLDSA {
			t.Fatalf("hybrid token: %+v", res)
		}
		if res := issue(t, c, tst.OIDPolicyMLDSA); res.ECDSA || !res.MLDSA {
			t.Fatalf("ML-DSA token: %+v", res)
		}
	})

	t.Run("presignature batches", func(t *testing.T) {
		set := c.Coordinator.ReadyNodes()[:3]
		before := presignatures(t, set)
		made, err := coordinator.PresignBatch(c.Coordinator, context.Background(), set, wire.MaxPresignBatch)
		if err != nil || len(made) != wire.MaxPresignBatch {
			t.Fatalf("batch of %d: %d ids, %v", wire.MaxPresignBatch, len(made), err)
		}
		seen := map[wire.PresignID]bool{}
		for _, id := range made {
			seen[id] = true
		}
		if len(seen) != len(made) {
			t.Fatalf("batch ids are not distinct: %x", made)
		}
		for i, n := range presignatures(t, set) {
			if n < before[i]+wire.MaxPresignBatch {
				t.Errorf("node %d holds %d presignatures after a batch of %d (had %d)", set[i].ID(), n, wire.MaxPresignBatch, before[i])
			}
		}
		for _, n := range []int{0, wire.MaxPresignBatch + 1} {
			if _, err := coordinator.PresignBatch(c.Coordinator, context.Background(), set, n); err == nil || !strings.Contains(err.Error(), "presignature batch") {
				t.Errorf("batch of %d: %v", n, err)
			}
		}
	})

	t.Run("every signer subset is used", func(t *testing.T) {
		sets := map[string]bool{}
		for i := 0; i < 80 && len(sets) < 10; i++ {
			issue(t, c, "")
		}
		if _, err := audit.Verify(c.AuditPath, nil, func(r *audit.Record) error {
			sets[string(r.Signers)] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(sets) != 10 {
			t.Fatalf("%d of the 10 signer subsets used", len(sets))
		}
	})

	t.Run("lying oracle is excluded and named", func(t *testing.T) {
		c.Clocks[1].SetOffset(time.Hour) // node 2 believes it is an hour later
		for i := 0; i < 12; i++ {
			issue(t, c, "")
		}
		h := c.Coordinator.Nodes()[1].Health()
		if h.Failures == 0 && !h.Benched {
			t.Fatalf("node 2 lied about time and was never blamed: %+v", h)
		}
		_, rep := readyz(t, c.HTTP.URL)
		if rep.Nodes[1].LastFailure == "" {
			t.Fatalf("/readyz does not name node 2's failure: %+v", rep.Nodes[1])
		}
		for i, n := range c.Coordinator.Nodes() {
			if i != 1 && n.Health().Benched {
				t.Fatalf("honest node %d set aside: %+v", i+1, n.Health())
			}
		}
		c.Clocks[1].SetOffset(0)
		// Node 2 comes back once its backoff ends and a session succeeds.
		waitReady(t, c, 5)
	})

	t.Run("two oracles down", func(t *testing.T) {
		c.Cancel[3]()
		c.Cancel[4]()
		c.Coordinator.Poll(context.Background())
		for i := 0; i < 3; i++ {
			res := issue(t, c, "")
			if !res.ECDSA || !res.MLDSA {
				t.Fatal("incomplete token")
			}
		}
		code, rep := readyz(t, c.HTTP.URL)
		if code != 200 || rep.ReadyN != 3 {
			t.Fatalf("/readyz %d with 3 oracles: %+v", code, rep)
		}
	})

	t.Run("replace the two dead oracles", func(t *testing.T) {
		before := c.Audit.Head().Count
		// One at a time: node 4 while node 5 is still dead, then node 5.
		if err := c.Replace(t, 4); err != nil {
			t.Fatal(err)
		}
		issue(t, c, "")
		before4 := sharings(t, c.Coordinator.Nodes()[:3])
		if err := c.Replace(t, 5); err != nil {
			t.Fatal(err)
		}
		waitReady(t, c, 5)
		// With every member live again, the replacement refreshed the
		// ECDSA shares: all five agree on a new sharing.
		after := sharings(t, c.Coordinator.Nodes())
		for i, s := range after {
			if s != after[0] || s == before4[0] {
				t.Fatalf("node %d: sharing %x after the replacement (before %x, node 1 %x)", i+1, s[:4], before4[0][:4], after[0][:4])
			}
		}
		// An operator's refresh, on a live cluster, changes it again.
		if err := c.Coordinator.RefreshShares(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := sharings(t, c.Coordinator.Nodes()); s[0] == after[0] || s[4] != s[0] {
			t.Fatal("RefreshShares did not refresh every member")
		}
		// The replacements sign with the same keys: their tokens verify
		// under the same pinned certificates (issue checks that).
		used := map[uint8]bool{}
		for i := 0; i < 60 && !(used[4] && used[5]); i++ {
			issue(t, c, "")
			if _, err := audit.Verify(c.AuditPath, nil, func(r *audit.Record) error {
				if r.Seq >= before {
					for _, id := range r.Signers {
						used[id] = true
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !used[4] || !used[5] {
			t.Fatalf("replacement oracles never signed: %v", used)
		}
	})

	t.Run("three oracles down", func(t *testing.T) {
		c.Cancel[3]()
		c.Cancel[4]()
		c.Cancel[2]()
		c.Coordinator.Poll(context.Background())
		body, _ := request(t, c.HTTP.URL, "")
		_, err := tsverify.ParseResponse(body)
		se, ok := err.(*tsverify.StatusError)
		if !ok || se.Status != 2 || len(se.FailInfo) != 1 || se.FailInfo[0] != int(rfc3161.SystemFailure) {
			t.Fatalf("with two oracles: %v", err)
		}
		if code, rep := readyz(t, c.HTTP.URL); code != 503 || rep.Ready {
			t.Fatalf("/readyz %d with two oracles", code)
		}
		if err := c.Replace(t, 3, 4, 5); err == nil {
			t.Fatal("re-shared from two live oracles")
		}
	})
	st := c.Coordinator.Stats()
	t.Logf("sessions %d, ML-DSA attempts %d, retries %d, presignatures %d (inline %d), relayed %d bytes",
		st.Sessions.Load(), st.MLDSAAttempts.Load(), st.Retries.Load(), st.Presignatures.Load(), st.InlinePresigns.Load(), st.RelayedBytes.Load())
}

// sharings returns the ECDSA sharing digest each node of set reports.
func sharings(t *testing.T, set []*coordinator.Node) [][32]byte {
	t.Helper()
	out := make([][32]byte, len(set))
	for i, n := range set {
		st, err := n.Client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = st.ECDSASharing
	}
	return out
}

// presignatures returns how many presignatures each node of set holds.
func presignatures(t *testing.T, set []*coordinator.Node) []int {
	t.Helper()
	out := make([]int, len(set))
	for i, n := range set {
		st, err := n.Client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = int(st.Presignatures)
	}
	return out
}

// TestIdleAttempts issues tokens one at a time with two ML-DSA attempts
// running at once (Config.IdleAttempts = 2): every token verifies, a lone
// session starts at least two attempts, and the losing attempt leaves
// nothing behind that would stop the next session.
func TestIdleAttempts(t *testing.T) {
	c := testtsa.StartCluster(t, 5, 3, func(cfg *coordinator.Config) { cfg.IdleAttempts = 2 })
	st := c.Coordinator.Stats()
	att0, sess0 := st.MLDSAAttempts.Load(), st.Sessions.Load()
	const n = 12
	for i := 0; i < n; i++ {
		if res := issue(t, c, ""); !res.ECDSA || !res.MLDSA {
			t.Fatalf("token %d: %+v", i, res)
		}
	}
	sessions, attempts := st.Sessions.Load()-sess0, st.MLDSAAttempts.Load()-att0
	if sessions != n || attempts < 2*n {
		t.Errorf("%d sessions started %d ML-DSA attempts; want %d sessions and at least two attempts each", sessions, attempts, n)
	}
	// More concurrent attempts than the oracles allow is refused.
	cfg := coordinator.Config{Nodes: c.Coordinator.ReadyNodes(), Threshold: 3, ECDSACert: c.ECDSACert, MLDSACert: c.MLDSACert, IdleAttempts: coordinator.MaxConcurrentAttempts + 1}
	if _, err := coordinator.New(cfg); err == nil || !strings.Contains(err.Error(), "idle attempts") {
		t.Errorf("IdleAttempts %d: %v", cfg.IdleAttempts, err)
	}
}
