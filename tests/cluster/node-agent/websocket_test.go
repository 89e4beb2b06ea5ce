package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

func TestAcceptKeyRFCExample(t *testing.T) {
	// RFC 6455 section 1.3.
	if got := wsAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept key %q", got)
	}
}

func TestFrameRoundTripMasked(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 127, 65535, 65536, 200000} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i*7 + 3)
		}
		var buf bytes.Buffer
		if err := writeFrame(&buf, true, opBinary, payload, true); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		if raw[1]&0x80 == 0 {
			t.Fatalf("size %d: mask bit not set", size)
		}
		if size >= 16 && bytes.Contains(raw, payload[:16]) {
			t.Fatalf("size %d: payload sent unmasked", size)
		}
		fin, op, masked, got, err := readFrame(bufio.NewReader(&buf), 1<<30)
		if err != nil || !fin || op != opBinary || !masked || !bytes.Equal(got, payload) {
			t.Fatalf("size %d: fin=%v op=%d masked=%v equal=%v err=%v", size, fin, op, masked, bytes.Equal(got, payload), err)
		}
	}
}

func TestServerFramesAreUnmasked(t *testing.T) {
	var buf bytes.Buffer
	_ = writeFrame(&buf, true, opText, []byte("hello"), false)
	if !bytes.Equal(buf.Bytes(), []byte{0x81, 5, 'h', 'e', 'l', 'l', 'o'}) {
		t.Fatalf("frame bytes %x", buf.Bytes())
	}
}

// pipePair returns a server-side and a client-side wsConn over net.Pipe,
// plus a channel of the frames the server wrote to the client.
func pipePair(t *testing.T) (server *wsConn, clientConn net.Conn, clientFrames chan [2][]byte) {
	s, c := net.Pipe()
	t.Cleanup(func() { s.Close(); c.Close() })
	server = newWSConn(s, nil, false)
	clientFrames = make(chan [2][]byte, 16)
	go func() {
		br := bufio.NewReader(c)
		for {
			_, op, _, payload, err := readFrame(br, 1<<20)
			if err != nil {
				close(clientFrames)
				return
			}
			clientFrames <- [2][]byte{{op}, payload}
		}
	}()
	return server, c, clientFrames
}

func TestFragmentedMessageWithInterleavedPing(t *testing.T) {
	server, c, frames := pipePair(t)
	go func() {
		_ = writeFrame(c, false, opText, []byte("hel"), true)
		_ = writeFrame(c, true, opPing, []byte("are you there"), true)
		_ = writeFrame(c, false, opContinuation, []byte("lo "), true)
		_ = writeFrame(c, true, opContinuation, []byte("world"), true)
	}()
	op, msg, err := server.ReadMessage()
	if err != nil || op != opText || string(msg) != "hello world" {
		t.Fatalf("op=%d msg=%q err=%v", op, msg, err)
	}
	select {
	case f := <-frames:
		if f[0][0] != opPong || string(f[1]) != "are you there" {
			t.Fatalf("expected pong echoing the ping, got op %d %q", f[0][0], f[1])
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no pong")
	}
}

func TestUnmaskedClientFrameIsRejected(t *testing.T) {
	server, c, frames := pipePair(t)
	go func() { _ = writeFrame(c, true, opBinary, []byte("x"), false) }()
	if _, _, err := server.ReadMessage(); err == nil {
		t.Fatal("unmasked frame accepted")
	}
	f := <-frames
	if f[0][0] != opClose || binary.BigEndian.Uint16(f[1]) != 1002 {
		t.Fatalf("expected close 1002, got op %d %x", f[0][0], f[1])
	}
}

func TestCloseHandshake(t *testing.T) {
	server, c, frames := pipePair(t)
	go func() { _ = writeFrame(c, true, opClose, []byte{0x03, 0xE8}, true) }()
	if _, _, err := server.ReadMessage(); err != errWSClosed {
		t.Fatalf("err %v", err)
	}
	f := <-frames
	if f[0][0] != opClose || binary.BigEndian.Uint16(f[1]) != 1000 {
		t.Fatalf("close not echoed: op %d %x", f[0][0], f[1])
	}
	if err := server.WriteMessage(opBinary, []byte("late")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestContinuationWithoutStartIsError(t *testing.T) {
	server, c, _ := pipePair(t)
	go func() { _ = writeFrame(c, true, opContinuation, []byte("x"), true) }()
	if _, _, err := server.ReadMessage(); err == nil {
		t.Fatal("stray continuation accepted")
	}
}

func TestClientModeRoundTripThroughWriteFragments(t *testing.T) {
	s, c := net.Pipe()
	defer s.Close()
	defer c.Close()
	server, client := newWSConn(s, nil, false), newWSConn(c, nil, true)
	go func() { _ = client.WriteFragments(opBinary, []byte{1, 2}, []byte{}, []byte{3}) }()
	op, msg, err := server.ReadMessage()
	if err != nil || op != opBinary || !bytes.Equal(msg, []byte{1, 2, 3}) {
		t.Fatalf("op=%d msg=%v err=%v", op, msg, err)
	}
}
