// Package audit keeps the TSA's append-only audit log: one record per issued
// token (serial number, genTime, policy, message imprint, signer set and a
// hash of the token), hash-chained and made durable with fsync before the
// token is released.
//
// File format (all integers big endian):
//
//	header  "CCTSA-AUDIT-1\n" (14 bytes) || log id (16 random bytes)
//	record  length u32 || body (length bytes) || hash (32 bytes)
//	hash    SHA-256("cc-tsa audit record v1" || previous hash || length || body)
//
// The first record's previous hash is SHA-256("cc-tsa audit genesis v1" ||
// log id). A record's body starts with its sequence number (0, 1, 2, …), so
// edits, reordering and removal inside the log break the chain. Removing
// records from the end leaves a shorter valid chain; the writer therefore
// keeps the latest head (sequence number and hash) in a separate file,
// replaced atomically after every commit, and Verify can also be given a
// head recorded elsewhere (for example a monitoring system's copy of
// /metrics) to detect truncation by someone who can rewrite both files.
//
// Appends are group-committed: concurrent Append calls share one write and
// one fsync.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

const (
	magic       = "CCTSA-AUDIT-1\n"
	headerSize  = len(magic) + 16
	hashSize    = sha256.Size
	maxBodySize = 4 << 10
	// maxBatch bounds the records written in one group commit.
	maxBatch = 1024
)

// Record is one issued token.
type Record struct {
	Seq       uint64    // assigned by the log
	Written   time.Time // assigned by the log
	Serial    []byte    // serialNumber content octets
	GenTime   time.Time
	Policy    []byte // DER OID
	HashAlg   []byte // DER OID of the imprint algorithm
	Imprint   []byte
	Signers   []uint8
	TokenHash [32]byte // SHA-256 of the token (DER ContentInfo)
}

func (r *Record) marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint64(r.Seq)
	b.AddUint64(uint64(r.Written.UnixNano()))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Serial) })
	b.AddUint64(uint64(r.GenTime.UnixNano()))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Policy) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.HashAlg) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Imprint) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Signers) })
	b.AddBytes(r.TokenHash[:])
	return b.Bytes()
}

func (r *Record) unmarshal(body []byte) error {
	in := cryptobyte.String(body)
	var written, gen uint64
	var serial, policy, alg, imprint, signers cryptobyte.String
	var th []byte
	if !in.ReadUint64(&r.Seq) || !in.ReadUint64(&written) || !in.ReadUint8LengthPrefixed(&serial) ||
		!in.ReadUint64(&gen) || !in.ReadUint8LengthPrefixed(&policy) || !in.ReadUint8LengthPrefixed(&alg) ||
		!in.ReadUint8LengthPrefixed(&imprint) || !in.ReadUint8LengthPrefixed(&signers) ||
		!in.ReadBytes(&th, 32) || !in.Empty() {
		return errors.New("malformed record body")
	}
	r.Written = time.Unix(0, int64(written)).UTC()
	r.GenTime = time.Unix(0, int64(gen)).UTC()
	r.Serial, r.Policy, r.HashAlg = bytes.Clone(serial), bytes.Clone(policy), bytes.Clone(alg)
	r.Imprint, r.Signers = bytes.Clone(imprint), bytes.Clone(signers)
	copy(r.TokenHash[:], th)
	return nil
}

func genesis(logID []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("cc-tsa audit genesis v1"))
	h.Write(logID)
	return [32]byte(h.Sum(nil))
}

func chain(prev [32]byte, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("cc-tsa audit record v1"))
	h.Write(prev[:])
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(body)))
	h.Write(l[:])
	h.Write(body)
	return [32]byte(h.Sum(nil))
}

// Head identifies the end of a log: the number of records and the hash of
// the last one (the genesis hash for an empty log).
type Head struct {
	Count uint64
	Hash  [32]byte
}

// String formats h as COUNT:HEX, the form ParseHead reads.
func (h Head) String() string { return fmt.Sprintf("%d:%x", h.Count, h.Hash) }

// ParseHead parses COUNT:HEX.
func ParseHead(s string) (Head, error) {
	var h Head
	var hexHash string
	if _, err := fmt.Sscanf(s, "%d:%s", &h.Count, &hexHash); err != nil {
		return h, fmt.Errorf("audit: head %q: want COUNT:HEX", s)
	}
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != hashSize {
		return h, fmt.Errorf("audit: head %q: want a 32-byte hex hash", s)
	}
	copy(h.Hash[:], b)
	return h, nil
}

// VerifyError reports where and why a log failed verification.
type VerifyError struct {
	Record uint64 // index of the first bad record
	Offset int64
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit: record %d (byte offset %d): %s", e.Record, e.Offset, e.Reason)
}

// scan reads a log from r, checks the header, every record's framing,
// sequence number and chain hash, and calls fn (if not nil) for each
// record with the head after it. It returns the head. A partial record at the end is an error
// unless allowPartialTail is set, in which case its offset is returned.
func scan(r io.Reader, fn func(rec *Record, after Head) error, allowPartialTail bool) (Head, []byte, int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:len(magic)]) != magic {
		return Head{}, nil, 0, &VerifyError{Reason: "not a CC-TSA audit log (bad header)"}
	}
	logID := bytes.Clone(hdr[len(magic):])
	head := Head{Hash: genesis(logID)}
	off := int64(headerSize)
	for {
		var l [4]byte
		n, err := io.ReadFull(br, l[:])
		if err == io.EOF {
			return head, logID, off, nil
		}
		partial := func(reason string) (Head, []byte, int64, error) {
			if allowPartialTail {
				return head, logID, off, errPartialTail
			}
			return head, logID, off, &VerifyError{Record: head.Count, Offset: off, Reason: reason}
		}
		if err != nil {
			return partial(fmt.Sprintf("truncated record length (%d bytes)", n))
		}
		size := binary.BigEndian.Uint32(l[:])
		if size == 0 || size > maxBodySize {
			return head, logID, off, &VerifyError{Record: head.Count, Offset: off, Reason: fmt.Sprintf("record length %d out of range", size)}
		}
		buf := make([]byte, int(size)+hashSize)
		if _, err := io.ReadFull(br, buf); err != nil {
			return partial("truncated record")
		}
		body, stored := buf[:size], buf[size:]
		want := chain(head.Hash, body)
		if !bytes.Equal(stored, want[:]) {
			return head, logID, off, &VerifyError{Record: head.Count, Offset: off, Reason: "hash chain broken (record edited, reordered or removed)"}
		}
		var rec Record
		if err := rec.unmarshal(body); err != nil {
			return head, logID, off, &VerifyError{Record: head.Count, Offset: off, Reason: err.Error()}
		}
		if rec.Seq != head.Count {
			return head, logID, off, &VerifyError{Record: head.Count, Offset: off, Reason: fmt.Sprintf("sequence number %d, want %d", rec.Seq, head.Count)}
		}
		head.Count++
		head.Hash = want
		if fn != nil {
			if err := fn(&rec, head); err != nil {
				return head, logID, off, err
			}
		}
		off += 4 + int64(size) + hashSize
	}
}

var errPartialTail = errors.New("audit: partial record at the end of the log")

// Verify checks the log at path. If expect is not nil, the log must end
// exactly at that head; otherwise the head file beside the log (if present)
// must match. It returns the head and calls fn for each record.
func Verify(path string, expect *Head, fn func(*Record) error) (Head, error) {
	f, err := os.Open(path)
	if err != nil {
		return Head{}, err
	}
	defer f.Close()
	var each func(*Record, Head) error
	if fn != nil {
		each = func(r *Record, _ Head) error { return fn(r) }
	}
	head, _, _, err := scan(f, each, false)
	if err != nil {
		return head, err
	}
	if expect == nil {
		if h, err := readHeadFile(path + ".head"); err == nil {
			expect = &h
		} else if !errors.Is(err, os.ErrNotExist) {
			return head, err
		}
	}
	if expect != nil {
		switch {
		case head.Count < expect.Count:
			return head, &VerifyError{Record: head.Count, Reason: fmt.Sprintf("log truncated: %d records, the recorded head has %d", head.Count, expect.Count)}
		case head.Count > expect.Count:
			// Records after the recorded head are allowed only if the head
			// lies on the chain; the caller's head may simply be older.
			if err := onChain(path, *expect); err != nil {
				return head, err
			}
		case head.Hash != expect.Hash:
			return head, &VerifyError{Record: head.Count, Reason: "log does not end at the recorded head (rewritten)"}
		}
	}
	return head, nil
}

// onChain checks that h is the head of a prefix of the log at path.
func onChain(path string, h Head) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	found := false
	_, logID, _, err := scan(f, func(_ *Record, after Head) error {
		if after.Count == h.Count {
			found = after.Hash == h.Hash
		}
		return nil
	}, false)
	if err != nil {
		return err
	}
	if h.Count == 0 {
		found = genesis(logID) == h.Hash
	}
	if !found {
		return &VerifyError{Record: h.Count, Reason: "the recorded head is not on this log's chain (rewritten)"}
	}
	return nil
}

func readHeadFile(path string) (Head, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Head{}, err
	}
	return ParseHead(string(bytes.TrimSpace(b)))
}

// Log is an open audit log. It is safe for concurrent use.
type Log struct {
	path string
	f    *os.File
	log  *slog.Logger

	mu      sync.Mutex
	head    Head
	pending []*pendingRecord
	wake    chan struct{}
	closed  bool
	err     error // sticky write error: the log refuses appends after it
	done    chan struct{}
}

type pendingRecord struct {
	rec  *Record
	done chan error
}

// Open opens or creates the log at path. An existing log is verified in
// full; a partial record at its end (a crash between write and fsync, whose
// token was therefore never released) is cut off with a warning.
func Open(path string, logger *slog.Logger) (*Log, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var head Head
	if st.Size() == 0 {
		id := make([]byte, 16)
		rand.Read(id)
		if _, err := f.Write(append([]byte(magic), id...)); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: writing header: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: fsync: %w", err)
		}
		head = Head{Hash: genesis(id)}
	} else {
		var end int64
		head, _, end, err = scan(f, nil, true)
		switch {
		case errors.Is(err, errPartialTail):
			logger.Warn("audit log ends with a partial record (crash before fsync); cutting it off", "path", path, "offset", end)
			if err := f.Truncate(end); err != nil {
				f.Close()
				return nil, fmt.Errorf("audit: truncating partial record: %w", err)
			}
		case err != nil:
			f.Close()
			return nil, fmt.Errorf("audit: existing log %s fails verification: %w", path, err)
		}
		if h, err := readHeadFile(path + ".head"); err == nil && h.Count > head.Count {
			f.Close()
			return nil, fmt.Errorf("audit: log %s has %d records but its head file says %d: truncated", path, head.Count, h.Count)
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	l := &Log{path: path, f: f, log: logger, head: head, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := l.writeHead(head); err != nil {
		f.Close()
		return nil, err
	}
	go l.run()
	return l, nil
}

// Head returns the current head.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Append records rec durably. It returns once the record is written and
// fsync'd (shared with concurrent appends), or with an error, in which case
// the token must not be released.
func (l *Log) Append(ctx context.Context, rec *Record) error {
	p := &pendingRecord{rec: rec, done: make(chan error, 1)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("audit: log closed")
	}
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return err
	}
	l.pending = append(l.pending, p)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The record may still be committed; the caller must not release
		// the token either way.
		return ctx.Err()
	}
}

func (l *Log) run() {
	defer close(l.done)
	for range l.wake {
		for {
			l.mu.Lock()
			batch := l.pending
			if len(batch) > maxBatch {
				batch = batch[:maxBatch]
			}
			l.pending = l.pending[len(batch):]
			head, sticky := l.head, l.err
			l.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			if sticky != nil {
				for _, p := range batch {
					p.done <- sticky
				}
				continue
			}
			newHead, err := l.commit(head, batch)
			l.mu.Lock()
			if err != nil {
				l.err = fmt.Errorf("audit: log unusable after failed write: %w", err)
				l.log.Error("audit log write failed; refusing further appends", "err", err)
			} else {
				l.head = newHead
			}
			l.mu.Unlock()
			for _, p := range batch {
				p.done <- err
			}
		}
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return
		}
	}
}

// commit writes a batch, fsyncs and updates the head file.
func (l *Log) commit(head Head, batch []*pendingRecord) (Head, error) {
	var buf bytes.Buffer
	now := time.Now()
	for _, p := range batch {
		p.rec.Seq, p.rec.Written = head.Count, now
		body, err := p.rec.marshal()
		if err != nil || len(body) > maxBodySize {
			return head, fmt.Errorf("encoding record %d: %v", head.Count, err)
		}
		h := chain(head.Hash, body)
		binary.Write(&buf, binary.BigEndian, uint32(len(body)))
		buf.Write(body)
		buf.Write(h[:])
		head = Head{Count: head.Count + 1, Hash: h}
	}
	if _, err := l.f.Write(buf.Bytes()); err != nil {
		return head, err
	}
	if err := l.f.Sync(); err != nil {
		return head, err
	}
	return head, l.writeHead(head)
}

// writeHead replaces the head file atomically.
func (l *Log) writeHead(h Head) error {
	tmp := l.path + ".head.tmp"
	if err := os.WriteFile(tmp, []byte(h.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("audit: head file: %w", err)
	}
	return os.Rename(tmp, l.path+".head")
}

// Close waits for pending appends and closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.wake)
	<-l.done
	return l.f.Close()
}
