package oracleclient

import (
	"bufio"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/transport"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// fakeOracle serves one connection on a unix socket, handling every
// request frame concurrently with handle.
func fakeOracle(t *testing.T, handle func(w *bufio.Writer, f wire.Frame, mu *sync.Mutex)) string {
	t.Helper()
	addr := "unix:" + filepath.Join(t.TempDir(), "o.sock")
	l, err := transport.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r, w := bufio.NewReader(c), bufio.NewWriter(c)
		var mu sync.Mutex
		for {
			f, err := wire.ReadFrame(r)
			if err != nil {
				return
			}
			go handle(w, f, &mu)
		}
	}()
	return addr
}

func status(id uint8) []byte {
	s := &wire.Status{State: wire.StateReady, Mode: wire.ModeWholeKey, NodeID: 1, Threshold: 1, Nodes: 1, Label: string(rune('a' + id))}
	b, _ := s.Marshal()
	return b
}

func TestMultiplexAndLateAnswers(t *testing.T) {
	release := make(chan struct{})
	addr := fakeOracle(t, func(w *bufio.Writer, f wire.Frame, mu *sync.Mutex) {
		if f.ID == 1 {
			<-release // the first request is answered late
		}
		mu.Lock()
		defer mu.Unlock()
		wire.WriteFrame(w, wire.Frame{Type: wire.TypeStatusResponse, ID: f.ID, Payload: status(uint8(f.ID))})
		w.Flush()
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Request 1 times out on the client; its answer arrives later and must
	// be dropped without breaking the connection.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := c.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first request: %v", err)
	}
	cancel()
	// Concurrent requests each get their own answer.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Status(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(release)
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("after a late answer: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("connection broken: %v", c.Err())
	}
}

func TestProtocolViolationsBreakTheConnection(t *testing.T) {
	addr := fakeOracle(t, func(w *bufio.Writer, f wire.Frame, mu *sync.Mutex) {
		mu.Lock()
		defer mu.Unlock()
		// An answer to a request that was never sent.
		wire.WriteFrame(w, wire.Frame{Type: wire.TypeStatusResponse, ID: f.ID + 1000, Payload: status(1)})
		w.Flush()
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("broken connection reused: %v", err)
	}
}

func TestErrorFrames(t *testing.T) {
	addr := fakeOracle(t, func(w *bufio.Writer, f wire.Frame, mu *sync.Mutex) {
		e := &wire.Error{Code: wire.CodeTimeNotAvailable, Message: "no time"}
		p, _ := e.Marshal()
		mu.Lock()
		defer mu.Unlock()
		wire.WriteFrame(w, wire.Frame{Type: wire.TypeError, ID: f.ID, Payload: p})
		w.Flush()
	})
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Propose(context.Background(), &wire.ProposeRequest{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeTimeNotAvailable {
		t.Fatalf("got %v", err)
	}
}
