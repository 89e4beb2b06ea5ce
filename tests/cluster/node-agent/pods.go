package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"time"
)

var errWatchGone = errors.New("watch resourceVersion too old (410 Gone)")

func (a *agent) podSelector() string {
	return "fieldSelector=" + url.QueryEscape("spec.nodeName="+a.opts.nodeName)
}

// runPods lists and watches the node's pods until ctx ends: a 410 or any
// error leads to a fresh list, a watch that simply times out is resumed.
func (a *agent) runPods(ctx context.Context) {
	for ctx.Err() == nil {
		rv, err := a.listPods(ctx)
		if err != nil {
			logEvent("agent.pods.list-failed", "error", err)
			sleepCtx(ctx, 2*time.Second)
			continue
		}
		for ctx.Err() == nil {
			err = a.watchPods(ctx, &rv)
			if err == nil {
				continue // server-side timeout: resume from the last resourceVersion
			}
			if ctx.Err() == nil {
				logEvent("agent.pods.watch-ended", "error", err, "relist", true)
				if !errors.Is(err, errWatchGone) {
					sleepCtx(ctx, time.Second)
				}
			}
			break
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (a *agent) listPods(ctx context.Context) (string, error) {
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Items []*pod `json:"items"`
	}
	if err := a.api.do(ctx, "GET", "/api/v1/pods?"+a.podSelector(), "", nil, &list); err != nil {
		return "", err
	}
	seen := map[string]bool{}
	for _, p := range list.Items {
		seen[p.Metadata.UID] = true
		a.syncPod(ctx, p)
	}
	for _, uid := range a.store.uids() { // deleted while we were not watching
		if !seen[uid] {
			a.forgetPod(uid)
		}
	}
	return list.Metadata.ResourceVersion, nil
}

func (a *agent) watchPods(ctx context.Context, rv *string) error {
	path := "/api/v1/pods?" + a.podSelector() + "&watch=true&allowWatchBookmarks=true&timeoutSeconds=290&resourceVersion=" + url.QueryEscape(*rv)
	body, err := a.api.stream(ctx, path)
	if isStatus(err, 410) {
		return errWatchGone
	}
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if ev.Type == "ERROR" {
			var st struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(ev.Object, &st)
			if st.Code == 410 {
				return errWatchGone
			}
			return errors.New("watch error: " + st.Message)
		}
		p := &pod{}
		if err := json.Unmarshal(ev.Object, p); err != nil {
			return err
		}
		if p.Metadata.ResourceVersion != "" {
			*rv = p.Metadata.ResourceVersion
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			a.syncPod(ctx, p)
		case "DELETED":
			a.forgetPod(p.Metadata.UID)
		}
	}
}

// syncPod reacts to the latest state of one pod.
func (a *agent) syncPod(ctx context.Context, p *pod) {
	if p.Metadata.UID == "" || p.Spec.NodeName != a.opts.nodeName {
		return
	}
	rec := a.store.getUID(p.Metadata.UID)
	if p.Metadata.DeletionTimestamp != nil {
		a.finalizePod(ctx, p, rec)
		return
	}
	if p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
		return
	}
	if rec == nil {
		rec = a.admitPod(ctx, p)
		if rec == nil {
			return
		}
	}
	rec.mu.Lock()
	rec.p = p
	_, restarts := testHooks(p)
	sig := statusSignature(p)
	// Write status when the hooks changed, or when the API server still shows
	// something other than Running (e.g. an event older than our write).
	needs := rec.due && (sig != rec.sig || p.Status.Phase != "Running")
	rec.mu.Unlock()
	if needs {
		if restarts > 0 || len(p.Spec.EphemeralContainers) > 0 {
			_ = prepareContainerFiles(rec.dir, p, a.opts.nodeName, rec.start) // previous.log for new hooks, new ephemeral containers
		}
		go a.writePodStatus(ctx, rec)
	}
}

// admitPod creates the local record, the log files and rootfs dirs, and
// schedules the first status write after startDelay.
func (a *agent) admitPod(ctx context.Context, p *pod) *podRecord {
	start := time.Now()
	if t, err := time.Parse(time.RFC3339, p.Status.StartTime); err == nil {
		start = t // the pod ran before an agent restart
	}
	ip, err := a.ips.allocate(p.Metadata.UID, p.Status.PodIP)
	if err != nil {
		logEvent("agent.pod.ip-failed", "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "error", err)
		return nil
	}
	rec := newPodRecord(p, ip, start, podDirFor(a.opts.stateDir, p))
	if err := prepareContainerFiles(rec.dir, p, a.opts.nodeName, start); err != nil {
		logEvent("agent.pod.files-failed", "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "error", err)
	}
	if old := a.store.add(rec); old != nil {
		a.releaseRecord(old)
	}
	logEvent("agent.pod.admitted", "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "uid", p.Metadata.UID, "podIP", ip)
	time.AfterFunc(a.startDelay, func() {
		rec.mu.Lock()
		rec.due = true
		rec.mu.Unlock()
		a.writePodStatus(ctx, rec)
	})
	return rec
}

func (a *agent) writePodStatus(ctx context.Context, rec *podRecord) {
	rec.mu.Lock()
	p := rec.p
	removed := isClosed(rec.gone)
	rec.mu.Unlock()
	if removed || p.Metadata.DeletionTimestamp != nil || ctx.Err() != nil {
		return
	}
	a.ensureEphemeral(rec, p)
	st := buildPodStatus(p, rec.ip, a.opts.address, rec.start)
	if len(p.Spec.EphemeralContainers) > 0 {
		st["ephemeralContainerStatuses"] = rec.ephemeralStatuses(p)
	}
	path := "/api/v1/namespaces/" + url.PathEscape(p.Metadata.Namespace) + "/pods/" + url.PathEscape(p.Metadata.Name) + "/status"
	// The UID precondition keeps a late write off a recreated same-name pod.
	body := obj{"metadata": obj{"uid": p.Metadata.UID}, "status": st}
	if err := a.api.do(ctx, "PATCH", path, "application/strategic-merge-patch+json", body, nil); err != nil {
		logEvent("agent.pod.status-failed", "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "error", err)
		return
	}
	rec.mu.Lock()
	rec.sig = statusSignature(p)
	rec.mu.Unlock()
	fail, restarts := testHooks(p)
	event := "agent.pod.running"
	if fail != "" {
		event = "agent.pod.failing"
	}
	logEvent(event, "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "uid", p.Metadata.UID, "podIP", st["podIP"],
		"restarts", restarts, "reason", fail)
}

// finalizePod does what the kubelet does once containers are stopped:
// delete the pod with grace 0, guarded by a UID precondition.
func (a *agent) finalizePod(ctx context.Context, p *pod, rec *podRecord) {
	if rec != nil {
		rec.mu.Lock()
		already := rec.deleting
		rec.deleting, rec.p = true, p
		rec.mu.Unlock()
		if already {
			return
		}
	}
	go func() {
		path := "/api/v1/namespaces/" + url.PathEscape(p.Metadata.Namespace) + "/pods/" + url.PathEscape(p.Metadata.Name)
		body := obj{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
			"preconditions": obj{"uid": p.Metadata.UID}}
		err := a.api.do(ctx, "DELETE", path, "", body, nil)
		if err != nil && !isStatus(err, 404) && !isStatus(err, 409) {
			logEvent("agent.pod.delete-failed", "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "error", err)
			if rec != nil { // let the next event retry
				rec.mu.Lock()
				rec.deleting = false
				rec.mu.Unlock()
			}
			return
		}
		logEvent("agent.pod.deleted", "pod", p.Metadata.Namespace+"/"+p.Metadata.Name, "uid", p.Metadata.UID)
	}()
}

func (a *agent) forgetPod(uid string) {
	if rec := a.store.remove(uid); rec != nil {
		a.releaseRecord(rec)
		logEvent("agent.pod.removed", "pod", rec.key, "uid", uid)
	}
}

// releaseRecord frees the IP, ends log streams and removes the pod's files.
func (a *agent) releaseRecord(rec *podRecord) {
	rec.mu.Lock()
	if !isClosed(rec.gone) {
		close(rec.gone)
	}
	rec.mu.Unlock()
	rec.stopInits()
	a.ips.release(rec.uid)
	_ = os.RemoveAll(rec.dir)
}

// statusSignature: the inputs of the status; a change means a new write.
func statusSignature(p *pod) string {
	return p.Metadata.Annotations[annFail] + "|" + p.Metadata.Annotations[annRestarts] + "|" + ephemeralSignature(p)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
