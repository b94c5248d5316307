package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

var hashNames = map[string]wire.HashAlg{
	"sha256": wire.SHA256, "sha384": wire.SHA384, "sha512": wire.SHA512,
	"sha3-256": wire.SHA3_256, "sha3-384": wire.SHA3_384, "sha3-512": wire.SHA3_512,
}

// digestOf hashes data with h.
func digestOf(h wire.HashAlg, data []byte) ([]byte, error) {
	oid, err := tst.HashOID(h)
	if err != nil {
		return nil, err
	}
	hh, err := tsverify.HashFor(oid)
	if err != nil {
		return nil, err
	}
	hh.Write(data)
	return hh.Sum(nil), nil
}

// randomNonce returns a fresh positive 63-bit nonce as INTEGER content
// octets (minimal encoding: the top octet is never zero).
func randomNonce() []byte {
	b := make([]byte, 8)
	rand.Read(b)
	b[0] = b[0]&0x3f | 0x40
	return b
}

func runRequest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("request", stderr)
	url := fs.String("url", "http://127.0.0.1:8318/", "TSA URL")
	dataFile := fs.String("data", "", "file to time-stamp")
	digestHex := fs.String("digest", "", "hex digest to time-stamp (instead of --data)")
	hashName := fs.String("hash", "sha384", "hash algorithm: sha256, sha384, sha512, sha3-256, sha3-384, sha3-512")
	policy := fs.String("policy", "", "TSA policy OID (default: the TSA's hybrid policy "+tst.OIDPolicyHybrid+"; "+tst.OIDPolicyMLDSA+" for ML-DSA-65 only)")
	noNonce := fs.Bool("no-nonce", false, "send no nonce")
	noCerts := fs.Bool("no-certs", false, "do not ask for certificates in the token (certReq false)")
	out := fs.String("out", "", "where to write the TimeStampResp (DER)")
	timeout := fs.Duration("timeout", 30*time.Second, "HTTP timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h, ok := hashNames[*hashName]
	if !ok {
		return usagef("--hash %q: unsupported", *hashName)
	}
	if *out == "" {
		return usagef("--out is required")
	}
	var digest []byte
	switch {
	case *dataFile != "" && *digestHex != "":
		return usagef("give --data or --digest, not both")
	case *dataFile != "":
		data, err := os.ReadFile(*dataFile)
		if err != nil {
			return err
		}
		if digest, err = digestOf(h, data); err != nil {
			return err
		}
	case *digestHex != "":
		var err error
		if digest, err = hex.DecodeString(*digestHex); err != nil || len(digest) != h.Size() {
			return usagef("--digest: want %d bytes of hex for %s", h.Size(), *hashName)
		}
	default:
		return usagef("--data or --digest is required")
	}
	req := &rfc3161.Request{HashAlg: h, Imprint: digest, CertReq: !*noCerts}
	if !*noNonce {
		req.Nonce = randomNonce()
	}
	der, err := rfc3161.EncodeRequest(req, *policy)
	if err != nil {
		return err
	}
	resp, err := postQuery(ctx, *url, der, *timeout)
	if err != nil {
		return err
	}
	tok, err := tsverify.ParseResponse(resp)
	if err != nil {
		var se *tsverify.StatusError
		if errors.As(err, &se) {
			return fmt.Errorf("the TSA refused: %s (failInfo %s)", joinOr(se.StatusText, "no reason given"), failNames(se.FailInfo))
		}
		return err
	}
	// Check that the response answers this request before saving it;
	// `cc-tsa verify` checks signatures and chains.
	info, err := tsverify.TokenInfo(tok)
	if err != nil {
		return err
	}
	if req.Nonce != nil && (info.Nonce == nil || info.Nonce.Cmp(new(big.Int).SetBytes(req.Nonce)) != 0) {
		return errors.New("the response's nonce does not match the request's")
	}
	if !bytes.Equal(info.Imprint, digest) {
		return errors.New("the response's message imprint does not match the request's")
	}
	if err := os.WriteFile(*out, resp, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes): serial %s, genTime %s, accuracy %v\n",
		*out, len(resp), info.Serial.Text(16), info.GenTime.Format(time.RFC3339Nano), info.Accuracy)
	return nil
}

func postQuery(ctx context.Context, url string, der []byte, timeout time.Duration) ([]byte, error) {
	return postQueryWith(ctx, http.DefaultClient, url, der, timeout)
}

// postQueryWith POSTs a TimeStampReq and returns the TimeStampResp body.
func postQueryWith(ctx context.Context, client *http.Client, url string, der []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(der))
	if err != nil {
		return nil, usagef("--url: %v", err)
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	hresp, err := client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, tsverify.MaxTokenSize+1))
	if err != nil {
		return nil, err
	}
	if hresp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("TSA answered HTTP %s: %s", hresp.Status, bytes.TrimSpace(body[:min(len(body), 200)]))
	}
	if mt, _, _ := mime.ParseMediaType(hresp.Header.Get("Content-Type")); mt != "application/timestamp-reply" {
		return nil, fmt.Errorf("TSA answered with Content-Type %q, want application/timestamp-reply", hresp.Header.Get("Content-Type"))
	}
	return body, nil
}

func joinOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	out := s[0]
	for _, x := range s[1:] {
		out += "; " + x
	}
	return out
}

func failNames(bits []int) string {
	if len(bits) == 0 {
		return "none"
	}
	out := ""
	for i, b := range bits {
		if i > 0 {
			out += ","
		}
		out += rfc3161.FailureInfo(b).String()
	}
	return out
}
