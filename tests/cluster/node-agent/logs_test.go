package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var logT0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// writeTestLog writes five F lines one second apart, a P+F pair and a raw
// line appended "by hand" without the CRI prefix.
func writeTestLog(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < 5; i++ {
		b.WriteString(criLine(logT0.Add(time.Duration(i)*time.Second), "stdout", "line"+string(rune('0'+i))))
	}
	b.WriteString(logT0.Add(5*time.Second).Format(time.RFC3339Nano) + " stderr P par\n")
	b.WriteString(logT0.Add(5*time.Second).Format(time.RFC3339Nano) + " stderr F tial\n")
	b.WriteString("raw appended line\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLog(t *testing.T, path string, q url.Values) string {
	t.Helper()
	o, err := parseLogOptions(q, logT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := streamLog(context.Background(), path, o, &out, func() {}, nil); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestLogOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c", "0.log")
	writeTestLog(t, path)
	all := "line0\nline1\nline2\nline3\nline4\npartial\nraw appended line\n"
	cases := []struct {
		q    url.Values
		want string
	}{
		{url.Values{}, all},
		{url.Values{"tailLines": {"2"}}, "tial\nraw appended line\n"},
		{url.Values{"tailLines": {"0"}}, ""},
		{url.Values{"tailLines": {"100"}}, all},
		{url.Values{"limitBytes": {"8"}}, "line0\nli"},
		{url.Values{"limitBytes": {"6"}}, "line0\n"},
		{url.Values{"sinceTime": {logT0.Add(3 * time.Second).Format(time.RFC3339)}}, "line3\nline4\npartial\nraw appended line\n"},
		{url.Values{"timestamps": {"true"}, "tailLines": {"4"}},
			"2024-05-01T10:00:04Z line4\n2024-05-01T10:00:05Z par2024-05-01T10:00:05Z tial\n2024-05-01T10:00:05Z raw appended line\n"},
		{url.Values{"sinceSeconds": {"10"}}, ""}, // "now" is an hour after the lines
	}
	for _, c := range cases {
		if got := readLog(t, path, c.q); got != c.want {
			t.Errorf("%v: got %q want %q", c.q, got, c.want)
		}
	}
}

func TestLogOptionErrors(t *testing.T) {
	for _, q := range []url.Values{
		{"tailLines": {"-1"}}, {"limitBytes": {"0"}}, {"sinceSeconds": {"0"}}, {"follow": {"maybe"}},
		{"sinceSeconds": {"5"}, "sinceTime": {"2024-05-01T10:00:00Z"}}, {"sinceTime": {"yesterday"}},
	} {
		if _, err := parseLogOptions(q, time.Now()); err == nil {
			t.Errorf("%v accepted", q)
		}
	}
}

func TestTailOnUnterminatedLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	_ = os.WriteFile(path, []byte(criLine(logT0, "stdout", "a")+criLine(logT0, "stdout", "b")+logT0.Format(time.RFC3339Nano)+" stdout F c"), 0o644)
	if got := readLog(t, path, url.Values{"tailLines": {"2"}}); got != "b\nc\n" {
		t.Fatalf("got %q", got)
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestContainerLogsEndpoint(t *testing.T) {
	p := testPod("default", "web", "uid-1", map[string]string{annLog: "hello from test\nsecond line"})
	r := testPod("default", "restarted", "uid-2", map[string]string{annRestarts: "2"})
	_, srv := newTestKubelet(t, p, r)
	code, body := httpGet(t, srv.URL+"/containerLogs/default/web/app")
	if code != 200 || !strings.HasPrefix(body, "irsteps test container app started\nimage: registry.local:5000/team/app:1.2.3\n") ||
		!strings.HasSuffix(body, "hello from test\nsecond line\n") {
		t.Fatalf("%d %q", code, body)
	}
	if code, body = httpGet(t, srv.URL+"/containerLogs/default/web/app?tailLines=1&timestamps=true"); code != 200 ||
		!strings.HasSuffix(body, "Z second line\n") || strings.Count(body, "\n") != 1 {
		t.Fatalf("tail+timestamps: %d %q", code, body)
	}
	if code, body = httpGet(t, srv.URL+"/containerLogs/default/web/app?previous=true"); code != 400 ||
		!strings.Contains(body, `previous terminated container "app" in pod "web" not found`) {
		t.Fatalf("previous without restarts: %d %q", code, body)
	}
	if code, body = httpGet(t, srv.URL+"/containerLogs/default/restarted/app?previous=true"); code != 200 ||
		!strings.Contains(body, "previous instance") {
		t.Fatalf("previous: %d %q", code, body)
	}
	if code, body = httpGet(t, srv.URL+"/containerLogs/default/ghost/app"); code != 404 || !strings.Contains(body, "does not exist") {
		t.Fatalf("unknown pod: %d %q", code, body)
	}
	if code, body = httpGet(t, srv.URL+"/containerLogs/default/web/other"); code != 404 || !strings.Contains(body, `container "other" not found`) {
		t.Fatalf("unknown container: %d %q", code, body)
	}
	if code, _ = httpGet(t, srv.URL+"/containerLogs/default/web/app?tailLines=x"); code != 400 {
		t.Fatalf("bad tailLines: %d", code)
	}
}

func TestContainerLogsFollow(t *testing.T) {
	ks, srv := newTestKubelet(t, testPod("default", "web", "uid-1", nil))
	rec := ks.store.get("default", "web")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/containerLogs/default/web/app?follow=true&tailLines=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "pod: default/web") {
		t.Fatalf("first line %q", l)
	}
	// A test appends to the file directly; the follower must pick it up.
	if err := appendLogLines(logPath(rec.dir, "app", false), []string{"appended later"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() { l, _ := br.ReadString('\n'); got <- l }()
	select {
	case l := <-got:
		if l != "appended later\n" {
			t.Fatalf("followed line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("appended line not streamed")
	}
	// Removing the pod ends the stream.
	close(rec.gone)
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(br); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when the pod went away")
	}
}
