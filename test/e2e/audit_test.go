package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// auditRecord is one line of `cc-tsa audit verify --list`.
type auditRecord struct {
	Serial    string `json:"serial"`
	TokenHash string `json:"token_hash"`
	Signers   []int  `json:"signers"`
}

// auditLog runs `cc-tsa audit verify --list` on the audit log of a stopped
// TSA and returns its records; the log must verify.
func auditLog(t *testing.T, s *devServer) []auditRecord {
	t.Helper()
	out := mustRun(t, t.TempDir(), ccTSA, "audit", "verify", "--list", "--log", s.file("audit.log"))
	if !strings.Contains(out, ": OK, ") {
		t.Fatalf("cc-tsa audit verify:\n%s", out)
	}
	var recs []auditRecord
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r auditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit record %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkAudited checks that recs are exactly the tokens in resps, in order:
// same serial, token_hash = SHA-256(token DER).
func checkAudited(t *testing.T, recs []auditRecord, resps [][]byte) {
	t.Helper()
	if len(recs) != len(resps) {
		t.Fatalf("audit log has %d records, the TSA issued %d tokens", len(recs), len(resps))
	}
	for i, resp := range resps {
		tok := granted(t, resp).token
		sd, err := parseToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseTSTInfo(sd.eContent)
		if err != nil {
			t.Fatal(err)
		}
		serial, ok := new(big.Int).SetString(recs[i].Serial, 16)
		if !ok || serial.Cmp(f.serial) != 0 {
			t.Errorf("audit record %d: serial %s, token %d has %x", i, recs[i].Serial, i, f.serial)
		}
		if h := sha256.Sum256(tok); recs[i].TokenHash != hex.EncodeToString(h[:]) {
			t.Errorf("audit record %d: token_hash %s, SHA-256 of token %d is %x", i, recs[i].TokenHash, i, h)
		}
	}
}

// checkAuditTamper checks that `cc-tsa audit verify` rejects the log with
// one flipped byte and with its last record cut off.
func checkAuditTamper(t *testing.T, s *devServer) {
	t.Helper()
	log := readFile(t, s.file("audit.log"))
	head := readFile(t, s.file("audit.log.head"))
	for name, bad := range map[string][]byte{
		"flipped byte": func() []byte { b := bytes.Clone(log); b[len(b)/2] ^= 0x01; return b }(),
		"truncated":    log[:len(log)-40],
	} {
		dir := t.TempDir()
		p := writeFile(t, filepath.Join(dir, "audit.log"), bad)
		if err := os.WriteFile(p+".head", head, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run(t, dir, ccTSA, "audit", "verify", "--log", p); code == 0 {
			t.Fatalf("cc-tsa audit verify accepted the audit log with a %s:\n%s", name, out)
		}
	}
}
