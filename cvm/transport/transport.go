// Package transport opens the byte streams that carry the oracle protocol:
// AF_VSOCK between a confidential VM and its host in production, and unix
// domain sockets in development and tests.
//
// Addresses are written "unix:/path/to/socket" or "vsock:CID:PORT" (for
// listening, "vsock:PORT" or "vsock:any:PORT" listens on the local CID).
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/mdlayher/vsock"
)

// Listen opens a listener at addr.
func Listen(addr string) (net.Listener, error) {
	kind, rest, ok := strings.Cut(addr, ":")
	if !ok {
		return nil, fmt.Errorf("transport: address %q: want unix:PATH or vsock:PORT", addr)
	}
	switch kind {
	case "unix":
		if rest == "" {
			return nil, fmt.Errorf("transport: address %q: empty path", addr)
		}
		// A stale socket from a previous run would make bind fail; remove
		// it only if it is a socket.
		if fi, err := os.Lstat(rest); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(rest)
		}
		return net.Listen("unix", rest)
	case "vsock":
		portStr := rest
		if cid, p, ok := strings.Cut(rest, ":"); ok {
			if cid != "any" {
				return nil, fmt.Errorf("transport: address %q: listen on vsock:PORT or vsock:any:PORT", addr)
			}
			portStr = p
		}
		port, err := parsePort(portStr)
		if err != nil {
			return nil, fmt.Errorf("transport: address %q: %w", addr, err)
		}
		return vsock.Listen(port, nil)
	}
	return nil, fmt.Errorf("transport: address %q: unknown kind %q (want unix or vsock)", addr, kind)
}

// Dial connects to addr.
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	kind, rest, ok := strings.Cut(addr, ":")
	if !ok {
		return nil, fmt.Errorf("transport: address %q: want unix:PATH or vsock:CID:PORT", addr)
	}
	switch kind {
	case "unix":
		var d net.Dialer
		return d.DialContext(ctx, "unix", rest)
	case "vsock":
		cidStr, portStr, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("transport: address %q: want vsock:CID:PORT", addr)
		}
		cid, err := strconv.ParseUint(cidStr, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("transport: address %q: bad CID: %w", addr, err)
		}
		port, err := parsePort(portStr)
		if err != nil {
			return nil, fmt.Errorf("transport: address %q: %w", addr, err)
		}
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			c, err := vsock.Dial(uint32(cid), port, nil)
			ch <- result{c, err}
		}()
		select {
		case r := <-ch:
			return r.c, r.err
		case <-ctx.Done():
			go func() {
				if r := <-ch; r.c != nil {
					r.c.Close()
				}
			}()
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("transport: address %q: unknown kind %q (want unix or vsock)", addr, kind)
}

func parsePort(s string) (uint32, error) {
	p, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("bad port")
	}
	return uint32(p), nil
}
