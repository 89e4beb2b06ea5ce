package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is just enough of an API server for the agent's calls.
type fakeAPI struct {
	mu        sync.Mutex
	pods      []*pod
	listCalls int
	events    chan string
	requests  map[string][]obj // "METHOD path" -> bodies
	lease     obj
}

func (f *fakeAPI) record(key string, body obj) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[key] = append(f.requests[key], body)
}

func (f *fakeAPI) get(key string) []obj {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]obj(nil), f.requests[key]...)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body obj
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &body)
	}
	key := r.Method + " " + r.URL.Path
	const leaseURL = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
	switch {
	case key == "GET /api/v1/pods" && r.URL.Query().Get("watch") == "true":
		if r.URL.Query().Get("fieldSelector") != "spec.nodeName=irsteps-node-0" {
			http.Error(w, "bad selector", 400)
			return
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-f.events:
				_, _ = io.WriteString(w, ev+"\n")
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case key == "GET /api/v1/pods":
		f.mu.Lock()
		f.listCalls++
		list := obj{"kind": "PodList", "metadata": obj{"resourceVersion": "10"}, "items": f.pods}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(list)
	case key == "POST /api/v1/nodes":
		f.record(key, body)
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"metadata":{"name":"irsteps-node-0","uid":"node-uid"}}`)
	case key == "GET "+leaseURL+"/irsteps-node-0":
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.lease == nil {
			http.Error(w, `{"kind":"Status","code":404}`, 404)
			return
		}
		_ = json.NewEncoder(w).Encode(f.lease)
	case key == "POST "+leaseURL || key == "PUT "+leaseURL+"/irsteps-node-0":
		f.record(key, body)
		f.mu.Lock()
		f.lease = body
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(body)
	default: // PATCH node/pod status, DELETE pod
		f.record(key, body)
		_, _ = io.WriteString(w, "{}")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func podJSON(p *pod) string { b, _ := json.Marshal(p); return string(b) }

func TestAgentAgainstFakeAPIServer(t *testing.T) {
	p1 := testPod("default", "web-1", "u1", nil)
	f := &fakeAPI{pods: []*pod{p1}, events: make(chan string), requests: map[string][]obj{}}
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	api, err := newAPIClient(&restConfig{Server: srv.URL, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := options{nodeName: "irsteps-node-0", address: "127.0.0.1", port: 10250, stateDir: t.TempDir()}
	store := newPodStore()
	a := newAgent(opts, api, store)
	a.startDelay = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.runNode(ctx)
	go a.runPods(ctx)

	// Node registration, status and lease.
	waitFor(t, "node status + lease", func() bool {
		return len(f.get("PATCH /api/v1/nodes/irsteps-node-0/status")) > 0 && len(f.get("POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")) > 0
	})
	node := f.get("POST /api/v1/nodes")[0]
	labels := asMap(asMap(node["metadata"])["labels"])
	st := asMap(f.get("PATCH /api/v1/nodes/irsteps-node-0/status")[0]["status"])
	if labels["kubernetes.io/hostname"] != "irsteps-node-0" || asMap(st["capacity"])["cpu"] != "16" ||
		asMap(asMap(st["daemonEndpoints"])["kubeletEndpoint"])["Port"].(float64) != 10250 ||
		asMap(st["nodeInfo"])["kubeletVersion"] != "v1.20.2" {
		t.Fatalf("node %v status %v", node, st)
	}
	lease := f.get("POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")[0]
	if owner := asList(asMap(lease["metadata"])["ownerReferences"]); len(owner) != 1 || asMap(owner[0])["uid"] != "node-uid" {
		t.Fatalf("lease %v", lease)
	}

	// A listed pod becomes Running with an IP and a log on disk.
	const p1Status = "PATCH /api/v1/namespaces/default/pods/web-1/status"
	waitFor(t, "web-1 status", func() bool { return len(f.get(p1Status)) > 0 })
	ps := asMap(f.get(p1Status)[0]["status"])
	if ps["phase"] != "Running" || !strings.HasPrefix(ps["podIP"].(string), "10.244.") || ps["hostIP"] != "127.0.0.1" {
		t.Fatalf("status %v", ps)
	}
	rec := store.get("default", "web-1")
	if _, err := os.Stat(logPath(rec.dir, "app", false)); err != nil {
		t.Fatal(err)
	}

	// A watched pod with the failure hook is reported not ready.
	p2 := testPod("default", "bad", "u2", map[string]string{annFail: "CrashLoopBackOff"})
	p2.Metadata.ResourceVersion = "11"
	f.events <- `{"type":"ADDED","object":` + podJSON(p2) + `}`
	waitFor(t, "bad status", func() bool { return len(f.get("PATCH /api/v1/namespaces/default/pods/bad/status")) > 0 })
	bs := asMap(f.get("PATCH /api/v1/namespaces/default/pods/bad/status")[0]["status"])
	if condition(bs, "Ready") != "False" {
		t.Fatalf("bad pod status %v", bs)
	}

	// Graceful deletion: the agent finalizes with grace 0 and a UID precondition.
	dt := "2024-01-01T00:00:00Z"
	p1.Metadata.DeletionTimestamp = &dt
	f.events <- `{"type":"MODIFIED","object":` + podJSON(p1) + `}`
	waitFor(t, "delete", func() bool { return len(f.get("DELETE /api/v1/namespaces/default/pods/web-1")) > 0 })
	del := f.get("DELETE /api/v1/namespaces/default/pods/web-1")[0]
	if del["gracePeriodSeconds"].(float64) != 0 || asMap(del["preconditions"])["uid"] != "u1" {
		t.Fatalf("delete options %v", del)
	}
	f.events <- `{"type":"DELETED","object":` + podJSON(p1) + `}`
	waitFor(t, "pod forgotten", func() bool { return store.get("default", "web-1") == nil })
	// The record leaves the store before its files go (forgetPod, then
	// releaseRecord): wait for the folder too rather than look once.
	waitFor(t, "pod dir removed", func() bool {
		_, err := os.Stat(rec.dir)
		return os.IsNotExist(err)
	})

	// 410 Gone: relist.
	f.mu.Lock()
	f.pods = []*pod{p2}
	f.mu.Unlock()
	f.events <- `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","code":410,"reason":"Expired"}}`
	waitFor(t, "relist", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.listCalls >= 2 })
}
