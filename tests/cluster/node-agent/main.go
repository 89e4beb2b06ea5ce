// Command node-agent is a test double for the kubelet: it registers a Node
// with a real API server, reports pods bound to it as Running and serves the
// kubelet's containerLogs / exec / checkpoint endpoints so that `kubectl logs`
// and `kubectl exec` go through the API server's node proxy as on a real
// cluster. It runs no containers: exec runs real processes on the host (the
// one exception, a target's main process for ephemeral containers, is in
// ephemeral.go).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

type options struct {
	kubeconfig string
	nodeName   string
	address    string
	port       int
	certFile   string
	keyFile    string
	clientCA   string
	stateDir   string
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == containerInitFlag { // a target container's main process (ephemeral.go)
		os.Exit(containerInitMain(os.Args[2]))
	}
	var o options
	fs := flag.NewFlagSet("node-agent", flag.ContinueOnError)
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig used to reach the API server (empty: serve only)")
	fs.StringVar(&o.nodeName, "node-name", "irsteps-node-0", "name of the Node object")
	fs.StringVar(&o.address, "address", "127.0.0.1", "IP to listen on and to report as InternalIP")
	fs.IntVar(&o.port, "port", 10250, "HTTPS port for the kubelet API")
	fs.StringVar(&o.certFile, "tls-cert-file", "", "serving certificate (empty: self-signed)")
	fs.StringVar(&o.keyFile, "tls-private-key-file", "", "serving key")
	fs.StringVar(&o.clientCA, "client-ca-file", "", "CA that signs API server client certs (empty: no client certs required)")
	fs.StringVar(&o.stateDir, "state-dir", "", "directory for pod logs, rootfs dirs and checkpoints")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "node-agent: unexpected arguments %v\n", fs.Args())
		os.Exit(2)
	}
	if err := run(o); err != nil {
		logEvent("agent.fatal", "error", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.nodeName == "" || o.stateDir == "" || o.port <= 0 || o.port > 65535 {
		return errors.New("--node-name, --state-dir and a valid --port are required")
	}
	if net.ParseIP(o.address) == nil {
		return fmt.Errorf("--address %q is not an IP address", o.address)
	}
	stateDir, err := filepath.Abs(o.stateDir)
	if err != nil {
		return err
	}
	o.stateDir = stateDir
	for _, d := range []string{"pods", "checkpoints"} {
		if err := os.MkdirAll(filepath.Join(o.stateDir, d), 0o755); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	store := newPodStore()
	ks := &kubeletServer{stateDir: o.stateDir, store: store, baseCtx: ctx, requireClientCert: o.clientCA != ""}
	tlsCfg, err := servingTLSConfig(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.address, strconv.Itoa(o.port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:   ks,
		TLSConfig: tlsCfg,
		// Hijacking (WebSocket exec) needs HTTP/1.1; an empty map disables h2.
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          jsonErrorLog(),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	logEvent("agent.serving", "address", ln.Addr().String(), "clientCertRequired", ks.requireClientCert, "stateDir", o.stateDir)

	if o.kubeconfig != "" {
		rc, err := loadKubeconfig(o.kubeconfig)
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
		api, err := newAPIClient(rc)
		if err != nil {
			return err
		}
		a := newAgent(o, api, store)
		go a.runNode(ctx)
		go a.runPods(ctx)
	} else {
		logEvent("agent.no-kubeconfig", "note", "serving the kubelet API only; no node registration")
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	logEvent("agent.stopping", "reason", "signal")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	// Hijacked exec connections are not covered by Shutdown: their sessions
	// kill their processes when ctx ends; wait so no child outlives us.
	execsDone := make(chan struct{})
	go func() { ks.execs.Wait(); close(execsDone) }()
	select {
	case <-execsDone:
	case <-shutCtx.Done():
	}
	for _, uid := range store.uids() { // no container main process outlives the agent
		if rec := store.getUID(uid); rec != nil {
			rec.stopInits()
		}
	}
	logEvent("agent.stopped")
	return nil
}
