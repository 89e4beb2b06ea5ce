package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestImageIDIsDeterministic(t *testing.T) {
	for image, repo := range map[string]string{
		"nginx:1.19":                      "nginx",
		"nginx":                           "nginx",
		"registry.local:5000/team/app:v1": "registry.local:5000/team/app",
		"registry.local:5000/team/app":    "registry.local:5000/team/app",
		"busybox@sha256:abcd":             "busybox",
	} {
		id := imageID(image)
		want := "docker-pullable://" + repo + "@sha256:" + sha256Hex(image)
		if id != want || imageID(image) != id {
			t.Errorf("%s: %s want %s", image, id, want)
		}
	}
	// sha256 of "nginx:1.19", computed independently with `echo -n nginx:1.19 | sha256sum`.
	if got := imageID("nginx:1.19"); got != "docker-pullable://nginx@sha256:5964cbb913834cb5a4b5e31958f20dffa17a552e907430c27baf3c7e093ac336" {
		t.Fatalf("imageID %s", got)
	}
}

func statusOf(t *testing.T, p *pod) map[string]interface{} {
	t.Helper()
	b, _ := json.Marshal(buildPodStatus(p, "10.244.0.7", "127.0.0.1", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)))
	var m map[string]interface{}
	_ = json.Unmarshal(b, &m)
	return m
}

func condition(m map[string]interface{}, typ string) string {
	for _, c := range m["conditions"].([]interface{}) {
		if c.(map[string]interface{})["type"] == typ {
			return c.(map[string]interface{})["status"].(string)
		}
	}
	return ""
}

func TestHealthyPodStatus(t *testing.T) {
	p := testPod("default", "web", "uid-1", nil)
	p.Spec.InitContainers = []podContainer{{Name: "init", Image: "busybox"}}
	m := statusOf(t, p)
	if m["phase"] != "Running" || m["podIP"] != "10.244.0.7" || m["hostIP"] != "127.0.0.1" || m["startTime"] != "2024-01-02T03:04:05Z" {
		t.Fatalf("%v", m)
	}
	for _, c := range []string{"Initialized", "Ready", "ContainersReady", "PodScheduled"} {
		if condition(m, c) != "True" {
			t.Fatalf("%s not True", c)
		}
	}
	cs := m["containerStatuses"].([]interface{})[0].(map[string]interface{})
	if cs["ready"] != true || cs["started"] != true || cs["restartCount"].(float64) != 0 ||
		cs["imageID"] != imageID("registry.local:5000/team/app:1.2.3") ||
		!strings.HasPrefix(cs["containerID"].(string), "irsteps-test://") ||
		cs["state"].(map[string]interface{})["running"] == nil {
		t.Fatalf("%v", cs)
	}
	ics := m["initContainerStatuses"].([]interface{})[0].(map[string]interface{})
	if term := ics["state"].(map[string]interface{})["terminated"].(map[string]interface{}); term["reason"] != "Completed" {
		t.Fatalf("%v", ics)
	}
}

func TestFailingPodStatus(t *testing.T) {
	m := statusOf(t, testPod("default", "web", "uid-1", map[string]string{annFail: "CrashLoopBackOff"}))
	if m["phase"] != "Running" || condition(m, "Ready") != "False" || condition(m, "ContainersReady") != "False" {
		t.Fatalf("%v", m)
	}
	cs := m["containerStatuses"].([]interface{})[0].(map[string]interface{})
	waiting, _ := cs["state"].(map[string]interface{})["waiting"].(map[string]interface{})
	if cs["ready"] != false || cs["restartCount"].(float64) < 1 || waiting["reason"] != "CrashLoopBackOff" ||
		cs["lastState"].(map[string]interface{})["terminated"] == nil {
		t.Fatalf("%v", cs)
	}
}

func TestRestartsHookAndPreviousLog(t *testing.T) {
	p := testPod("default", "web", "uid-1", map[string]string{annRestarts: "3"})
	cs := statusOf(t, p)["containerStatuses"].([]interface{})[0].(map[string]interface{})
	if cs["restartCount"].(float64) != 3 || cs["ready"] != true || cs["lastState"].(map[string]interface{})["terminated"] == nil {
		t.Fatalf("%v", cs)
	}
	dir := t.TempDir()
	if err := prepareContainerFiles(dir, p, "n", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(logPath(dir, "app", true)); err != nil {
		t.Fatal("previous.log missing:", err)
	}
	healthy := testPod("default", "h", "uid-2", nil)
	dir2 := t.TempDir()
	_ = prepareContainerFiles(dir2, healthy, "n", time.Now())
	if _, err := os.Stat(logPath(dir2, "app", true)); !os.IsNotExist(err) {
		t.Fatal("previous.log written without restarts")
	}
}

func TestHostNetworkPodUsesHostIP(t *testing.T) {
	p := testPod("kube-system", "hn", "uid-1", nil)
	p.Spec.HostNetwork = true
	if m := statusOf(t, p); m["podIP"] != "127.0.0.1" {
		t.Fatalf("podIP %v", m["podIP"])
	}
}

func TestIPAllocator(t *testing.T) {
	a := newIPAllocator()
	seen := map[string]bool{}
	for i := 0; i < 600; i++ {
		ip, err := a.allocate(string(rune('a'+i%26))+strings.Repeat("x", i), "")
		if err != nil || seen[ip] || !strings.HasPrefix(ip, "10.244.") || strings.HasSuffix(ip, ".0") || strings.HasSuffix(ip, ".255") {
			t.Fatalf("allocation %d: %q %v", i, ip, err)
		}
		seen[ip] = true
	}
	ip1, _ := a.allocate("same", "")
	if ip2, _ := a.allocate("same", ""); ip1 != ip2 {
		t.Fatal("same UID got two IPs")
	}
	if ip, _ := a.allocate("restored", "10.244.200.9"); ip != "10.244.200.9" {
		t.Fatalf("existing IP not kept: %s", ip)
	}
	if ip, _ := a.allocate("dup", "10.244.200.9"); ip == "10.244.200.9" {
		t.Fatal("IP handed out twice")
	}
	a.release("restored")
	if ip, _ := a.allocate("again", "10.244.200.9"); ip != "10.244.200.9" {
		t.Fatal("released IP not reusable")
	}
}
