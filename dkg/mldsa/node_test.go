package mldsa

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNobleVerify signs with every 3-subset of a 3-of-5 key (and once for a
// spread of other shapes) and has @noble/post-quantum's ml_dsa65.verify check
// each signature (and reject a tampered copy) through
// test/js/verify-mldsa.mjs. It runs only with
// CC_TSA_NODE_VERIFY=1 and node on PATH.
func TestNobleVerify(t *testing.T) {
	if os.Getenv("CC_TSA_NODE_VERIFY") != "1" {
		t.Skip("CC_TSA_NODE_VERIFY=1 not set: skipping the @noble/post-quantum cross-check")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH: skipping the @noble/post-quantum cross-check")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "test", "js", "verify-mldsa.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("verifier script: %v", err)
	}
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	field := func(b []byte) string {
		if len(b) == 0 {
			return "-"
		}
		return hex.EncodeToString(b)
	}
	var sb strings.Builder
	sets := setsOf(3, 5)
	for i, signers := range sets {
		msg := []byte(fmt.Sprintf("noble cross-check %d %v", i, signers))
		var ctx []byte
		if i%3 == 2 {
			ctx = []byte("ctx")
		}
		sig, _ := sign(t, pk, shares, signers, msg, ctx)
		fmt.Fprintf(&sb, "%s %s %s %s\n", field(pk.Bytes()), field(msg), field(ctx), field(sig))
	}
	// A spread of other shapes (one signature each).
	shapes := [][2]int{{2, 2}, {2, 3}, {3, 4}, {2, 5}, {5, 5}, {3, 6}, {6, 6}}
	if !testing.Short() {
		shapes = append(shapes, [2]int{4, 5})
	}
	for _, sh := range shapes {
		pk2, shares2, err := GenerateKey(rand.Reader, sh[0], sh[1])
		if err != nil {
			t.Fatal(err)
		}
		set := setsOf(sh[0], sh[1])
		signers := set[len(set)-1]
		msg := []byte(fmt.Sprintf("noble cross-check %d-of-%d", sh[0], sh[1]))
		sig, _ := sign(t, pk2, shares2, signers, msg, []byte("shape"))
		fmt.Fprintf(&sb, "%s %s %s %s\n", field(pk2.Bytes()), field(msg), field([]byte("shape")), field(sig))
	}
	total := len(sets) + len(shapes)
	file := filepath.Join(t.TempDir(), "sigs.txt")
	if err := os.WriteFile(file, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, file)
	cmd.Dir = filepath.Dir(script)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("noble verification failed: %v", err)
	}
	want := fmt.Sprintf("ok=%d bad=0 tampered-rejected=%d tampered-accepted=0", total, total)
	if !strings.Contains(string(out), want) {
		t.Fatalf("unexpected verifier output, want %q", want)
	}
}
