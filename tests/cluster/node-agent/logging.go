package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"
)

var logMu sync.Mutex

// logEvent writes one JSON object per line to stderr, so test harnesses can
// grep for event names (agent.pod.running, ...) and parse the fields.
func logEvent(event string, kv ...interface{}) {
	m := map[string]interface{}{"ts": time.Now().UTC().Format(time.RFC3339Nano), "event": event}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if e, ok := v.(error); ok {
			v = e.Error()
		}
		m[fmt.Sprint(kv[i])] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":%q,"logError":%q}`, event, err.Error()))
	}
	logMu.Lock()
	defer logMu.Unlock()
	os.Stderr.Write(append(b, '\n'))
}

// jsonErrorLog turns net/http's plain-text error lines (TLS handshake
// errors from port probes, ...) into agent.http.error events, so stderr
// stays one JSON object per line.
func jsonErrorLog() *log.Logger {
	return log.New(logWriter{}, "", 0)
}

type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	logEvent("agent.http.error", "message", strings.TrimSpace(string(p)))
	return len(p), nil
}
