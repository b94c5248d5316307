package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runNodeReplace asks a development TSA (on loopback) to replace oracle N
// with a fresh process that receives its shares from three live oracles.
func runNodeReplace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node replace", stderr)
	url := fs.String("url", "http://127.0.0.1:8318/", "the development TSA's URL (loopback only)")
	id := fs.Int("id", 0, "node id to replace")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id < 1 || *id > 6 {
		return usagef("--id: a node id is required")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	fmt.Fprintf(stderr, "replacing node %d (re-share, pairwise setups, key confirmation)…\n", *id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/admin/replace?node=%d", strings.TrimSuffix(*url, "/"), *id), nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	fmt.Fprint(stdout, string(b))
	return nil
}
