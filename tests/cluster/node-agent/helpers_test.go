package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testPod builds a pod bound to the test node with one container "app".
func testPod(ns, name, uid string, annotations map[string]string) *pod {
	p := &pod{}
	p.Metadata.Namespace, p.Metadata.Name, p.Metadata.UID = ns, name, uid
	p.Metadata.Annotations = annotations
	p.Spec.NodeName = "irsteps-node-0"
	c := podContainer{Name: "app", Image: "registry.local:5000/team/app:1.2.3"}
	c.Env = append(c.Env, struct {
		Name      string      `json:"name"`
		Value     string      `json:"value"`
		ValueFrom interface{} `json:"valueFrom"`
	}{Name: "FOO", Value: "bar"})
	p.Spec.Containers = []podContainer{c}
	return p
}

// newTestKubelet serves the kubelet API over plain HTTP (httptest) with the
// given pods admitted and their files prepared.
func newTestKubelet(t *testing.T, pods ...*pod) (*kubeletServer, *httptest.Server) {
	t.Helper()
	ks := &kubeletServer{stateDir: t.TempDir(), store: newPodStore(), baseCtx: context.Background()}
	for _, p := range pods {
		addTestPod(t, ks, p)
	}
	srv := httptest.NewServer(ks)
	t.Cleanup(srv.Close)
	return ks, srv
}

func addTestPod(t *testing.T, ks *kubeletServer, p *pod) *podRecord {
	t.Helper()
	rec := newPodRecord(p, "10.244.0.2", time.Now(), podDirFor(ks.stateDir, p))
	if err := prepareContainerFiles(rec.dir, p, "irsteps-node-0", rec.start); err != nil {
		t.Fatal(err)
	}
	ks.store.add(rec)
	return rec
}

// dialWS is the tests' tiny WebSocket client: it performs the opening
// handshake by hand and returns a client-mode wsConn (masking its frames).
func dialWS(t *testing.T, srv *httptest.Server, path string, protocols []string, hdr http.Header) (*wsConn, *http.Response, error) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	if len(protocols) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(protocols, ", "))
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, resp, fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAcceptKey(key) {
		conn.Close()
		return nil, resp, fmt.Errorf("bad Sec-WebSocket-Accept %q", got)
	}
	return newWSConn(conn, br, true), resp, nil
}

type execResult struct {
	proto          string
	stdout, stderr []byte
	errChan        []byte
	maxFrame       int
	frames         int
}

// runExec runs one exec through the handler, feeding stdin (then the v5
// close signal when closeStdin) and collecting every channel until close.
func runExec(t *testing.T, srv *httptest.Server, ns, pod string, query url.Values, protocols []string, stdin []byte, closeStdin bool) execResult {
	t.Helper()
	return runExecIn(t, srv, ns, pod, "app", query, protocols, stdin, closeStdin)
}

// runExecIn is runExec in the named container.
func runExecIn(t *testing.T, srv *httptest.Server, ns, pod, container string, query url.Values, protocols []string, stdin []byte, closeStdin bool) execResult {
	t.Helper()
	ws, resp, err := dialWS(t, srv, "/exec/"+ns+"/"+pod+"/"+container+"?"+query.Encode(), protocols, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	res := execResult{proto: resp.Header.Get("Sec-WebSocket-Protocol")}
	if len(stdin) > 0 {
		if err := ws.WriteMessage(opBinary, append([]byte{chStdin}, stdin...)); err != nil {
			t.Fatal(err)
		}
	}
	if closeStdin {
		if err := ws.WriteMessage(opBinary, []byte{chClose, chStdin}); err != nil {
			t.Fatal(err)
		}
	}
	_ = ws.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err == errWSClosed {
			return res
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		res.frames++
		if len(msg) > res.maxFrame {
			res.maxFrame = len(msg)
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case chStdout:
			res.stdout = append(res.stdout, msg[1:]...)
		case chStderr:
			res.stderr = append(res.stderr, msg[1:]...)
		case chError:
			res.errChan = append(res.errChan, msg[1:]...)
		}
	}
}

func decodeStatus(t *testing.T, b []byte) metaStatus {
	t.Helper()
	var st metaStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("error channel %q is not a Status: %v", b, err)
	}
	return st
}

func execQuery(cmd ...string) url.Values {
	q := url.Values{"command": cmd}
	q.Set("stdout", "1")
	q.Set("stderr", "1")
	return q
}
