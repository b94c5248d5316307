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
	fmt.Fprintf(stderr, "replacing node %d (membership change, re-share, share refresh when all are live, pairwise setups, key confirmation)…\n", *id)
	return postAdmin(ctx, fmt.Sprintf("%s/admin/replace?node=%d", strings.TrimSuffix(*url, "/"), *id), stdout)
}

// runNodeRefresh asks a TSA (on loopback) to refresh the ECDSA shares of
// every member: the same key, new shares, the old ones erased.
func runNodeRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node refresh", stderr)
	url := fs.String("url", "http://127.0.0.1:8318/", "the TSA's URL (loopback only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "refreshing the ECDSA shares of every member…")
	return postAdmin(ctx, strings.TrimSuffix(*url, "/")+"/admin/refresh", stdout)
}

// postAdmin posts to an administration endpoint and prints its answer.
func postAdmin(ctx context.Context, url string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
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
