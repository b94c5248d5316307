package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	in := fs.String("in", "", "TimeStampResp (or bare token, with --token) to verify, DER")
	bare := fs.Bool("token", false, "the input is a bare token (ContentInfo), not a TimeStampResp")
	dataFile := fs.String("data", "", "the time-stamped file")
	digestHex := fs.String("digest", "", "the time-stamped digest, hex (instead of --data)")
	caFile := fs.String("ca", "", "trust anchors, PEM (ECDSA P-384 root and ML-DSA-65 root, e.g. ca.pem)")
	var certsFiles multiFlag
	fs.Var(&certsFiles, "certs", "further certificates, PEM (TSA certificates for tokens issued without certReq); repeatable")
	nonceHex := fs.String("nonce", "", "expected nonce, hex")
	requirePQ := fs.Bool("require-pq", false, "accepted for compatibility: the ML-DSA-65 half is now always required (the token's policy decides what must be present)")
	classicalOnly := fs.Bool("classical-only", false, "accept a hybrid-policy token whose ML-DSA-65 half is absent, on ECDSA P-384 alone: NO post-quantum protection")
	pqOnly := fs.Bool("pq-only", false, "accept the ML-DSA-65 token of a hybrid-policy token on its own (with --token), without the classical ECDSA half")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" || *caFile == "" {
		return usagef("--in and --ca are required")
	}
	if (*dataFile == "") == (*digestHex == "") {
		return usagef("give exactly one of --data and --digest")
	}
	if *requirePQ && *classicalOnly {
		return usagef("--require-pq and --classical-only contradict each other")
	}
	opts := &tsverify.Options{ClassicalOnly: *classicalOnly, PQOnly: *pqOnly}
	var err error
	if opts.Roots, err = readCerts(*caFile); err != nil {
		return err
	}
	for _, f := range certsFiles {
		certs, err := readCerts(f)
		if err != nil {
			return err
		}
		opts.Certs = append(opts.Certs, certs...)
	}
	if *dataFile != "" {
		if opts.Data, err = os.ReadFile(*dataFile); err != nil {
			return err
		}
	} else if opts.Digest, err = hex.DecodeString(*digestHex); err != nil {
		return usagef("--digest: %v", err)
	}
	if *nonceHex != "" {
		n, ok := new(big.Int).SetString(strings.TrimPrefix(*nonceHex, "0x"), 16)
		if !ok {
			return usagef("--nonce: not hex")
		}
		opts.Nonce = n
	}
	der, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var res *tsverify.Result
	if *bare {
		res, err = tsverify.VerifyToken(der, opts)
	} else {
		res, err = tsverify.VerifyResponse(der, opts)
	}
	if err != nil {
		var se *tsverify.StatusError
		if errors.As(err, &se) {
			return fmt.Errorf("verification failed: the response is a refusal: %s (failInfo %s)", joinOr(se.StatusText, "no reason given"), failNames(se.FailInfo))
		}
		return fmt.Errorf("verification failed: %w", err)
	}
	info := res.Info
	switch {
	case res.ClassicalOnly:
		fmt.Fprintf(stdout, "Verification: OK, CLASSICAL ONLY (--classical-only): NO post-quantum protection\n")
	case res.PQOnly:
		fmt.Fprintf(stdout, "Verification: OK, ML-DSA-65 ONLY (--pq-only): the hybrid policy's ECDSA P-384 half was not checked\n")
	default:
		fmt.Fprintf(stdout, "Verification: OK\n")
	}
	fmt.Fprintf(stdout, "  genTime:   %s (accuracy ±%v)\n", info.GenTime.Format(time.RFC3339Nano), info.Accuracy)
	fmt.Fprintf(stdout, "  serial:    %s\n", info.Serial.Text(16))
	fmt.Fprintf(stdout, "  policy:    %s\n", res.Policy)
	if info.Nonce != nil {
		fmt.Fprintf(stdout, "  nonce:     %s\n", info.Nonce.Text(16))
	}
	if res.ECDSA {
		fmt.Fprintf(stdout, "  ECDSA P-384: signature and chain OK, signer %q\n", res.ECDSASigner.Subject.String())
	} else if res.PQOnly {
		fmt.Fprintf(stdout, "  ECDSA P-384: absent (the ML-DSA-65 token alone; accepted only because of --pq-only)\n")
	}
	switch {
	case res.MLDSA:
		fmt.Fprintf(stdout, "  ML-DSA-65:   signature and chain OK, signer %q\n", res.MLDSASigner.Subject.String())
		if res.ECDSA {
			fmt.Fprintf(stdout, "  binding:     ML-DSA token is bound by the ECDSA signature (SHA-512), same TSTInfo\n")
		}
	case res.ClassicalOnly:
		fmt.Fprintf(stdout, "  ML-DSA-65:   ABSENT, accepted only because of --classical-only. This token has no\n")
		fmt.Fprintf(stdout, "               post-quantum protection: anyone able to forge ECDSA P-384 (a quantum\n")
		fmt.Fprintf(stdout, "               adversary, or a break of the threshold ECDSA) could have made it.\n")
	}
	return nil
}
