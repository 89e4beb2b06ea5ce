package main

// Helpers of the exec endpoint: the metav1.Status replies of the error
// channel and the container-like environment of the executed process.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// metaStatus is metav1.Status in the field order the kubelet marshals it.
type metaStatus struct {
	Metadata struct{}       `json:"metadata"`
	Status   string         `json:"status"`
	Message  string         `json:"message,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Details  *statusDetails `json:"details,omitempty"`
	Code     int            `json:"code,omitempty"`
}

type statusDetails struct {
	Causes []statusCause `json:"causes,omitempty"`
}

type statusCause struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func exitCodeStatus(code int, command []string) *metaStatus {
	return &metaStatus{Status: "Failure", Reason: "NonZeroExitCode",
		Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", command, code),
		Details: &statusDetails{Causes: []statusCause{{Reason: "ExitCode", Message: fmt.Sprint(code)}}}}
}

func internalErrorStatus(msg string) *metaStatus {
	return &metaStatus{Status: "Failure", Reason: "InternalError", Code: 500,
		Message: "Internal error occurred: " + msg, Details: &statusDetails{Causes: []statusCause{{Message: msg}}}}
}

// containerEnv: a default PATH, HOSTNAME, HOME (the rootfs, so commands do
// not touch the host's home) and the spec's plain env values, which win.
func containerEnv(p *pod, c *podContainer, dir string, tty bool) []string {
	env := map[string]string{"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": p.Metadata.Name, "HOME": dir}
	order := []string{"PATH", "HOSTNAME", "HOME"}
	if tty {
		env["TERM"], order = "xterm", append(order, "TERM")
	}
	for _, v := range c.Env {
		if v.ValueFrom != nil || v.Name == "" {
			continue // secrets/fieldRefs are not resolved by this test double
		}
		if _, seen := env[v.Name]; !seen {
			order = append(order, v.Name)
		}
		env[v.Name] = v.Value
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return kv[len(key)+1:]
		}
	}
	return ""
}

// lookPathIn resolves name against the container's PATH (not the agent's).
func lookPathIn(name, pathEnv, dir string) (string, error) {
	isExec := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if isExec(p) {
			return p, nil
		}
		return "", fmt.Errorf("exec: %q: stat %s: no such file or directory", name, name)
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}
