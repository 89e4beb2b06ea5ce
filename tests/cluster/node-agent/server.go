package main

import (
	"archive/tar"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// kubeletServer serves the subset of the kubelet API the project uses.
type kubeletServer struct {
	stateDir          string
	store             *podStore
	baseCtx           context.Context
	requireClientCert bool
	execs             sync.WaitGroup // running exec sessions, awaited on shutdown
}

func (s *kubeletServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		_, _ = io.WriteString(w, "ok")
		return
	}
	// The TLS layer verifies any certificate offered against the client CA;
	// here every endpoint but /healthz insists that one was offered.
	if s.requireClientCert && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		http.Error(w, "Unauthorized: a client certificate signed by the client CA is required", http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 4 || len(parts) == 5 {
		uid, container := "", parts[3]
		if len(parts) == 5 { // /exec/{ns}/{pod}/{uid}/{container}
			uid, container = parts[3], parts[4]
		}
		switch {
		case parts[0] == "containerLogs" && len(parts) == 4:
			s.handleLogs(w, r, parts[1], parts[2], container)
			return
		case parts[0] == "exec":
			s.handleExec(w, r, parts[1], parts[2], uid, container)
			return
		case parts[0] == "checkpoint" && len(parts) == 4:
			s.handleCheckpoint(w, r, parts[1], parts[2], container)
			return
		}
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
}

// lookupContainer finds the pod and container or writes a 404 like the kubelet.
func (s *kubeletServer) lookupContainer(w http.ResponseWriter, ns, name, uid, container string) (*podRecord, *pod, *podContainer, bool) {
	rec := s.store.get(ns, name)
	if rec == nil || (uid != "" && rec.snapshot().Metadata.UID != uid) {
		http.Error(w, fmt.Sprintf("pod %q does not exist on this node", ns+"/"+name), http.StatusNotFound)
		return nil, nil, nil, false
	}
	p := rec.snapshot()
	c, _ := p.anyContainer(container)
	if c == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, ns+"/"+name), http.StatusNotFound)
		return nil, nil, nil, false
	}
	return rec, p, c, true
}

func (s *kubeletServer) handleLogs(w http.ResponseWriter, r *http.Request, ns, name, container string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rec, _, _, ok := s.lookupContainer(w, ns, name, "", container)
	if !ok {
		return
	}
	opts, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	path := logPath(rec.dir, container, opts.previous)
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, name)
		if opts.previous {
			msg = fmt.Sprintf("previous terminated container %q in pod %q not found", container, name)
		}
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush() // the API server waits for headers before it streams to kubectl
	if err := streamLog(r.Context(), path, opts, w, flush, rec.gone); err != nil {
		logEvent("agent.logs.error", "pod", ns+"/"+name, "container", container, "error", err)
	}
}

func (s *kubeletServer) handleCheckpoint(w http.ResponseWriter, r *http.Request, ns, name, container string) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rec, p, _, ok := s.lookupContainer(w, ns, name, "", container)
	if !ok {
		return
	}
	if !strings.EqualFold(p.Metadata.Annotations[annCheckpoint], "true") {
		http.Error(w, "checkpointing not supported", http.StatusNotFound)
		return
	}
	dir := filepath.Join(s.stateDir, "checkpoints")
	out := filepath.Join(dir, fmt.Sprintf("checkpoint-%s_%s-%s-%s.tar", name, ns, container, time.Now().UTC().Format(time.RFC3339)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		http.Error(w, "checkpoint failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if err := tarDir(rootfsDir(rec.dir, p, container), out); err != nil {
		http.Error(w, "checkpoint failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	logEvent("agent.checkpoint", "pod", ns+"/"+name, "container", container, "path", out)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"items": {out}})
}

// tarDir streams dir into a tar file (written to a temp name, then renamed,
// so a reader never sees half a checkpoint).
func tarDir(dir, out string) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	walkErr := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		link := ""
		if info.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil // sockets and the like are skipped
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.CopyN(tw, src, info.Size())
		return err
	})
	if err := tw.Close(); walkErr == nil {
		walkErr = err
	}
	if err := f.Close(); walkErr == nil {
		walkErr = err
	}
	if walkErr != nil {
		os.Remove(out + ".tmp")
		return walkErr
	}
	return os.Rename(out+".tmp", out)
}

// servingTLSConfig loads the serving pair (or makes a self-signed one when
// none is given) and verifies client certificates against --client-ca-file.
func servingTLSConfig(o options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	var cert tls.Certificate
	var err error
	if o.certFile != "" || o.keyFile != "" {
		cert, err = tls.LoadX509KeyPair(o.certFile, o.keyFile)
	} else {
		cert, err = selfSignedCert(o.nodeName, o.address)
	}
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("--client-ca-file holds no PEM certificate")
		}
		cfg.ClientCAs = pool
		// Verified when offered; ServeHTTP rejects requests without one
		// except /healthz (a probe has no client certificate).
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func selfSignedCert(name, ip string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{name}, IPAddresses: []net.IP{net.ParseIP(ip)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
