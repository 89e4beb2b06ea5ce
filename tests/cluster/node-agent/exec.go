package main

// The kubelet's exec endpoint over WebSocket (k8s channel protocols).
// TEST DOUBLE: the command runs as a real process on the host, as the
// agent's user, with the container's "rootfs" directory as working directory
// and the container spec's env; there is no isolation whatsoever.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Supported subprotocols, most preferred first.
var execProtocols = []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"}

const (
	chStdin  = 0
	chStdout = 1
	chStderr = 2
	chError  = 3
	chResize = 4
	chClose  = 255 // v5: client closes one of its streams
)

func protocolVersion(p string) int {
	switch p {
	case "v5.channel.k8s.io":
		return 5
	case "v4.channel.k8s.io":
		return 4
	case "v3.channel.k8s.io":
		return 3
	case "v2.channel.k8s.io":
		return 2
	}
	return 1 // channel.k8s.io or no subprotocol
}

func queryFlag(q url.Values, names ...string) bool {
	for _, n := range names {
		if v := strings.ToLower(q.Get(n)); v == "1" || v == "true" {
			return true
		}
	}
	return false
}

func (s *kubeletServer) handleExec(w http.ResponseWriter, r *http.Request, ns, name, uid, container string) {
	rec, p, c, ok := s.lookupContainer(w, ns, name, uid, container)
	if !ok {
		return
	}
	if fail, _ := testHooks(p); fail != "" { // what the kubelet says for a container that is not running
		http.Error(w, fmt.Sprintf("container not found (%q)", container), http.StatusInternalServerError)
		return
	}
	// An ephemeral container with a target runs in the target's PID
	// namespace (ephemeral.go); until that exists it is not running.
	_, ephemeral := p.anyContainer(container)
	nsPid := 0
	if ephemeral && c.TargetContainerName != "" {
		if nsPid = rec.initPid(c.TargetContainerName); nsPid == 0 {
			http.Error(w, fmt.Sprintf("container not found (%q)", container), http.StatusInternalServerError)
			return
		}
	}
	// Checked after the pod lookups: kubectl >= 1.30 retries a failed
	// WebSocket upgrade with SPDY, and the first error is the one to show.
	for _, t := range headerTokens(r.Header, "Upgrade") {
		if strings.HasPrefix(strings.ToLower(t), "spdy") {
			// A JSON Status, because that is what kubectl's SPDY dialer prints.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(obj{"kind": "Status", "apiVersion": "v1", "metadata": obj{}, "status": "Failure",
				"reason": "BadRequest", "code": 400, "message": "this test node agent supports only WebSocket " +
					"(Upgrade: websocket with v5/v4/v3.channel.k8s.io) for exec; " + t + " is not supported"})
			return
		}
	}
	q := r.URL.Query()
	// The API server forwards stdin/stdout/stderr as input/output/error.
	req := execRequest{command: q["command"], stdin: queryFlag(q, "stdin", "input"),
		stdout: queryFlag(q, "stdout", "output"), stderr: queryFlag(q, "stderr", "error"), tty: queryFlag(q, "tty")}
	if len(req.command) == 0 {
		http.Error(w, "you must specify at least one command for the container", http.StatusBadRequest)
		return
	}
	if !req.stdin && !req.stdout && !req.stderr {
		http.Error(w, "you must specify at least 1 of stdin, stdout, stderr", http.StatusBadRequest)
		return
	}
	if !isWebSocketUpgrade(r) {
		http.Error(w, "exec needs a WebSocket upgrade (Upgrade: websocket)", http.StatusBadRequest)
		return
	}
	ws, proto, err := upgradeWebSocket(w, r, execProtocols)
	if err != nil {
		logEvent("agent.exec.rejected", "pod", ns+"/"+name, "error", err)
		return
	}
	logEvent("agent.exec.start", "pod", ns+"/"+name, "container", container, "command", req.command, "protocol", proto,
		"stdin", req.stdin, "tty", req.tty)
	s.execs.Add(1)
	defer s.execs.Done()
	e := &execSession{ws: ws, version: protocolVersion(proto), req: req, pod: p, c: c,
		dir: rootfsDir(rec.dir, p, container), ephemeral: ephemeral, nsPid: nsPid}
	code := e.run(s.baseCtx)
	logEvent("agent.exec.end", "pod", ns+"/"+name, "container", container, "exitCode", code)
}

type execRequest struct {
	command                    []string
	stdin, stdout, stderr, tty bool
}

type execSession struct {
	ws      *wsConn
	version int
	req     execRequest
	pod     *pod
	c       *podContainer
	dir     string
	// An ephemeral container's image is not the pod's (test-no-shell does
	// not apply); with a target, commands run in its PID namespace.
	ephemeral bool
	nsPid     int

	mu          sync.Mutex
	stdinR      *os.File
	stdinW      *os.File // nil once closed
	pid         int
	exited      bool
	readerEnded chan struct{}
}

// run executes the command and completes the WebSocket close handshake.
// It returns the exit code (-1 when the command never ran).
func (e *execSession) run(ctx context.Context) int {
	defer e.ws.Close()
	if e.req.stdin {
		var err error
		if e.stdinR, e.stdinW, err = os.Pipe(); err != nil {
			e.writeStatus(internalErrorStatus(err.Error()))
			return -1
		}
	}
	e.readerEnded = make(chan struct{})
	go e.readLoop()
	// Like the 1.20 kubelet: an empty message on the lowest writable
	// channel tells the client that the streams are established. Not for v5:
	// kubectl's v5 client may get it before it registered its streams and
	// then prints "Unknown stream id 1, discarding message" on stderr.
	if e.version < 5 {
		first := byte(chError)
		if e.req.stdout {
			first = chStdout
		} else if e.req.stderr {
			first = chStderr
		}
		_ = e.ws.WriteMessage(opBinary, []byte{first})
	}

	code, st := e.execute(ctx)
	e.writeStatus(st)
	_ = e.ws.SendClose(1000, "")
	select { // let the client answer the close so no unread data is reset away
	case <-e.readerEnded:
	case <-time.After(5 * time.Second):
	}
	return code
}

func (e *execSession) writeStatus(st *metaStatus) {
	if e.version >= 4 {
		if st == nil {
			st = &metaStatus{Status: "Success"}
		}
		b, _ := json.Marshal(st)
		_ = e.ws.WriteMessage(opBinary, append([]byte{chError}, b...))
	} else if st != nil { // v1-v3 carry a plain error text and nothing on success
		_ = e.ws.WriteMessage(opBinary, append([]byte{chError}, st.Message...))
	}
}

func (e *execSession) closeStdin() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stdinW != nil {
		e.stdinW.Close()
		e.stdinW = nil
	}
}

func (e *execSession) kill() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pid > 0 && !e.exited {
		_ = syscall.Kill(-e.pid, syscall.SIGKILL) // the whole process group
	}
}

// readLoop handles client frames: stdin data, v5 stream close, resize. When
// the client goes away (close frame or broken connection) the process is
// killed, since nobody is left to read its output.
func (e *execSession) readLoop() {
	defer close(e.readerEnded)
	for {
		_, msg, err := e.ws.ReadMessage()
		if err != nil {
			e.closeStdin()
			e.kill()
			return
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case chStdin:
			e.mu.Lock()
			w := e.stdinW
			e.mu.Unlock()
			if w != nil && len(msg) > 1 {
				if _, err := w.Write(msg[1:]); err != nil { // blocks while the process does not read
					e.closeStdin()
				}
			}
		case chClose:
			if e.version >= 5 && len(msg) > 1 && msg[1] == chStdin {
				e.closeStdin()
			}
		case chResize:
			// no TTY is ever allocated; size changes have nothing to act on
		}
	}
}

// execute starts the process and pumps its output; it returns the exit code
// and the status for the error channel (nil on success).
func (e *execSession) execute(ctx context.Context) (int, *metaStatus) {
	defer func() {
		if e.stdinR != nil {
			e.stdinR.Close()
		}
	}()
	name := e.req.command[0]
	if strings.EqualFold(e.pod.Metadata.Annotations[annNoShell], "true") && !e.ephemeral {
		switch filepath.Base(name) {
		case "sh", "bash", "ash":
			// What a distroless image gives under docker: the runtime's
			// message and exit code 126.
			msg := fmt.Sprintf("OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: exec: %q: executable file not found in $PATH: unknown\r\n", name)
			e.writeOut(msg)
			return 126, exitCodeStatus(126, e.req.command)
		}
	}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return -1, internalErrorStatus(err.Error())
	}
	env := containerEnv(e.pod, e.c, e.dir, e.req.tty)
	path, err := lookPathIn(name, envValue(env, "PATH"), e.dir)
	if err != nil { // as containerd reports a missing binary through the kubelet
		return -1, internalErrorStatus(fmt.Sprintf("error executing command in container: failed to exec in container: "+
			"failed to start exec %q: OCI runtime exec failed: exec failed: container_linux.go:380: starting container process caused: %v: unknown",
			containerID(e.pod.Metadata.UID, e.c.Name)[len("irsteps-test://"):], err))
	}
	args := e.req.command
	if e.nsPid > 0 {
		if path, args, err = nsCommand(e.nsPid, path, args); err != nil {
			return -1, internalErrorStatus(err.Error())
		}
	}
	cmd := &exec.Cmd{Path: path, Args: args, Dir: e.dir, Env: env,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	var pipes []*os.File // parent read ends
	var childEnds []*os.File
	var chans []byte
	addOut := func(ch byte) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			return nil
		}
		pipes, childEnds, chans = append(pipes, r), append(childEnds, w), append(chans, ch)
		return w
	}
	if e.req.stdout {
		cmd.Stdout = addOut(chStdout)
		if e.req.tty { // a TTY has one output stream
			cmd.Stderr = cmd.Stdout
		}
	}
	if e.req.stderr && !e.req.tty {
		cmd.Stderr = addOut(chStderr)
	}
	if e.stdinR != nil {
		cmd.Stdin = e.stdinR
	}
	e.mu.Lock()
	err = cmd.Start()
	if err == nil {
		e.pid = cmd.Process.Pid
	}
	e.mu.Unlock()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		for _, f := range pipes {
			f.Close()
		}
		return -1, internalErrorStatus(err.Error())
	}
	procDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done(): // agent shutting down
			e.kill()
		case <-procDone:
		}
	}()
	var wg sync.WaitGroup
	for i, f := range pipes {
		wg.Add(1)
		go func(f *os.File, ch byte) {
			defer wg.Done()
			e.pump(f, ch)
		}(f, chans[i])
	}
	wg.Wait()
	err = cmd.Wait()
	e.mu.Lock()
	e.exited = true
	e.mu.Unlock()
	close(procDone)
	if err == nil {
		return 0, nil
	}
	if ee, ok := err.(*exec.ExitError); ok {
		ws := ee.Sys().(syscall.WaitStatus)
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return code, exitCodeStatus(code, e.req.command)
	}
	return -1, internalErrorStatus(err.Error())
}

// pump streams one output pipe as frames of at most 32 KiB. The blocking
// WebSocket write throttles the process through the pipe, so no output is
// ever buffered beyond one chunk.
func (e *execSession) pump(f *os.File, ch byte) {
	defer f.Close()
	buf := make([]byte, 32*1024+1)
	buf[0] = ch
	failed := false
	for {
		n, err := f.Read(buf[1:])
		if n > 0 && !failed {
			if werr := e.ws.WriteMessage(opBinary, buf[:n+1]); werr != nil {
				failed = true // client gone: stop the process, keep draining
				e.kill()
			}
		}
		if err != nil {
			return
		}
	}
}

// writeOut sends a message on stderr if requested, else on stdout.
func (e *execSession) writeOut(msg string) {
	ch := byte(chStdout)
	if e.req.stderr && !e.req.tty {
		ch = chStderr
	} else if !e.req.stdout {
		return
	}
	_ = e.ws.WriteMessage(opBinary, append([]byte{ch}, msg...))
}
