package e2e

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// BenchmarkTimestamp measures one client's round trip for a hybrid token
// (SHA-384 imprint, nonce, certReq) against each TSA, HTTP over loopback
// included, and checks every answer is granted.
//
//	cd test && go test ./e2e -run '^$' -bench Timestamp -benchtime 50x
func BenchmarkTimestamp(b *testing.B) {
	for _, m := range modes() {
		b.Run(m.name, func(b *testing.B) {
			yes := true
			digest := make([]byte, 48)
			for b.Loop() {
				rand.Read(digest)
				nonce, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
				der := tsReq{version: 1, hashOID: oidSHA384, imprint: digest, nonce: nonce, certReq: &yes}.der()
				code, body, _, err := doPost(m.srv.url, "POST", "/", "application/timestamp-query", der)
				if err != nil || code != 200 {
					b.Fatalf("HTTP %d: %v", code, err)
				}
				if r, err := parseResp(body); err != nil || r.status != 0 {
					b.Fatalf("not granted: %+v %v", r, err)
				}
			}
		})
	}
}
