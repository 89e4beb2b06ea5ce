package main

// Ephemeral containers (spec.ephemeralContainers, the debug containers of
// `kubectl debug`) and the target container's main process.
//
// What is real and what is emulated:
//   - The agent still runs no images. A container with no ephemeral
//     container targeting it has no process at all, as before; exec into it
//     runs host processes in its rootfs directory.
//   - When an ephemeral container names a targetContainerName, the agent
//     starts a real "main process" for the target: this binary, re-executed
//     with --container-init, in a new PID namespace (and a new user namespace
//     when the agent is not root), where it is PID 1 and chroot()s into the
//     target's rootfs directory. Its /proc/<pid>/root is therefore really the
//     target's files, as a runtime's container init would have it.
//   - exec into the ephemeral container runs, like any exec here, a host
//     binary with the ephemeral container's rootfs directory as working
//     directory (so the "debug image" provides whatever the host has), but
//     it enters the target's PID namespace (nsenter) and gets its own mount
//     namespace with a /proc of that PID namespace (unshare --mount-proc):
//     inside it, `ls /proc` shows PID 1 (the target's main process) and the
//     debug process itself, and /proc/1/root is the target's filesystem, as
//     with targetContainerName on a real node.
//   - Pod-level shareProcessNamespace is not modelled: only the
//     targetContainerName path is. The image is never pulled; imageID is
//     derived from the image string as for every other container.
//   - Without nsenter/unshare or the right to create namespaces, the
//     ephemeral container is reported waiting with reason
//     CreateContainerError and the message says why.

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

const containerInitFlag = "--container-init"

// containerInitMain is the target container's main process: PID 1 of its own
// PID namespace, chrooted into the container's rootfs, waiting until killed.
func containerInitMain(rootfs string) int {
	if err := syscall.Chroot(rootfs); err != nil {
		fmt.Fprintf(os.Stderr, "container init: chroot %s: %v\n", rootfs, err)
		return 1
	}
	if err := syscall.Chdir("/"); err != nil {
		fmt.Fprintf(os.Stderr, "container init: chdir /: %v\n", err)
		return 1
	}
	// PID 1 ignores signals it has no handler for: handle the polite ones.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return 0
}

// containerInit is one running main process.
type containerInit struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed once reaped
}

// ephemeralState is what the agent knows of one ephemeral container.
type ephemeralState struct {
	started time.Time
	err     string // why it could not start ("" = running)
	pull    string // why its image could not be pulled ("" = pulled)
}

// unpullableRegistry: images from here cannot be pulled, as from a registry
// that refuses connections (nothing listens on port 1; nothing is ever
// contacted, the agent pulls no image).
const unpullableRegistry = "127.0.0.1:1/"

// ensureEphemeral starts the main process of every container targeted by an
// ephemeral container of p, and notes when each ephemeral container started.
// It reports whether anything changed (so the status must be written).
func (a *agent) ensureEphemeral(rec *podRecord, p *pod) bool {
	changed := false
	for _, ec := range p.Spec.EphemeralContainers {
		rec.mu.Lock()
		_, known := rec.ephemeral[ec.Name]
		rec.mu.Unlock()
		if known {
			continue
		}
		st := ephemeralState{started: time.Now()}
		if strings.HasPrefix(ec.Image, unpullableRegistry) {
			// In the form of kubelet 1.20's message with containerd 1.6: the
			// CRI's error for a registry that refuses the connection.
			st.pull = fmt.Sprintf("rpc error: code = Unknown desc = failed to pull and unpack image %q: "+
				"failed to resolve reference %q: failed to do request: Head \"https://%sv2/\": "+
				"dial tcp %s: connect: connection refused", ec.Image, ec.Image, unpullableRegistry,
				strings.TrimSuffix(unpullableRegistry, "/"))
		} else if ec.TargetContainerName != "" {
			if p.container(ec.TargetContainerName) == nil {
				st.err = fmt.Sprintf("target container %q not found in pod", ec.TargetContainerName)
			} else if _, err := a.startInit(rec, p, ec.TargetContainerName); err != nil {
				st.err = err.Error()
			}
		}
		rec.mu.Lock()
		rec.ephemeral[ec.Name] = st
		rec.mu.Unlock()
		changed = true
		logEvent("agent.ephemeral.started", "pod", rec.key, "container", ec.Name, "target", ec.TargetContainerName,
			"error", st.err)
	}
	return changed
}

// startInit starts (once) the main process of container name of pod p.
func (a *agent) startInit(rec *podRecord, p *pod, name string) (int, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if in := rec.inits[name]; in != nil {
		return in.cmd.Process.Pid, nil
	}
	for _, tool := range []string{"nsenter", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, fmt.Errorf("the test node agent needs %s (util-linux) to run ephemeral containers with a target", tool)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	rootfs := rootfsDir(rec.dir, p, name)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return 0, err
	}
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Setpgid: true}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd := &exec.Cmd{Path: self, Args: []string{"irsteps-container-init", containerInitFlag, rootfs},
		Dir: "/", Env: []string{}, SysProcAttr: attr}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the main process of container %q in a new PID namespace: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reap it whenever it ends
	// Running means chrooted: until then /proc/<pid>/root is still ours.
	pid := cmd.Process.Pid
	if resolved, err := filepath.EvalSymlinks(rootfs); err == nil {
		rootfs = resolved
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err == nil && root == rootfs {
			break
		}
		select {
		case <-exited:
			return 0, fmt.Errorf("the main process of container %q ended at once (chroot into %s failed?)", name, rootfs)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return 0, fmt.Errorf("the main process of container %q did not enter %s within 10s", name, rootfs)
		}
	}
	rec.inits[name] = &containerInit{cmd: cmd, started: time.Now(), exited: exited}
	logEvent("agent.container.init", "pod", rec.key, "container", name, "pid", cmd.Process.Pid, "rootfs", rootfs)
	return cmd.Process.Pid, nil
}

// initPid is the host PID of the main process of container name, 0 if none.
func (r *podRecord) initPid(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in := r.inits[name]; in != nil && in.cmd.Process != nil {
		return in.cmd.Process.Pid
	}
	return 0
}

// stopInits kills the pod's main processes (pod removal, agent shutdown).
func (r *podRecord) stopInits() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, in := range r.inits {
		_ = in.cmd.Process.Kill() // PID 1 dying takes its namespace's processes along
		select {                  // reaped, so that no zombie outlives the pod
		case <-in.exited:
		case <-time.After(2 * time.Second):
		}
		delete(r.inits, name)
	}
}

// ephemeralSignature changes whenever the set of ephemeral containers does.
func ephemeralSignature(p *pod) string {
	var names []string
	for _, ec := range p.Spec.EphemeralContainers {
		names = append(names, ec.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// ephemeralStatuses is status.ephemeralContainerStatuses: running once
// started, waiting with CreateContainerError when the target could not be
// entered, with ErrImagePull when the image cannot be pulled.
func (r *podRecord) ephemeralStatuses(p *pod) []obj {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []obj
	for _, ec := range p.Spec.EphemeralContainers {
		st, ok := r.ephemeral[ec.Name]
		cs := obj{"name": ec.Name, "image": ec.Image, "imageID": imageID(ec.Image), "restartCount": 0,
			"ready": false, "lastState": obj{}}
		switch {
		case !ok:
			cs["state"] = obj{"waiting": obj{"reason": "ContainerCreating"}}
		case st.pull != "":
			// The kubelet says ErrImagePull, with the runtime's error, for
			// the failed pull and ImagePullBackOff while it waits to try
			// again (pkg/kubelet/images/image_manager.go EnsureImageExists);
			// the first reaches the status ~12 s after the container was
			// added, the second ~45 s (pkg/kubelet/kubelet.go syncPod). The
			// agent says the first at once.
			cs["state"] = obj{"waiting": obj{"reason": "ErrImagePull", "message": st.pull}}
		case st.err != "":
			cs["state"] = obj{"waiting": obj{"reason": "CreateContainerError", "message": st.err}}
		default:
			cs["containerID"] = containerID(p.Metadata.UID, ec.Name)
			cs["state"] = obj{"running": obj{"startedAt": kubeTime(st.started)}}
		}
		out = append(out, cs)
	}
	return out
}

// nsCommand wraps an exec'd command so that it runs in the PID namespace of
// the process initPid with a /proc of that namespace.
func nsCommand(initPid int, path string, args []string) (string, []string, error) {
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return "", nil, err
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return "", nil, err
	}
	wrapped := []string{"nsenter", "--target", fmt.Sprint(initPid), "--pid"}
	if os.Geteuid() != 0 {
		wrapped = append(wrapped, "--user", "--preserve-credentials")
	}
	wrapped = append(wrapped, "--", unshare, "--mount", "--mount-proc", "--", path)
	return nsenter, append(wrapped, args[1:]...), nil
}
