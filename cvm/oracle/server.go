package oracle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// Server limits.
const (
	// MaxConns bounds concurrent connections to the oracle.
	MaxConns = 64
	// MaxInFlight bounds concurrently handled requests per connection.
	MaxInFlight = 32
	// writeTimeout bounds the time to write one response.
	writeTimeout = 10 * time.Second
)

// Serve accepts connections on l and answers requests until ctx is done. It
// closes l before returning.
func (o *Oracle) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	conns := make(chan struct{}, MaxConns)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("oracle: accept: %w", err)
		}
		select {
		case conns <- struct{}{}:
		default:
			o.log.Warn("connection refused: too many connections", "max", MaxConns)
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-conns }()
			o.serveConn(ctx, c)
		}()
	}
}

// serveConn reads frames from c and answers each, concurrently up to
// MaxInFlight. A malformed frame closes the connection: after it the stream
// cannot be resynchronised.
func (o *Oracle) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	var wmu sync.Mutex
	w := bufio.NewWriter(c)
	reply := func(f wire.Frame) {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := wire.WriteFrame(w, f); err == nil {
			err = w.Flush()
		}
	}

	inflight := make(chan struct{}, MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	r := bufio.NewReader(c)
	for {
		f, err := wire.ReadFrame(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				o.log.Warn("closing connection after bad frame", "err", err)
			}
			return
		}
		inflight <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inflight }()
			reply(o.Handle(f))
		}()
	}
}

// Handle answers one request frame. It never panics on malformed input: a
// payload that does not decode is answered with an Error frame.
func (o *Oracle) Handle(f wire.Frame) wire.Frame {
	resp, err := o.handle(f)
	if err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			we = &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
		}
		if we.Code == wire.CodeInternal {
			o.log.Error("request failed", "type", f.Type.String(), "err", we.Message)
		}
		p, merr := we.Marshal()
		if merr != nil {
			p = nil
		}
		return wire.Frame{Type: wire.TypeError, ID: f.ID, Payload: p}
	}
	resp.ID = f.ID
	return resp
}

type marshaler interface{ Marshal() ([]byte, error) }

func frame(t wire.Type, m marshaler) (wire.Frame, error) {
	p, err := m.Marshal()
	if err != nil {
		return wire.Frame{}, &wire.Error{Code: wire.CodeInternal, Message: "encoding response: " + err.Error()}
	}
	return wire.Frame{Type: t, Payload: p}, nil
}

func (o *Oracle) handle(f wire.Frame) (wire.Frame, error) {
	switch f.Type {
	case wire.TypeStatusRequest:
		if len(f.Payload) != 0 {
			return wire.Frame{}, fmt.Errorf("%w: status request carries a payload", wire.ErrMessage)
		}
		return frame(wire.TypeStatusResponse, o.Status())
	case wire.TypeInstallRequest:
		var req wire.InstallRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		if err := o.Install(&req); err != nil {
			return wire.Frame{}, err
		}
		return wire.Frame{Type: wire.TypeOK}, nil
	case wire.TypeProposeRequest:
		var req wire.ProposeRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		p, err := o.Propose(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeProposal, p)
	case wire.TypeBeginRequest:
		var req wire.BeginRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		resp, err := o.Begin(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeBeginResponse, resp)
	case wire.TypeRoundRequest:
		var req wire.RoundRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		resp, err := o.Round(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeRoundResponse, resp)
	case wire.TypeAttachRequest:
		var req wire.AttachRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		resp, err := o.Attach(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeAttachResponse, resp)
	case wire.TypeHelloRequest:
		var req wire.HelloRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		h, err := o.Hello(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeHello, h)
	case wire.TypePeersRequest:
		var req wire.PeersRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		if err := o.Peers(&req); err != nil {
			return wire.Frame{}, err
		}
		return wire.Frame{Type: wire.TypeOK}, nil
	case wire.TypeRelayRequest:
		var req wire.RelayRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		resp, err := o.Relay(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeRelayResponse, resp)
	case wire.TypeBeginCSRRequest:
		var req wire.BeginCSRRequest
		if err := req.Unmarshal(f.Payload); err != nil {
			return wire.Frame{}, err
		}
		resp, err := o.BeginCSR(&req)
		if err != nil {
			return wire.Frame{}, err
		}
		return frame(wire.TypeBeginResponse, resp)
	case wire.TypeEndRequest:
		id, err := wire.ParseSessionID(f.Payload)
		if err != nil {
			return wire.Frame{}, err
		}
		o.End(id)
		return wire.Frame{Type: wire.TypeOK}, nil
	}
	return wire.Frame{}, fmt.Errorf("%w: %v is not a request", wire.ErrMessage, f.Type)
}
