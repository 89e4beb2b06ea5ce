package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"
)

// logOptions mirrors the kubelet's containerLogs query parameters.
type logOptions struct {
	follow, previous, timestamps bool
	tailLines                    int64 // -1: all lines
	limitBytes                   int64 // 0: unlimited
	since                        time.Time
}

func parseBoolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid %s %q: must be true or false", name, v)
	}
	return b, nil
}

func parseIntParam(q url.Values, name string) (int64, bool, error) {
	v := q.Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("invalid %s %q: must be an integer", name, v)
	}
	return n, true, nil
}

func parseLogOptions(q url.Values, now time.Time) (logOptions, error) {
	o := logOptions{tailLines: -1}
	var err error
	if o.follow, err = parseBoolParam(q, "follow"); err != nil {
		return o, err
	}
	if o.previous, err = parseBoolParam(q, "previous"); err != nil {
		return o, err
	}
	if o.timestamps, err = parseBoolParam(q, "timestamps"); err != nil {
		return o, err
	}
	if n, ok, err := parseIntParam(q, "tailLines"); err != nil {
		return o, err
	} else if ok {
		if n < 0 {
			return o, errors.New("tailLines must be greater than or equal to 0")
		}
		o.tailLines = n
	}
	if n, ok, err := parseIntParam(q, "limitBytes"); err != nil {
		return o, err
	} else if ok {
		if n < 1 {
			return o, errors.New("limitBytes must be greater than 0")
		}
		o.limitBytes = n
	}
	secs, hasSecs, err := parseIntParam(q, "sinceSeconds")
	if err != nil {
		return o, err
	}
	st := q.Get("sinceTime")
	if hasSecs && st != "" {
		return o, errors.New("at most one of sinceTime or sinceSeconds may be specified")
	}
	if hasSecs {
		if secs < 1 {
			return o, errors.New("sinceSeconds must be greater than 0")
		}
		o.since = now.Add(-time.Duration(secs) * time.Second)
	}
	if st != "" {
		t, err := time.Parse(time.RFC3339Nano, st)
		if err != nil {
			return o, fmt.Errorf("invalid sinceTime %q: %v", st, err)
		}
		o.since = t
	}
	return o, nil
}

type logEntry struct {
	ts      time.Time
	partial bool
	content []byte
}

// parseCRILogLine parses "<ts> <stream> <tags> <content>". Lines a test
// appended by hand without that prefix are taken whole, stamped fallback.
func parseCRILogLine(line []byte, fallback time.Time) logEntry {
	parts := bytes.SplitN(line, []byte{' '}, 4)
	if len(parts) >= 3 {
		if ts, err := time.Parse(time.RFC3339Nano, string(parts[0])); err == nil &&
			(string(parts[1]) == "stdout" || string(parts[1]) == "stderr") {
			e := logEntry{ts: ts, partial: bytes.HasPrefix(parts[2], []byte("P"))}
			if len(parts) == 4 {
				e.content = parts[3]
			}
			return e
		}
	}
	return logEntry{ts: fallback, content: line}
}

// tailOffset returns the file offset where the last n lines begin.
func tailOffset(f *os.File, n int64) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if n == 0 || size == 0 {
		return size, nil
	}
	buf := make([]byte, 64*1024)
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, err
	}
	target := n // newlines to pass; the file's final newline ends the last line
	if last[0] == '\n' {
		target++
	}
	var seen int64
	for pos := size; pos > 0; {
		chunk := int64(len(buf))
		if pos < chunk {
			chunk = pos
		}
		pos -= chunk
		if _, err := f.ReadAt(buf[:chunk], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := chunk - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				if seen++; seen == target {
					return pos + i + 1, nil
				}
			}
		}
	}
	return 0, nil
}

// streamLog writes the log at path to w with the kubelet's semantics:
// tailLines picks the start, sinceTime filters, limitBytes caps the output,
// follow keeps polling for appended lines until ctx ends or done closes.
func streamLog(ctx context.Context, path string, o logOptions, w io.Writer, flush func(), done <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := int64(0)
	if o.tailLines >= 0 {
		if start, err = tailOffset(f, o.tailLines); err != nil {
			return err
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	fallback := time.Now()
	if st, err := f.Stat(); err == nil {
		fallback = st.ModTime()
	}
	var written int64
	emit := func(raw []byte) (bool, error) {
		e := parseCRILogLine(raw, fallback)
		fallback = e.ts
		if !o.since.IsZero() && e.ts.Before(o.since) {
			return false, nil
		}
		out := make([]byte, 0, len(e.content)+40)
		if o.timestamps {
			out = append(append(out, e.ts.UTC().Format(time.RFC3339Nano)...), ' ')
		}
		out = append(out, e.content...)
		if !e.partial {
			out = append(out, '\n')
		}
		stop := false
		if o.limitBytes > 0 && written+int64(len(out)) >= o.limitBytes {
			out, stop = out[:o.limitBytes-written], true
		}
		n, err := w.Write(out)
		written += int64(n)
		return stop, err
	}
	br := bufio.NewReaderSize(f, 64*1024)
	var pending []byte
	for {
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			stop, werr := emit(pending[:len(pending)-1])
			pending = pending[:0]
			if stop || werr != nil {
				return werr
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		if !o.follow {
			if len(pending) > 0 { // an unterminated last line
				_, werr := emit(pending)
				return werr
			}
			return nil
		}
		flush() // hold an unterminated line until its newline arrives
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
