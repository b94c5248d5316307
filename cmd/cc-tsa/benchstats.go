package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
)

// scrape reads the TSA's cc_tsa_* samples from /metrics, keyed by name
// with labels as exposed (e.g. cc_tsa_session_stage_seconds_total{stage="begin"});
// on any error the map is empty or partial.
func scrape(ctx context.Context, client *http.Client, base string) map[string]float64 {
	out := map[string]float64{}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := client.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if strings.HasPrefix(name, "cc_tsa_") {
			if v, err := strconv.ParseFloat(val, 64); err == nil {
				out[name] = v
			}
		}
	}
	return out
}

// usage is what a process tree consumed: CPU time and read/write system
// calls (from /proc/PID/io; zero when unreadable).
type usage struct {
	cpu      time.Duration
	syscalls uint64
}

func (u usage) add(v usage) usage { return usage{u.cpu + v.cpu, u.syscalls + v.syscalls} }

// treeUsage returns the usage of pid and all its living descendants, from
// /proc.
func treeUsage(pid int) (usage, error) {
	cpu, err := procCPU(pid)
	if err != nil {
		return usage{}, err
	}
	total := usage{cpu: cpu, syscalls: procSyscalls(pid)}
	// Children are listed per thread that forked them.
	var kids []string
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		kids = append(kids, strings.Fields(string(b))...)
	}
	for _, f := range kids {
		if c, err := strconv.Atoi(f); err == nil {
			if u, err := treeUsage(c); err == nil {
				total = total.add(u)
			}
		}
	}
	return total, nil
}

// procSyscalls returns the read and write system calls pid made (syscr +
// syscw of /proc/PID/io), or 0 if they cannot be read.
func procSyscalls(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	var n uint64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if ok && (k == "syscr" || k == "syscw") {
			if x, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
				n += x
			}
		}
	}
	return n
}

func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / hz, nil
}

// stageLine describes where the threshold sessions' wall time went, per
// token, from the coordinator's stage counters; empty if the TSA exposes
// none or ran no threshold session.
func stageLine(before, after map[string]float64, tokens int64) string {
	var parts []string
	var total float64
	for st := coordinator.Stage(0); st < coordinator.NumStages; st++ {
		k := fmt.Sprintf("cc_tsa_session_stage_seconds_total{stage=%q}", st.String())
		a, ok := after[k]
		if !ok {
			return ""
		}
		d := (a - before[k]) * 1000 / float64(tokens)
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2f", st, d))
	}
	if total == 0 {
		return ""
	}
	return "session stages (ms per token): " + strings.Join(parts, ", ")
}
