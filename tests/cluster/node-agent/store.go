package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// podRecord is the agent's view of one pod bound to the node.
type podRecord struct {
	key, uid string // namespace/name and UID: fixed for the record's life
	mu       sync.Mutex
	p        *pod // latest object seen; replaced, never mutated
	ip       string
	start    time.Time
	dir      string        // state-dir/pods/<ns>_<name>_<uid>
	sig      string        // inputs of the last status written
	due      bool          // initial start delay has passed
	deleting bool          // DELETE already sent
	gone     chan struct{} // closed on removal: ends follow streams
	// Ephemeral containers seen and the main processes of their targets
	// (ephemeral.go).
	ephemeral map[string]ephemeralState
	inits     map[string]*containerInit
}

func newPodRecord(p *pod, ip string, start time.Time, dir string) *podRecord {
	return &podRecord{key: p.Metadata.Namespace + "/" + p.Metadata.Name, uid: p.Metadata.UID,
		p: p, ip: ip, start: start, dir: dir, gone: make(chan struct{}),
		ephemeral: map[string]ephemeralState{}, inits: map[string]*containerInit{}}
}

func (r *podRecord) snapshot() *pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p
}

type podStore struct {
	mu    sync.RWMutex
	byKey map[string]*podRecord
	byUID map[string]*podRecord
}

func newPodStore() *podStore {
	return &podStore{byKey: map[string]*podRecord{}, byUID: map[string]*podRecord{}}
}

func (s *podStore) get(ns, name string) *podRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byKey[ns+"/"+name]
}

func (s *podStore) getUID(uid string) *podRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byUID[uid]
}

// add inserts r; a record with the same namespace/name but another UID (a
// pod recreated under the same name) is displaced and returned.
func (s *podStore) add(r *podRecord) *podRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.byKey[r.key]
	if old != nil {
		delete(s.byUID, old.uid)
	}
	s.byKey[r.key] = r
	s.byUID[r.uid] = r
	return old
}

func (s *podStore) remove(uid string) *podRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byUID[uid]
	if r == nil {
		return nil
	}
	delete(s.byUID, uid)
	if s.byKey[r.key] == r {
		delete(s.byKey, r.key)
	}
	return r
}

func (s *podStore) uids() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for uid := range s.byUID {
		out = append(out, uid)
	}
	return out
}

func podDirFor(stateDir string, p *pod) string {
	return filepath.Join(stateDir, "pods", p.Metadata.Namespace+"_"+p.Metadata.Name+"_"+p.Metadata.UID)
}

func logPath(podDir, container string, previous bool) string {
	if previous {
		return filepath.Join(podDir, container, "previous.log")
	}
	return filepath.Join(podDir, container, "0.log")
}

// rootfsDir is the exec working directory: the test-rootfs annotation, or
// an (initially empty) directory of our own.
func rootfsDir(podDir string, p *pod, container string) string {
	if d := strings.TrimSpace(p.Metadata.Annotations[annRootfs]); d != "" && filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(podDir, container, "rootfs")
}

// criLine formats one line in the CRI log format the kubelet reads:
// "<RFC3339Nano> <stream> <F|P> <content>".
func criLine(t time.Time, stream, content string) string {
	return t.UTC().Format(time.RFC3339Nano) + " " + stream + " F " + content + "\n"
}

func appendLogLines(path string, lines []string, start time.Time) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(criLine(start.Add(time.Duration(i)*time.Microsecond), "stdout", l))
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// prepareContainerFiles creates each container's log (and, when the pod
// restarted, previous log) and rootfs directory. Existing logs are kept so an
// agent restart does not duplicate lines.
func prepareContainerFiles(podDir string, p *pod, nodeName string, start time.Time) error {
	fail, restarts := testHooks(p)
	extra := p.Metadata.Annotations[annLog]
	extra = strings.ReplaceAll(extra, `\n`, "\n") // accept a literal backslash-n too
	all := append(append([]podContainer{}, p.Spec.Containers...), p.Spec.EphemeralContainers...)
	for i, c := range all {
		ephemeral := i >= len(p.Spec.Containers)
		if err := os.MkdirAll(filepath.Join(podDir, c.Name), 0o755); err != nil {
			return err
		}
		if err := os.MkdirAll(rootfsDir(podDir, p, c.Name), 0o755); err != nil {
			return err
		}
		if restarts > 0 && !ephemeral { // ephemeral containers are never restarted
			prev := logPath(podDir, c.Name, true)
			if _, err := os.Stat(prev); os.IsNotExist(err) {
				if err := appendLogLines(prev, []string{
					"irsteps test container " + c.Name + " previous instance started",
					"image: " + c.Image,
					"irsteps test container " + c.Name + " exited with code 1",
				}, start.Add(-time.Minute)); err != nil {
					return err
				}
			}
		}
		cur := logPath(podDir, c.Name, false)
		if _, err := os.Stat(cur); err == nil {
			continue
		}
		lines := []string{
			"irsteps test container " + c.Name + " started",
			"image: " + c.Image,
			"pod: " + p.Metadata.Namespace + "/" + p.Metadata.Name + " node: " + nodeName,
		}
		if extra != "" {
			lines = append(lines, strings.Split(strings.TrimRight(extra, "\n"), "\n")...)
		}
		if fail != "" {
			lines = append(lines, "irsteps test container "+c.Name+" failing: "+fail)
		}
		if err := appendLogLines(cur, lines, start); err != nil {
			return err
		}
	}
	return nil
}
