// Package chronytest runs real chronyd processes (chrony ≥ 4.0 with NTS) as
// NTS servers on 127.0.0.0/8 high ports for tests, each with its own config,
// certificate and run directory under t.TempDir(). Tests using it skip when
// chronyd (or faketime, for lying servers) is not installed.
package chronytest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/timesync/internal/testpki"
)

// Need returns the chronyd path or skips the test.
func Need(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("chronyd")
	if err != nil {
		t.Skip("chronyd not installed (apt-get install -y chrony): skipping chrony interop test")
	}
	return p
}

// FreePort returns a currently unused port on ip for "tcp" or "udp".
func FreePort(t testing.TB, network, ip string) int {
	t.Helper()
	if network == "tcp" {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	c, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Server is a running chronyd NTS server.
type Server struct {
	KEAddr, NTPAddr string
}

// StartServer starts chronyd as an NTS server on ip with p's certificate.
// fakeOffset, if non-empty, runs it under faketime with that offset (e.g.
// "+30s"). The process group is stopped when the test ends.
func StartServer(t testing.TB, p *testpki.PKI, ip, fakeOffset string) *Server {
	t.Helper()
	chronyd := Need(t)
	dir := t.TempDir()
	_, cert, key := p.WriteFiles(t, dir)
	for _, d := range []string{"nts", "log", "sock"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ntpPort := FreePort(t, "udp", ip)
	kePort := FreePort(t, "tcp", ip)
	conf := fmt.Sprintf(`user root
pidfile %[1]s/chronyd.pid
driftfile %[1]s/chronyd.drift
ntsdumpdir %[1]s/nts
bindcmdaddress %[1]s/sock/chronyd.sock
cmdport 0
port %[2]d
ntsport %[3]d
bindaddress %[4]s
ntsserverkey %[5]s
ntsservercert %[6]s
local stratum 1
allow 127.0.0.0/8
logdir %[1]s/log
`, dir, ntpPort, kePort, ip, key, cert)
	cf := filepath.Join(dir, "chronyd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{chronyd, "-d", "-x", "-f", cf}
	if fakeOffset != "" {
		ft, err := exec.LookPath("faketime")
		if err != nil {
			t.Skip("faketime not installed (apt-get install -y faketime): skipping lying-server test")
		}
		args = append([]string{ft, "-f", fakeOffset}, args...)
	}
	StartProc(t, args, nil)
	s := &Server{KEAddr: net.JoinHostPort(ip, strconv.Itoa(kePort)), NTPAddr: net.JoinHostPort(ip, strconv.Itoa(ntpPort))}
	WaitTCP(t, s.KEAddr)
	return s
}

// StartProc starts args in its own process group and, when the test ends,
// stops exactly that process group (chronyd forks NTS-KE helpers). The
// returned channel is closed when the process has exited and its output has
// been collected into out (if non-nil).
func StartProc(t testing.TB, args []string, out *bytes.Buffer) <-chan struct{} {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out == nil {
		out = &bytes.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], out.String())
		}
	})
	return done
}

// WaitTCP waits until addr accepts TCP connections (up to ~10 s).
func WaitTCP(t testing.TB, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never started listening", addr)
}
