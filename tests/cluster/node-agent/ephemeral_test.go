package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary doubles as the container init, as the agent binary does.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == containerInitFlag {
		os.Exit(containerInitMain(os.Args[2]))
	}
	os.Exit(m.Run())
}

// canMakeNamespaces: the ephemeral-container path needs nsenter, unshare and
// the right to create PID (and, unprivileged, user) namespaces.
func canMakeNamespaces(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"nsenter", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not found")
		}
	}
	if out, err := exec.Command("unshare", "--user", "--map-root-user", "--pid", "--fork", "true").CombinedOutput(); err != nil &&
		os.Geteuid() != 0 {
		t.Skipf("cannot create user and PID namespaces here: %v %s", err, out)
	}
}

func TestEphemeralContainerSeesTargetRootAsPID1(t *testing.T) {
	canMakeNamespaces(t)
	p := testPod("default", "distroless", "uid-eph", map[string]string{annNoShell: "true"})
	p.Spec.EphemeralContainers = []podContainer{{Name: "debug", Image: "busybox@sha256:" + strings.Repeat("a", 64),
		TargetContainerName: "app"}}
	ks, srv := newTestKubelet(t, p)
	rec := ks.store.get("default", "distroless")
	if err := os.MkdirAll(filepath.Join(rootfsDir(rec.dir, p, "app"), "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfsDir(rec.dir, p, "app"), "etc", "marker"), []byte("target-root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &agent{}
	// Until its target's namespace exists the ephemeral container is not running.
	if _, _, err := dialWS(t, srv, "/exec/default/distroless/debug?"+execQuery("true").Encode(),
		[]string{"v4.channel.k8s.io"}, nil); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("exec before start: %v", err)
	}
	if !a.ensureEphemeral(rec, p) {
		t.Fatal("ensureEphemeral saw nothing new")
	}
	t.Cleanup(rec.stopInits)
	if a.ensureEphemeral(rec, p) {
		t.Fatal("a second ensureEphemeral started something again")
	}
	st := rec.ephemeralStatuses(p)
	if len(st) != 1 || st[0]["state"].(obj)["running"] == nil {
		t.Fatalf("statuses %v", st)
	}
	// The debug container has a shell although the pod's image has none.
	res := runExecIn(t, srv, "default", "distroless", "debug",
		execQuery("sh", "-c", "cat /proc/1/root/etc/marker; ls /proc | grep -c '^[0-9]'"), []string{"v4.channel.k8s.io"}, nil, false)
	if string(res.errChan) != `{"metadata":{},"status":"Success"}` {
		t.Fatalf("status %s stderr %q", res.errChan, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(res.stdout)), "\n")
	if len(lines) != 2 || lines[0] != "target-root" {
		t.Fatalf("stdout %q", res.stdout)
	}
	// PID 1, sh and its command substitution children: a handful, not the host's.
	if lines[1] == "" || len(lines[1]) > 1 {
		t.Fatalf("the debug container sees %s processes: not the target's PID namespace", lines[1])
	}
	// tar of /proc/1/root lists the target's files.
	res = runExecIn(t, srv, "default", "distroless", "debug",
		execQuery("tar", "cf", "-", "-C", "/proc/1/root", "."), []string{"v4.channel.k8s.io"}, nil, false)
	tarList := exec.Command("tar", "tf", "-")
	tarList.Stdin = strings.NewReader(string(res.stdout))
	out, err := tarList.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "etc/marker") {
		t.Fatalf("tar listing %q: %v (stderr %q)", out, err, res.stderr)
	}
	// The pod's own container still has no shell.
	res = runExec(t, srv, "default", "distroless", execQuery("sh", "-c", "true"), []string{"v4.channel.k8s.io"}, nil, false)
	if st := decodeStatus(t, res.errChan); st.Reason != "NonZeroExitCode" {
		t.Fatalf("status %s", res.errChan)
	}
}

func TestEphemeralContainerWithMissingTargetIsWaiting(t *testing.T) {
	p := testPod("default", "web", "uid-eph2", nil)
	p.Spec.EphemeralContainers = []podContainer{{Name: "debug", Image: "busybox:1", TargetContainerName: "nope"}}
	ks, _ := newTestKubelet(t, p)
	rec := ks.store.get("default", "web")
	(&agent{}).ensureEphemeral(rec, p)
	st := rec.ephemeralStatuses(p)
	w, _ := st[0]["state"].(obj)["waiting"].(obj)
	if w == nil || w["reason"] != "CreateContainerError" || !strings.Contains(w["message"].(string), `"nope"`) {
		t.Fatalf("statuses %v", st)
	}
}
