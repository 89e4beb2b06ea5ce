package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	heartbeatInterval = 10 * time.Second
	leaseDuration     = 40 // seconds, as the kubelet uses
	leasePath         = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
)

// agent is the API-server-facing half of the node agent.
type agent struct {
	opts    options
	api     *apiClient
	store   *podStore
	ips     *ipAllocator
	started time.Time

	startDelay time.Duration // pending -> Running

	mu      sync.Mutex
	nodeUID string
	lease   obj
}

func newAgent(o options, api *apiClient, store *podStore) *agent {
	return &agent{opts: o, api: api, store: store, ips: newIPAllocator(),
		started: time.Now(), startDelay: 500 * time.Millisecond}
}

func (a *agent) nodePath() string { return "/api/v1/nodes/" + url.PathEscape(a.opts.nodeName) }

func (a *agent) nodeLabels() obj {
	return obj{"kubernetes.io/hostname": a.opts.nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
}

func readTrimmed(path, fallback string) string {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	return fallback
}

func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "PRETTY_NAME=") {
				return strings.Trim(strings.TrimPrefix(l, "PRETTY_NAME="), `"`)
			}
		}
	}
	return "Linux"
}

func (a *agent) nodeStatus(now time.Time) obj {
	hb, tr := kubeTime(now), kubeTime(a.started)
	cond := func(typ, status, reason, msg string) obj {
		return obj{"type": typ, "status": status, "reason": reason, "message": msg, "lastHeartbeatTime": hb, "lastTransitionTime": tr}
	}
	res := obj{"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "100Gi"}
	id := sha256Hex(a.opts.nodeName)[:32]
	return obj{
		"capacity": res, "allocatable": res,
		"conditions": []obj{
			cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
		},
		"addresses": []obj{
			{"type": "InternalIP", "address": a.opts.address},
			{"type": "Hostname", "address": a.opts.nodeName},
		},
		"daemonEndpoints": obj{"kubeletEndpoint": obj{"Port": a.opts.port}},
		"nodeInfo": obj{
			"machineID": id, "systemUUID": id, "bootID": sha256Hex(a.started.String())[:32],
			"kernelVersion":           readTrimmed("/proc/sys/kernel/osrelease", "unknown"),
			"osImage":                 osImage() + " (irsteps test node)",
			"containerRuntimeVersion": "irsteps-test://1",
			"kubeletVersion":          "v1.20.2", "kubeProxyVersion": "v1.20.2",
			"operatingSystem": "linux", "architecture": "amd64",
		},
	}
}

// register creates the Node, or on conflict re-labels the existing one;
// then it writes the full status.
func (a *agent) register(ctx context.Context) error {
	node := obj{"apiVersion": "v1", "kind": "Node",
		"metadata": obj{"name": a.opts.nodeName, "labels": a.nodeLabels()},
		"spec":     obj{}, "status": a.nodeStatus(time.Now())}
	var created struct {
		Metadata struct{ UID string } `json:"metadata"`
	}
	err := a.api.do(ctx, "POST", "/api/v1/nodes", "", node, &created)
	if isStatus(err, 409) {
		err = a.api.do(ctx, "PATCH", a.nodePath(), "application/strategic-merge-patch+json",
			obj{"metadata": obj{"labels": a.nodeLabels()}}, &created)
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.nodeUID = created.Metadata.UID
	a.mu.Unlock()
	return a.patchNodeStatus(ctx)
}

func (a *agent) patchNodeStatus(ctx context.Context) error {
	// Strategic merge: conditions/addresses merge by "type".
	return a.api.do(ctx, "PATCH", a.nodePath()+"/status", "application/strategic-merge-patch+json",
		obj{"status": a.nodeStatus(time.Now())}, nil)
}

// renewLease keeps kube-node-lease/<node> fresh; the node lifecycle
// controller treats the node as healthy while it is renewed.
func (a *agent) renewLease(ctx context.Context) error {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00") // MicroTime
	name := url.PathEscape(a.opts.nodeName)
	a.mu.Lock()
	lease, nodeUID := a.lease, a.nodeUID
	a.mu.Unlock()
	if lease == nil {
		var got obj
		err := a.api.do(ctx, "GET", leasePath+"/"+name, "", nil, &got)
		if isStatus(err, 404) {
			meta := obj{"name": a.opts.nodeName, "namespace": "kube-node-lease"}
			if nodeUID != "" { // garbage-collected with the Node, as the kubelet's is
				meta["ownerReferences"] = []obj{{"apiVersion": "v1", "kind": "Node", "name": a.opts.nodeName, "uid": nodeUID}}
			}
			err = a.api.do(ctx, "POST", leasePath, "", obj{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
				"metadata": meta, "spec": obj{"holderIdentity": a.opts.nodeName, "leaseDurationSeconds": leaseDuration, "renewTime": now}}, &got)
			if err == nil {
				a.setLease(got)
			}
			return err
		}
		if err != nil {
			return err
		}
		lease = got
	}
	spec := asMap(lease["spec"])
	if spec == nil {
		spec = obj{}
		lease["spec"] = spec
	}
	spec["holderIdentity"], spec["leaseDurationSeconds"], spec["renewTime"] = a.opts.nodeName, leaseDuration, now
	var updated obj
	err := a.api.do(ctx, "PUT", leasePath+"/"+name, "", lease, &updated)
	if err != nil {
		a.setLease(nil) // re-read next time (conflict, deleted, ...)
		return err
	}
	a.setLease(updated)
	return nil
}

func (a *agent) setLease(l obj) {
	a.mu.Lock()
	a.lease = l
	a.mu.Unlock()
}

// runNode registers the node and then heartbeats until ctx ends.
func (a *agent) runNode(ctx context.Context) {
	registered := false
	for {
		if !registered {
			if err := a.register(ctx); err != nil {
				logEvent("agent.node.register-failed", "node", a.opts.nodeName, "error", err)
			} else {
				registered = true
				logEvent("agent.node.registered", "node", a.opts.nodeName, "uid", a.nodeUID)
			}
		} else if err := a.patchNodeStatus(ctx); err != nil {
			logEvent("agent.node.heartbeat-failed", "node", a.opts.nodeName, "error", err)
			if isStatus(err, 404) { // someone deleted the Node: create it again
				registered = false
				continue
			}
		}
		if registered {
			if err := a.renewLease(ctx); err != nil {
				logEvent("agent.node.lease-failed", "node", a.opts.nodeName, "error", err)
				if isStatus(err, 409) {
					_ = a.renewLease(ctx) // stale resourceVersion: retry with a fresh read
				}
			}
		}
		wait := heartbeatInterval
		if !registered {
			wait = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
