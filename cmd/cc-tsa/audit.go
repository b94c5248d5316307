package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cc-tsa/cc-tsa/wrapper/audit"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return usagef("usage: cc-tsa audit verify --log PATH [--head COUNT:HEX] [--list]")
	}
	fs := newFlagSet("audit verify", stderr)
	path := fs.String("log", ".cc-tsa-dev/audit.log", "audit log to verify")
	headStr := fs.String("head", "", "expected head COUNT:HEX recorded elsewhere (default: the .head file beside the log)")
	list := fs.Bool("list", false, "print every record as a JSON line")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var expect *audit.Head
	if *headStr != "" {
		h, err := audit.ParseHead(*headStr)
		if err != nil {
			return usageError{err}
		}
		expect = &h
	}
	enc := json.NewEncoder(stdout)
	head, err := audit.Verify(*path, expect, func(r *audit.Record) error {
		if !*list {
			return nil
		}
		signers := make([]int, len(r.Signers))
		for i, id := range r.Signers {
			signers[i] = int(id)
		}
		return enc.Encode(map[string]any{
			"seq":        r.Seq,
			"written":    r.Written.Format(time.RFC3339Nano),
			"serial":     hex.EncodeToString(r.Serial),
			"gen_time":   r.GenTime.Format(time.RFC3339Nano),
			"policy":     hex.EncodeToString(r.Policy),
			"hash_alg":   hex.EncodeToString(r.HashAlg),
			"imprint":    hex.EncodeToString(r.Imprint),
			"signers":    signers,
			"token_hash": hex.EncodeToString(r.TokenHash[:]),
		})
	})
	if err != nil {
		return fmt.Errorf("audit log %s: %w", *path, err)
	}
	fmt.Fprintf(stderr, "audit log %s: OK, %d records, head %s\n", *path, head.Count, head)
	return nil
}
