package coordinator_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"io"
	"net/http"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/devca"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
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

func TestClusterIssuesThresholdTokens(t *testing.T) {
	c := testtsa.StartCluster(t, 5, 3)
	ev, err := devca.ParseEvidence(c.ECDSACert)
	if err != nil || !bytes.Equal(ev.TranscriptHash, c.Ceremony.TranscriptHash[:]) || !ev.Simulated {
		t.Fatalf("attestation evidence extension: %+v %v", ev, err)
	}
	seen := map[string]bool{}
	for i := 0; i < 12; i++ {
		policy := ""
		if i%4 == 3 {
			policy = tst.OIDPolicyMLDSA
		}
		body, data := request(t, c.HTTP.URL, policy)
		opts := c.Options()
		opts.Data, opts.RequirePQ = data, true
		res, err := tsverify.VerifyResponse(body, opts)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if !res.MLDSA || res.ECDSA != (policy == "") {
			t.Fatalf("token %d: %+v", i, res)
		}
	}
	_ = seen
	st := c.Coordinator.Stats()
	t.Logf("sessions %d, ML-DSA attempts %d, presignatures %d, inline presigns %d, relayed %d bytes",
		st.Sessions.Load(), st.MLDSAAttempts.Load(), st.Presignatures.Load(), st.InlinePresigns.Load(), st.RelayedBytes.Load())
}
