package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// apiClient is a minimal REST client for the API server (no client-go: the
// agent may only use the standard library).
type apiClient struct {
	base       string
	hc         *http.Client
	token      string
	user, pass string
}

type apiError struct {
	Code   int
	Method string
	Path   string
	Body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Code, e.Body)
}

func isStatus(err error, code int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Code == code
}

func newAPIClient(rc *restConfig) (*apiClient, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: rc.Insecure}
	if len(rc.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(rc.CAData) {
			return nil, errors.New("kubeconfig CA data holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	if len(rc.CertData) > 0 {
		kp, err := tls.X509KeyPair(rc.CertData, rc.KeyData)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{kp}
	}
	tr := &http.Transport{
		TLSClientConfig:     tlsCfg,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	// No client-wide timeout: watches are long-lived; callers use contexts.
	return &apiClient{base: rc.Server, hc: &http.Client{Transport: tr}, token: rc.Token, user: rc.Username, pass: rc.Password}, nil
}

func (c *apiClient) newRequest(ctx context.Context, method, path, contentType string, body interface{}) (*http.Request, error) {
	var rdr io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rdr = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rdr)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "irsteps-node-agent/1 (kubelet test double)")
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	return req, nil
}

// do sends one request (15 s deadline) and decodes a 2xx JSON reply into out.
func (c *apiClient) do(ctx context.Context, method, path, contentType string, body, out interface{}) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, contentType, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &apiError{Code: resp.StatusCode, Method: method, Path: path, Body: string(bytes.TrimSpace(b))}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// stream opens a long-running GET (a watch); the caller closes the body.
func (c *apiClient) stream(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, &apiError{Code: resp.StatusCode, Method: "GET", Path: path, Body: string(bytes.TrimSpace(b))}
	}
	return resp.Body, nil
}
