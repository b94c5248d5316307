package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	url := fs.String("url", "http://127.0.0.1:8318/", "TSA URL")
	n := fs.Int("n", 1000, "number of requests")
	c := fs.Int("c", 8, "concurrent clients")
	hashName := fs.String("hash", "sha384", "hash algorithm of the imprints")
	policy := fs.String("policy", "", "TSA policy OID (default: the TSA's default)")
	certs := fs.Bool("certs", true, "ask for certificates (certReq)")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout per request")
	quiet := fs.Bool("quiet", false, "no progress line")
	rate := fs.Float64("rate", 0, "requests per second over all clients (0: as fast as possible); pacing leaves the TSA idle time, e.g. to measure latency with warm pools")
	var cpuPIDs multiFlag
	fs.Var(&cpuPIDs, "cpu-pid", "a local process (with its descendants) whose CPU time to attribute to the tokens, e.g. the cc-tsa dev process (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h, ok := hashNames[*hashName]
	if !ok {
		return usagef("--hash %q: unsupported", *hashName)
	}
	if *n < 1 || *c < 1 || *c > 1024 {
		return usagef("-n must be ≥ 1 and -c between 1 and 1024")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c}}
	defer client.CloseIdleConnections()

	before := scrape(ctx, client, *url)
	var use0 usage
	var pids []int
	for _, p := range cpuPIDs {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return usagef("--cpu-pid %q: not a process id", p)
		}
		u, err := treeUsage(pid)
		if err != nil {
			return fmt.Errorf("--cpu-pid %d: %w", pid, err)
		}
		pids, use0 = append(pids, pid), use0.add(u)
	}
	var next, done, failed atomic.Int64
	var bytesIn atomic.Int64
	lat := make([][]time.Duration, *c)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				if !*quiet {
					d := done.Load()
					fmt.Fprintf(stderr, "\r%d/%d requests, %d failed, %.1f tokens/s   ", d, *n, failed.Load(), float64(d-failed.Load())/time.Since(start).Seconds())
				}
			}
		}
	}()
	if *rate < 0 {
		return usagef("--rate must be ≥ 0")
	}
	var pace <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		pace = t.C
	}
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && next.Add(1) <= int64(*n) {
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
				}
				digest := make([]byte, h.Size())
				rand.Read(digest)
				req := &rfc3161.Request{HashAlg: h, Imprint: digest, CertReq: *certs, Nonce: randomNonce()}
				der, err := rfc3161.EncodeRequest(req, *policy)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					failed.Add(1)
					done.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := postQueryWith(ctx, client, *url, der, *timeout)
				if err == nil {
					_, err = tsverify.ParseResponse(resp)
				}
				d := time.Since(t0)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					failed.Add(1)
				} else {
					lat[w] = append(lat[w], d)
					bytesIn.Add(int64(len(resp)))
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone
	if !*quiet {
		fmt.Fprintln(stderr)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		i := int(p*float64(len(all))+0.5) - 1
		return all[max(0, min(i, len(all)-1))]
	}
	got := int64(len(all))
	fmt.Fprintf(stdout, "requests: %d, tokens: %d, failed: %d, concurrency: %d, elapsed: %v\n", done.Load(), got, failed.Load(), *c, elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "throughput: %.1f tokens/s\n", float64(got)/elapsed.Seconds())
	if got > 0 {
		fmt.Fprintf(stdout, "latency: p50 %v, p90 %v, p99 %v, max %v\n", pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), all[len(all)-1].Round(10*time.Microsecond))
		fmt.Fprintf(stdout, "response size: %d bytes on average\n", bytesIn.Load()/got)
	}
	if got > 0 {
		after := scrape(ctx, client, *url)
		if a, b := after["cc_tsa_mldsa_attempts_total"], before["cc_tsa_mldsa_attempts_total"]; a > b {
			fmt.Fprintf(stdout, "cluster: %.2f ML-DSA attempts, %.0f kB between oracles, %.2f presignatures per token\n",
				(a-b)/float64(got), (after["cc_tsa_relayed_bytes_total"]-before["cc_tsa_relayed_bytes_total"])/float64(got)/1000,
				(after["cc_tsa_presignatures_total"]-before["cc_tsa_presignatures_total"])/float64(got))
		}
		if l := stageLine(before, after, got); l != "" {
			fmt.Fprintln(stdout, l)
		}
		if len(pids) > 0 {
			var use1 usage
			for _, pid := range pids {
				if u, err := treeUsage(pid); err == nil {
					use1 = use1.add(u)
				}
			}
			fmt.Fprintf(stdout, "CPU: %.1f ms per token, %.0f read/write system calls per token (processes %v and their descendants)\n",
				float64(use1.cpu-use0.cpu)/float64(time.Millisecond)/float64(got), float64(use1.syscalls-use0.syscalls)/float64(got), pids)
		}
	}
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%d of %d requests failed; first error: %w", failed.Load(), done.Load(), e.(error))
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}
