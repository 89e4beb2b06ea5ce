package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Test hooks read from pod annotations.
const (
	annFail       = "irsteps.io/test-fail"
	annRestarts   = "irsteps.io/test-restarts"
	annLog        = "irsteps.io/test-log"
	annRootfs     = "irsteps.io/test-rootfs"
	annNoShell    = "irsteps.io/test-no-shell"
	annCheckpoint = "irsteps.io/test-checkpoint"
)

type obj = map[string]interface{}

// The subset of the Pod API the agent reads.
type pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		UID               string            `json:"uid"`
		ResourceVersion   string            `json:"resourceVersion"`
		Annotations       map[string]string `json:"annotations"`
		DeletionTimestamp *string           `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName            string         `json:"nodeName"`
		HostNetwork         bool           `json:"hostNetwork"`
		Containers          []podContainer `json:"containers"`
		InitContainers      []podContainer `json:"initContainers"`
		EphemeralContainers []podContainer `json:"ephemeralContainers"`
	} `json:"spec"`
	Status struct {
		Phase     string `json:"phase"`
		PodIP     string `json:"podIP"`
		StartTime string `json:"startTime"`
	} `json:"status"`
}

type podContainer struct {
	Name                string `json:"name"`
	Image               string `json:"image"`
	TargetContainerName string `json:"targetContainerName"` // ephemeral containers only
	Env                 []struct {
		Name      string      `json:"name"`
		Value     string      `json:"value"`
		ValueFrom interface{} `json:"valueFrom"`
	} `json:"env"`
}

func (p *pod) container(name string) *podContainer {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// anyContainer also finds ephemeral containers (exec and logs reach them).
func (p *pod) anyContainer(name string) (c *podContainer, ephemeral bool) {
	if c := p.container(name); c != nil {
		return c, false
	}
	for i := range p.Spec.EphemeralContainers {
		if p.Spec.EphemeralContainers[i].Name == name {
			return &p.Spec.EphemeralContainers[i], true
		}
	}
	return nil, false
}

// testHooks returns the simulated failure reason ("" = healthy) and restart count.
func testHooks(p *pod) (fail string, restarts int) {
	fail = p.Metadata.Annotations[annFail]
	if n, err := strconv.Atoi(strings.TrimSpace(p.Metadata.Annotations[annRestarts])); err == nil && n > 0 {
		restarts = n
	}
	if fail != "" && restarts == 0 {
		restarts = 1 // a crash-looping container has restarted at least once
	}
	return fail, restarts
}

// imageRepo strips the tag and digest: "reg:5000/a/b:1.2@sha256:.." -> "reg:5000/a/b".
func imageRepo(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// imageID is deterministic so tests can predict it: the digest is the
// sha256 of the image string from the pod spec.
func imageID(image string) string {
	return "docker-pullable://" + imageRepo(image) + "@sha256:" + sha256Hex(image)
}

func containerID(uid, name string) string {
	return "irsteps-test://" + sha256Hex(uid+"/"+name)
}

func kubeTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// buildPodStatus is what a kubelet would report for a pod whose containers
// all started at start (or crash-loop, with the test-fail hook).
func buildPodStatus(p *pod, podIP, hostIP string, start time.Time) obj {
	fail, restarts := testHooks(p)
	started := kubeTime(start)
	ready := "True"
	var notReady []string
	var statuses []obj
	for _, c := range p.Spec.Containers {
		cs := obj{
			"name": c.Name, "image": c.Image, "imageID": imageID(c.Image),
			"containerID": containerID(p.Metadata.UID, c.Name), "restartCount": restarts,
			"ready": fail == "", "started": fail == "",
		}
		if fail != "" {
			notReady = append(notReady, c.Name)
			cs["state"] = obj{"waiting": obj{"reason": fail, "message": fmt.Sprintf(
				"back-off 5m0s restarting failed container=%s pod=%s_%s(%s)", c.Name, p.Metadata.Name, p.Metadata.Namespace, p.Metadata.UID)}}
		} else {
			cs["state"] = obj{"running": obj{"startedAt": started}}
		}
		if restarts > 0 {
			cs["lastState"] = obj{"terminated": obj{"exitCode": 1, "reason": "Error",
				"startedAt": kubeTime(start.Add(-time.Minute)), "finishedAt": started,
				"containerID": containerID(p.Metadata.UID, c.Name)}}
		} else {
			cs["lastState"] = obj{}
		}
		statuses = append(statuses, cs)
	}
	var initStatuses []obj
	for _, c := range p.Spec.InitContainers {
		initStatuses = append(initStatuses, obj{
			"name": c.Name, "image": c.Image, "imageID": imageID(c.Image),
			"containerID": containerID(p.Metadata.UID, c.Name), "restartCount": 0, "ready": true,
			"state": obj{"terminated": obj{"exitCode": 0, "reason": "Completed",
				"startedAt": started, "finishedAt": started, "containerID": containerID(p.Metadata.UID, c.Name)}},
			"lastState": obj{},
		})
	}
	cond := func(typ, status, reason, msg string) obj {
		c := obj{"type": typ, "status": status, "lastProbeTime": nil, "lastTransitionTime": started}
		if reason != "" {
			c["reason"], c["message"] = reason, msg
		}
		return c
	}
	var reason, msg string
	if len(notReady) > 0 {
		ready = "False"
		reason, msg = "ContainersNotReady", "containers with unready status: ["+strings.Join(notReady, " ")+"]"
	}
	if p.Spec.HostNetwork {
		podIP = hostIP
	}
	st := obj{
		"phase": "Running",
		"conditions": []obj{
			cond("Initialized", "True", "", ""),
			cond("Ready", ready, reason, msg),
			cond("ContainersReady", ready, reason, msg),
			cond("PodScheduled", "True", "", ""),
		},
		"hostIP": hostIP, "podIP": podIP, "podIPs": []obj{{"ip": podIP}},
		"startTime": started, "containerStatuses": statuses,
	}
	if len(initStatuses) > 0 {
		st["initContainerStatuses"] = initStatuses
	}
	return st
}

// ipAllocator hands out pod IPs from 10.244.0.0/16, one per pod UID.
type ipAllocator struct {
	mu    sync.Mutex
	byUID map[string]uint32
	used  map[uint32]bool
	next  uint32
}

func newIPAllocator() *ipAllocator {
	return &ipAllocator{byUID: map[string]uint32{}, used: map[uint32]bool{}, next: 2}
}

func ipFromOffset(off uint32) string {
	return net.IPv4(10, 244, byte(off>>8), byte(off)).String()
}

// allocate returns the pod's IP; want (the IP it already has after an agent
// restart) is kept when it is in range and free.
func (a *ipAllocator) allocate(uid, want string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if off, ok := a.byUID[uid]; ok {
		return ipFromOffset(off), nil
	}
	if ip := net.ParseIP(want).To4(); ip != nil && ip[0] == 10 && ip[1] == 244 {
		off := uint32(ip[2])<<8 | uint32(ip[3])
		if !a.used[off] {
			a.used[off], a.byUID[uid] = true, off
			return want, nil
		}
	}
	for i := 0; i < 65536; i++ {
		off := a.next
		a.next++
		if a.next > 65534 {
			a.next = 2
		}
		if off < 2 || off > 65534 || byte(off) == 0 || byte(off) == 255 || a.used[off] {
			continue
		}
		a.used[off], a.byUID[uid] = true, off
		return ipFromOffset(off), nil
	}
	return "", fmt.Errorf("pod IP range 10.244.0.0/16 exhausted")
}

func (a *ipAllocator) release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if off, ok := a.byUID[uid]; ok {
		delete(a.used, off)
		delete(a.byUID, uid)
	}
}
