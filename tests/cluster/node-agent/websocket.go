package main

// A hand-written RFC 6455 WebSocket (the standard library has none and the
// agent may not use third-party modules). Server side: handshake, reading
// masked frames with fragmentation and interleaved control frames, writing
// unmasked frames. The client mode (masking outgoing frames) exists for the
// package's own tests.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// errWSClosed is returned by ReadMessage once the peer's close frame arrived.
var errWSClosed = errors.New("websocket closed by peer")

func wsAcceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// headerTokens returns the comma-separated tokens of all values of a header.
func headerTokens(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func hasToken(h http.Header, name, token string) bool {
	for _, t := range headerTokens(h, name) {
		if strings.EqualFold(t, token) {
			return true
		}
	}
	return false
}

func isWebSocketUpgrade(r *http.Request) bool {
	return hasToken(r.Header, "Connection", "upgrade") && hasToken(r.Header, "Upgrade", "websocket")
}

// selectSubprotocol picks the first protocol of the client's list that the
// server supports ("" when the client offered none).
func selectSubprotocol(r *http.Request, supported []string) (string, bool) {
	offered := headerTokens(r.Header, "Sec-WebSocket-Protocol")
	if len(offered) == 0 {
		return "", true
	}
	for _, p := range offered {
		for _, s := range supported {
			if p == s {
				return p, true
			}
		}
	}
	return "", false
}

// upgradeWebSocket validates the handshake, answers 101 and hijacks the
// connection. On failure it has already written an HTTP error.
func upgradeWebSocket(w http.ResponseWriter, r *http.Request, protocols []string) (*wsConn, string, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if r.Method != http.MethodGet && r.Method != http.MethodPost || !isWebSocketUpgrade(r) || key == "" {
		http.Error(w, "websocket upgrade required", http.StatusBadRequest)
		return nil, "", errors.New("not a websocket upgrade")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported Sec-WebSocket-Version "+v, http.StatusBadRequest)
		return nil, "", errors.New("bad websocket version")
	}
	proto, ok := selectSubprotocol(r, protocols)
	if !ok {
		msg := fmt.Sprintf("requested protocol(s) are not supported: %v; supports %v",
			headerTokens(r.Header, "Sec-WebSocket-Protocol"), protocols)
		http.Error(w, msg, http.StatusBadRequest)
		return nil, "", errors.New(msg)
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "connection cannot be upgraded (HTTP/2?)", http.StatusInternalServerError)
		return nil, "", errors.New("response writer is not a Hijacker")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, "", err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsAcceptKey(key) + "\r\n"
	if proto != "" {
		resp += "Sec-WebSocket-Protocol: " + proto + "\r\n"
	}
	if _, err := rw.Writer.WriteString(resp + "\r\n"); err == nil {
		err = rw.Writer.Flush()
	}
	if err != nil {
		conn.Close()
		return nil, "", err
	}
	_ = conn.SetDeadline(time.Time{})
	return newWSConn(conn, rw.Reader, false), proto, nil
}

// wsConn is one end of a WebSocket connection. Writes are serialised by a
// mutex; ReadMessage must be called from a single goroutine.
type wsConn struct {
	conn       net.Conn
	br         *bufio.Reader
	client     bool // mask outgoing frames, expect unmasked incoming ones
	maxMessage int64

	wmu       sync.Mutex
	closeSent bool
}

func newWSConn(c net.Conn, br *bufio.Reader, client bool) *wsConn {
	if br == nil {
		br = bufio.NewReaderSize(c, 32*1024)
	}
	return &wsConn{conn: c, br: br, client: client, maxMessage: 64 << 20}
}

// writeFrame encodes one frame; mask is used by clients (RFC 6455 5.3).
func writeFrame(w io.Writer, fin bool, op byte, payload []byte, mask bool) error {
	var hdr [14]byte
	hdr[0] = op & 0x0F
	if fin {
		hdr[0] |= 0x80
	}
	n := 2
	switch l := len(payload); {
	case l <= 125:
		hdr[1] = byte(l)
	case l <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	if mask {
		hdr[1] |= 0x80
		var key [4]byte
		if _, err := rand.Read(key[:]); err != nil {
			return err
		}
		copy(hdr[n:], key[:])
		n += 4
		masked := make([]byte, len(payload))
		for i := range payload {
			masked[i] = payload[i] ^ key[i&3]
		}
		payload = masked
	}
	if len(payload) <= 4096 { // one write: header and small payload together
		_, err := w.Write(append(hdr[:n:n], payload...))
		return err
	}
	if _, err := w.Write(hdr[:n]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame decodes one frame, unmasking the payload.
func readFrame(r *bufio.Reader, maxLen int64) (fin bool, op byte, masked bool, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	fin, op, masked = h[0]&0x80 != 0, h[0]&0x0F, h[1]&0x80 != 0
	if h[0]&0x70 != 0 {
		return fin, op, masked, nil, errors.New("websocket: reserved bits set (no extension negotiated)")
	}
	length := int64(h[1] & 0x7F)
	switch length {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		length = int64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		length = int64(binary.BigEndian.Uint64(b[:]))
	}
	if length < 0 || length > maxLen {
		return fin, op, masked, nil, fmt.Errorf("websocket: frame of %d bytes exceeds limit", length)
	}
	if op >= opClose && (length > 125 || !fin) {
		return fin, op, masked, nil, errors.New("websocket: invalid control frame")
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return
		}
	}
	payload = make([]byte, length)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return fin, op, masked, payload, nil
}

// WriteMessage sends one unfragmented data or control message. It blocks
// while the peer does not read, which is the exec stream's flow control.
func (c *wsConn) WriteMessage(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errors.New("websocket: write after close")
	}
	return writeFrame(c.conn, true, op, payload, c.client)
}

// WriteFragments sends one message split into the given frames.
func (c *wsConn) WriteFragments(op byte, parts ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for i, p := range parts {
		fop := byte(opContinuation)
		if i == 0 {
			fop = op
		}
		if err := writeFrame(c.conn, i == len(parts)-1, fop, p, c.client); err != nil {
			return err
		}
	}
	return nil
}

// SendClose sends a close frame once; later data writes fail.
func (c *wsConn) SendClose(code uint16, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	c.closeSent = true
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, code)
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return writeFrame(c.conn, true, opClose, append(p, reason...), c.client)
}

// ReadMessage returns the next complete data message, answering pings and
// reassembling fragments. After the peer's close frame (which it answers)
// it returns errWSClosed.
func (c *wsConn) ReadMessage() (byte, []byte, error) {
	var op byte
	var msg []byte
	inMessage := false
	for {
		fin, fop, masked, payload, err := readFrame(c.br, c.maxMessage)
		if err != nil {
			return 0, nil, err
		}
		if !c.client && !masked {
			_ = c.SendClose(1002, "client frames must be masked")
			return 0, nil, errors.New("websocket: unmasked client frame")
		}
		switch fop {
		case opPing:
			c.wmu.Lock()
			if !c.closeSent {
				err = writeFrame(c.conn, true, opPong, payload, c.client)
			}
			c.wmu.Unlock()
			if err != nil {
				return 0, nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			code := uint16(1005)
			if len(payload) >= 2 {
				code = binary.BigEndian.Uint16(payload)
			}
			_ = c.SendClose(code, "")
			return 0, nil, errWSClosed
		case opContinuation:
			if !inMessage {
				return 0, nil, errors.New("websocket: continuation frame without a message")
			}
		case opText, opBinary:
			if inMessage {
				return 0, nil, errors.New("websocket: new message inside a fragmented one")
			}
			op, inMessage = fop, true
		default:
			return 0, nil, fmt.Errorf("websocket: unknown opcode %d", fop)
		}
		if int64(len(msg)+len(payload)) > c.maxMessage {
			return 0, nil, errors.New("websocket: message too large")
		}
		msg = append(msg, payload...)
		if fin {
			return op, msg, nil
		}
	}
}

func (c *wsConn) Close() error { return c.conn.Close() }
