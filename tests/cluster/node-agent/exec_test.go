package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExecV4NonZeroExitStreamsAndStatus(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	res := runExec(t, srv, "default", "web", execQuery("/bin/sh", "-c", "echo hi; echo err >&2; exit 3"),
		[]string{"v4.channel.k8s.io"}, nil, false)
	if res.proto != "v4.channel.k8s.io" || string(res.stdout) != "hi\n" || string(res.stderr) != "err\n" {
		t.Fatalf("proto %q stdout %q stderr %q", res.proto, res.stdout, res.stderr)
	}
	st := decodeStatus(t, res.errChan)
	if st.Status != "Failure" || st.Reason != "NonZeroExitCode" || st.Details == nil ||
		len(st.Details.Causes) != 1 || st.Details.Causes[0].Reason != "ExitCode" || st.Details.Causes[0].Message != "3" {
		t.Fatalf("status %s", res.errChan)
	}
}

func TestExecV4SuccessStatusIsExact(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	res := runExec(t, srv, "default", "web", execQuery("true"), []string{"v4.channel.k8s.io"}, nil, false)
	if string(res.errChan) != `{"metadata":{},"status":"Success"}` {
		t.Fatalf("error channel %q", res.errChan)
	}
}

func TestExecCommandNotFoundIsInternalError(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	res := runExec(t, srv, "default", "web", execQuery("no-such-binary-irsteps"), []string{"v4.channel.k8s.io"}, nil, false)
	st := decodeStatus(t, res.errChan)
	if st.Status != "Failure" || st.Reason != "InternalError" || st.Code != 500 ||
		!strings.Contains(st.Message, `exec: "no-such-binary-irsteps": executable file not found in $PATH`) {
		t.Fatalf("status %s", res.errChan)
	}
}

func TestExecNoShellAnnotation(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "distroless", "uid-2", map[string]string{annNoShell: "true"}))
	res := runExec(t, srv, "default", "distroless", execQuery("/bin/sh", "-c", "echo hi"), []string{"v4.channel.k8s.io"}, nil, false)
	st := decodeStatus(t, res.errChan)
	if st.Reason != "NonZeroExitCode" || st.Details.Causes[0].Message != "126" ||
		!strings.Contains(string(res.stderr), "executable file not found in $PATH") || len(res.stdout) != 0 {
		t.Fatalf("status %s stderr %q stdout %q", res.errChan, res.stderr, res.stdout)
	}
	// Non-shell commands still work in such a pod.
	res = runExec(t, srv, "default", "distroless", execQuery("echo", "ok"), []string{"v4.channel.k8s.io"}, nil, false)
	if string(res.stdout) != "ok\n" {
		t.Fatalf("stdout %q", res.stdout)
	}
}

func TestExecV5StdinAndCloseSignal(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	q := execQuery("cat")
	q.Set("stdin", "1")
	res := runExec(t, srv, "default", "web", q, []string{"v5.channel.k8s.io"}, []byte("hello stdin\n"), true)
	if res.proto != "v5.channel.k8s.io" || string(res.stdout) != "hello stdin\n" ||
		string(res.errChan) != `{"metadata":{},"status":"Success"}` {
		t.Fatalf("proto %q stdout %q err %q", res.proto, res.stdout, res.errChan)
	}
}

func TestExecAPIServerParamNames(t *testing.T) {
	// The API server forwards stdin/stdout/stderr as input/output/error.
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	q := url.Values{"command": {"cat"}, "input": {"1"}, "output": {"1"}, "error": {"1"}}
	res := runExec(t, srv, "default", "web", q, []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}, []byte("abc"), true)
	if string(res.stdout) != "abc" {
		t.Fatalf("stdout %q", res.stdout)
	}
}

func TestExecProtocolSelection(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	res := runExec(t, srv, "default", "web", execQuery("true"),
		[]string{"bogus.k8s.io", "v4.channel.k8s.io", "v5.channel.k8s.io"}, nil, false)
	if res.proto != "v4.channel.k8s.io" {
		t.Fatalf("selected %q, want the client's first supported", res.proto)
	}
	_, resp, err := dialWS(t, srv, "/exec/default/web/app?"+execQuery("true").Encode(), []string{"bogus.k8s.io"}, nil)
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("unsupported protocol accepted: %v", err)
	}
}

func TestExecV1PlainTextError(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	res := runExec(t, srv, "default", "web", execQuery("sh", "-c", "exit 3"), []string{"channel.k8s.io"}, nil, false)
	if !strings.HasPrefix(string(res.errChan), "command terminated with non-zero exit code") || !strings.Contains(string(res.errChan), "exit code 3") {
		t.Fatalf("error channel %q", res.errChan)
	}
	res = runExec(t, srv, "default", "web", execQuery("true"), []string{"channel.k8s.io"}, nil, false)
	if len(res.errChan) != 0 {
		t.Fatalf("v1 success wrote %q", res.errChan)
	}
}

func TestExecWorkingDirAndEnv(t *testing.T) {
	ks, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	res := runExec(t, srv, "default", "web", execQuery("sh", "-c", "pwd; echo $FOO; echo $PATH"), []string{"v4.channel.k8s.io"}, nil, false)
	want := filepath.Join(ks.stateDir, "pods", "default_web_uid-1", "app", "rootfs") + "\nbar\n/usr/sbin:/usr/bin:/sbin:/bin\n"
	if string(res.stdout) != want {
		t.Fatalf("stdout %q want %q", res.stdout, want)
	}
	custom := t.TempDir()
	_, srv2 := newTestKubelet(t, testPod("default", "web", "uid-1", map[string]string{annRootfs: custom}))
	res = runExec(t, srv2, "default", "web", execQuery("pwd"), []string{"v4.channel.k8s.io"}, nil, false)
	if string(res.stdout) != custom+"\n" {
		t.Fatalf("rootfs annotation ignored: %q", res.stdout)
	}
}

func TestExecLargeOutputStreamsInChunks(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	const n = 8 << 20
	res := runExec(t, srv, "default", "web", execQuery("head", "-c", strconv.Itoa(n), "/dev/zero"), []string{"v5.channel.k8s.io"}, nil, false)
	if len(res.stdout) != n || res.maxFrame > 32*1024+1 || string(res.errChan) != `{"metadata":{},"status":"Success"}` {
		t.Fatalf("got %d bytes, max frame %d, status %q", len(res.stdout), res.maxFrame, res.errChan)
	}
}

func TestExecClientDisconnectKillsProcess(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	ws, _, err := dialWS(t, srv, "/exec/default/web/app?"+execQuery("sh", "-c", "echo $$; exec sleep 30").Encode(), []string{"v5.channel.k8s.io"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for pid == 0 {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if len(msg) > 1 && msg[0] == chStdout {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(msg[1:])))
		}
	}
	ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after the client went away", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestExecRejections(t *testing.T) {
	_, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil),
		testPod("default", "crash", "uid-3", map[string]string{annFail: "CrashLoopBackOff"}))
	get := func(path string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	q := "?" + execQuery("true").Encode()
	spdy := map[string]string{"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io"}
	if code, body := get("/exec/default/web/app"+q, spdy); code != 400 || !strings.Contains(body, "WebSocket") {
		t.Fatalf("SPDY: %d %q", code, body)
	}
	if code, body := get("/exec/default/nope/app"+q, nil); code != 404 || !strings.Contains(body, "does not exist") {
		t.Fatalf("unknown pod: %d %q", code, body)
	}
	if code, body := get("/exec/default/web/nope"+q, nil); code != 404 || !strings.Contains(body, `container "nope" not found`) {
		t.Fatalf("unknown container: %d %q", code, body)
	}
	if code, _ := get("/exec/default/web/app"+q, nil); code != 400 {
		t.Fatalf("no upgrade: %d", code)
	}
	if code, body := get("/exec/default/crash/app"+q, nil); code != 500 || !strings.Contains(body, "container not found") {
		t.Fatalf("crash-looping container: %d %q", code, body)
	}
	if code, _ := get("/nothing/here", nil); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
	if code, body := get("/healthz", nil); code != 200 || body != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
}

func TestStatusJSONShape(t *testing.T) {
	b, _ := json.Marshal(exitCodeStatus(3, []string{"sh"}))
	var m map[string]interface{}
	_ = json.Unmarshal(b, &m)
	causes := m["details"].(map[string]interface{})["causes"].([]interface{})
	if c := causes[0].(map[string]interface{}); c["reason"] != "ExitCode" || c["message"] != "3" {
		t.Fatalf("%s", b)
	}
}
