package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func record(i int) *Record {
	return &Record{
		Serial:    []byte{0x40, byte(i >> 8), byte(i)},
		GenTime:   time.Unix(1_800_000_000, int64(i)*1000),
		Policy:    []byte{0x06, 0x01, 0x01},
		HashAlg:   []byte{0x06, 0x01, 0x02},
		Imprint:   bytes.Repeat([]byte{byte(i)}, 32),
		Signers:   []uint8{1, 3, 5},
		TokenHash: sha256.Sum256([]byte(fmt.Sprint(i))),
	}
}

// writeLog appends n records concurrently and returns the path.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.Append(context.Background(), record(i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h := l.Head(); h.Count != uint64(n) {
		t.Fatalf("head count %d, want %d", h.Count, n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAppendAndVerify(t *testing.T) {
	path := writeLog(t, 200)
	seen := map[string]bool{}
	head, err := Verify(path, nil, func(r *Record) error {
		seen[string(r.Serial)] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if head.Count != 200 || len(seen) != 200 {
		t.Fatalf("head %v, %d distinct records", head, len(seen))
	}
	// Reopening continues the same chain.
	l, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(context.Background(), record(999)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if h, err := Verify(path, nil, nil); err != nil || h.Count != 201 {
		t.Fatalf("after reopen: %v %v", h, err)
	}
}

func recordOffsets(t *testing.T, data []byte) []int {
	var offs []int
	off := headerSize
	for off < len(data) {
		offs = append(offs, off)
		n := int(data[off])<<24 | int(data[off+1])<<16 | int(data[off+2])<<8 | int(data[off+3])
		off += 4 + n + hashSize
	}
	return offs
}

func TestTamperingDetected(t *testing.T) {
	path := writeLog(t, 20)
	orig, _ := os.ReadFile(path)
	offs := recordOffsets(t, orig)
	var ve *VerifyError
	check := func(name string, data []byte, removeHead bool, expect *Head) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "audit.log")
		os.WriteFile(p, data, 0o600)
		if !removeHead {
			h, _ := os.ReadFile(path + ".head")
			os.WriteFile(p+".head", h, 0o600)
		}
		if _, err := Verify(p, expect, nil); !errors.As(err, &ve) {
			t.Errorf("%s: not detected (%v)", name, err)
		}
	}
	// Edit one byte in every record in turn.
	for i, o := range offs {
		d := bytes.Clone(orig)
		d[o+10] ^= 1
		check(fmt.Sprintf("edit record %d", i), d, false, nil)
	}
	// Swap records 3 and 4.
	d := append(bytes.Clone(orig[:offs[3]]), orig[offs[4]:offs[5]]...)
	d = append(d, orig[offs[3]:offs[4]]...)
	d = append(d, orig[offs[5]:]...)
	check("reorder", d, false, nil)
	// Remove record 7.
	check("remove", append(bytes.Clone(orig[:offs[7]]), orig[offs[8]:]...), false, nil)
	// Truncate at a record boundary: caught by the head file...
	check("truncate", orig[:offs[15]], false, nil)
	// ...and, if the head file is gone too, by a head recorded elsewhere.
	full, _ := Verify(path, nil, nil)
	check("truncate with head file removed", orig[:offs[15]], true, &full)
	// A partial record is malformed for Verify.
	check("partial tail", orig[:len(orig)-5], false, nil)
	// A header from elsewhere.
	d = bytes.Clone(orig)
	d[len(magic)] ^= 1
	check("log id", d, false, nil)

	// An older head recorded elsewhere is accepted while the log only grew.
	var old Head
	Verify(path, nil, func(r *Record) error { return nil })
	f, _ := os.Open(path)
	scan(f, func(r *Record, after Head) error {
		if after.Count == 5 {
			old = after
		}
		return nil
	}, false)
	f.Close()
	if _, err := Verify(path, &old, nil); err != nil {
		t.Errorf("older genuine head refused: %v", err)
	}
	old.Hash[0] ^= 1
	if _, err := Verify(path, &old, nil); err == nil {
		t.Error("forged older head accepted")
	}
}

func TestPartialTailCutOnOpen(t *testing.T) {
	path := writeLog(t, 5)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-7], 0o600)
	os.Remove(path + ".head")
	l, err := Open(path, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if h := l.Head(); h.Count != 4 {
		t.Fatalf("head %v after cutting the partial record", h)
	}
	l.Append(context.Background(), record(50))
	l.Close()
	if h, err := Verify(path, nil, nil); err != nil || h.Count != 5 {
		t.Fatalf("%v %v", h, err)
	}
}

func TestOpenRefusesTruncatedLog(t *testing.T) {
	path := writeLog(t, 10)
	data, _ := os.ReadFile(path)
	offs := recordOffsets(t, data)
	os.WriteFile(path, data[:offs[6]], 0o600)
	if _, err := Open(path, quiet()); err == nil {
		t.Fatal("opened a log shorter than its head file")
	}
}

func TestHeadRoundTrip(t *testing.T) {
	h := Head{Count: 42, Hash: sha256.Sum256([]byte("x"))}
	g, err := ParseHead(h.String())
	if err != nil || g != h {
		t.Fatalf("%v %v", g, err)
	}
	for _, s := range []string{"", "1", "x:00", "1:zz", "1:00"} {
		if _, err := ParseHead(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.log")
	l, _ := Open(path, quiet())
	for i := 0; i < 3; i++ {
		l.Append(context.Background(), record(i))
	}
	l.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add(seed[:headerSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "a.log")
		os.WriteFile(p, data, 0o600)
		Verify(p, nil, nil)
	})
}
