// irsteps-sensor is the helper behind `playbook trigger`: it evaluates an
// Argo Events Sensor against one webhook request the way the Sensor's pod
// does and prints, as one JSON document, what the Sensor would submit.
//
// It is written in Go because Argo Events is: the same gjson (the JSON paths
// of filters and dataKey), text/template with sprig's functions
// (dataTemplate, filter templates) and regexp package (string filters) give
// the same answers. The semantics are those of argo-events v1.9
// (argoproj/argo-events), file by file:
//
//   - the webhook EventSource (pkg/eventsources/common/webhook/webhook.go,
//     pkg/eventsources/sources/webhook/start.go): the method, authSecret
//     checked as "Authorization: Bearer <token>" (401 otherwise), the
//     Authorization header then masked, the event data
//     {"header","body","metadata"}; a body that is not JSON is no event;
//   - dependencies and filters (pkg/sensors/dependencies/filter.go,
//     pkg/sensors/listener.go): data and context filters with their logical
//     operators, trigger conditions over dependency names (all of them when
//     a trigger has none);
//   - trigger parameters (pkg/sensors/triggers/params.go): ResolveParamValue's
//     order (template, then key, then value), "" and "<no value>" as a failed
//     template, a failure without a value failing the trigger, useRawData,
//     append/prepend/overwrite; template parameters before resource ones;
//   - the argo-workflow and k8s triggers (pkg/sensors/triggers/argo-workflow,
//     .../standard-k8s): the labels the workflow trigger adds and the
//     namespace it defaults to.
//
// What it does not evaluate (expression, time and script filters,
// transforms, a resource from anywhere but the Sensor itself) is refused with
// exit 2 rather than guessed: a guess could say a Sensor starts nothing when
// it would.
//
// Usage: irsteps-sensor SENSOR.yaml EVENT.json [--sensor NAME]
//
//	[--event-source FILE] [--auth-token-file FILE] [--header 'Name: value']...
//
// Exit 0: evaluated (whether anything fired or not); 2: bad input; 70: a bug.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

const maskedAuthorization = "*** Masked Auth Secret ***"

type options struct {
	sensorFile, eventFile string
	sensorName            string
	eventSourceFiles      []string
	tokenFile             string
	headers               [][2]string
}

var optionsWithValue = map[string]bool{"--sensor": true, "--event-source": true, "--auth-token-file": true, "--header": true}

func parseArgs(args []string) (options, error) {
	var o options
	var positional []string
	for i := 0; i < len(args); i++ {
		flag := args[i]
		if optionsWithValue[flag] {
			if i+1 >= len(args) {
				return o, invalid("%s needs a value", flag)
			}
			value := args[i+1]
			i++
			switch flag {
			case "--sensor":
				o.sensorName = value
			case "--event-source":
				o.eventSourceFiles = append(o.eventSourceFiles, value)
			case "--auth-token-file":
				o.tokenFile = value
			case "--header":
				colon := strings.Index(value, ":")
				if colon <= 0 {
					return o, invalid("--header %q: expected 'Name: value'", headerForMessage(value))
				}
				o.headers = append(o.headers, [2]string{strings.TrimSpace(value[:colon]), strings.TrimSpace(value[colon+1:])})
			}
			continue
		}
		if strings.HasPrefix(flag, "--") {
			return o, invalid("unknown option %s", flag)
		}
		positional = append(positional, flag)
	}
	if len(positional) != 2 {
		return o, invalid("expected SENSOR.yaml EVENT.json")
	}
	o.sensorFile, o.eventFile = positional[0], positional[1]
	return o, nil
}

// headerForMessage keeps a credential out of an error message.
func headerForMessage(text string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(text)), "authorization") {
		return "Authorization: ***"
	}
	return text
}

type dependencyReport struct {
	Name     string `json:"name"`
	Received bool   `json:"received"`
	Matched  bool   `json:"matched"`
	Reason   string `json:"reason"`
}

type triggerReport struct {
	Name     string          `json:"name"`
	Fired    bool            `json:"fired"`
	Reason   string          `json:"reason"`
	Resource json.RawMessage `json:"resource,omitempty"`
}

type webhookReport struct {
	EventSource string `json:"eventSource,omitempty"`
	EventName   string `json:"eventName,omitempty"`
	Status      int    `json:"status"`
	Message     string `json:"message"`
}

type report struct {
	APIVersion   string             `json:"apiVersion"`
	Kind         string             `json:"kind"`
	Sensor       string             `json:"sensor"`
	Webhook      *webhookReport     `json:"webhook,omitempty"`
	Dependencies []dependencyReport `json:"dependencies"`
	Triggers     []triggerReport    `json:"triggers"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "irsteps-sensor: internal error: %v\n", r)
			code = 70
		}
	}()
	o, err := parseArgs(args)
	if err == nil {
		var doc report
		doc, err = evaluate(o)
		if err == nil {
			out, _ := json.MarshalIndent(doc, "", "  ")
			fmt.Fprintln(stdout, string(out))
			return 0
		}
	}
	fmt.Fprintf(stderr, "irsteps-sensor: %v\n", err)
	var bad errInvalid
	if errors.As(err, &bad) {
		return 2
	}
	return 70
}

// loadSensor picks the Sensor of the file (by --sensor when it has several)
// and the EventSources of the file and of --event-source.
func loadSensor(o options) (sensor, []eventSource, error) {
	var s sensor
	manifests, err := readManifests(o.sensorFile)
	if err != nil {
		return s, nil, err
	}
	var sensors []manifest
	var sources []eventSource
	for _, m := range manifests {
		switch m.kind {
		case "Sensor":
			if o.sensorName == "" || m.name == o.sensorName {
				sensors = append(sensors, m)
			}
		case "EventSource":
			var es eventSource
			if err := decode(m, &es); err != nil {
				return s, nil, err
			}
			sources = append(sources, es)
		}
	}
	for _, file := range o.eventSourceFiles {
		more, err := readManifests(file)
		if err != nil {
			return s, nil, err
		}
		found := false
		for _, m := range more {
			if m.kind == "EventSource" {
				var es eventSource
				if err := decode(m, &es); err != nil {
					return s, nil, err
				}
				sources = append(sources, es)
				found = true
			}
		}
		if !found {
			return s, nil, invalid("--event-source %s: has no EventSource", file)
		}
	}
	switch {
	case len(sensors) == 0 && o.sensorName != "":
		return s, nil, invalid("%s: has no Sensor named %s", o.sensorFile, o.sensorName)
	case len(sensors) == 0:
		return s, nil, invalid("%s: has no Sensor", o.sensorFile)
	case len(sensors) > 1:
		var names []string
		for _, m := range sensors {
			names = append(names, m.name)
		}
		return s, nil, invalid("%s: has %d Sensors (%s): choose one with --sensor NAME", o.sensorFile, len(sensors), strings.Join(names, ", "))
	}
	if err := decode(sensors[0], &s); err != nil {
		return s, nil, err
	}
	if len(s.Spec.Dependencies) == 0 {
		return s, nil, invalid("%s: spec.dependencies is empty", sensors[0].where)
	}
	for i, d := range s.Spec.Dependencies {
		if what := unsupported(d); what != "" {
			return s, nil, invalid("%s: spec.dependencies[%d] (%s) uses %s, which playbook trigger does not evaluate", sensors[0].where, i, d.Name, what)
		}
	}
	return s, sources, nil
}

func evaluate(o options) (report, error) {
	doc := report{APIVersion: "irsteps.io/v1", Kind: "SensorTrigger", Dependencies: []dependencyReport{}, Triggers: []triggerReport{}}
	s, sources, err := loadSensor(o)
	if err != nil {
		return doc, err
	}
	doc.Sensor = s.Metadata.Name
	body, err := os.ReadFile(o.eventFile)
	if err != nil {
		return doc, invalid("%s: %v", o.eventFile, err)
	}
	header := map[string][]string{}
	for _, h := range o.headers {
		key := textproto.CanonicalMIMEHeaderKey(h[0])
		header[key] = append(header[key], h[1])
	}
	if _, given := header["Content-Type"]; !given {
		header["Content-Type"] = []string{"application/json"}
	}
	var token string
	if o.tokenFile != "" {
		text, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return doc, invalid("--auth-token-file: %v", err)
		}
		// As the EventSource reads its Secret (pkg/shared/util GetSecretFromVolume).
		token = strings.TrimSuffix(string(text), "\n")
		if _, given := header["Authorization"]; !given {
			header["Authorization"] = []string{"Bearer " + token}
		}
	}

	// The event goes to the dependencies of the EventSource's webhook that
	// received it; without the EventSource, to every dependency.
	route, sourceName, eventName := receivingRoute(sources, s.Spec.Dependencies)
	if route != nil {
		doc.Webhook = &webhookReport{EventSource: sourceName, EventName: eventName, Status: 200, Message: "success"}
		if route.AuthSecret != nil {
			authorization := first(header, "Authorization")
			switch {
			case !strings.HasPrefix(authorization, "Bearer "):
				doc.Webhook.Status, doc.Webhook.Message = 401, "Invalid Authorization Header"
			case o.tokenFile == "" || strings.TrimPrefix(authorization, "Bearer ") != token:
				doc.Webhook.Status, doc.Webhook.Message = 401, "Invalid Auth token"
			}
		}
		if route.Method != "" && route.Method != "POST" {
			doc.Webhook.Status, doc.Webhook.Message = 400, "http method does not match"
		}
	}
	if _, present := header["Authorization"]; present {
		header["Authorization"] = []string{maskedAuthorization}
	}
	if doc.Webhook != nil && doc.Webhook.Status != 200 {
		for _, d := range s.Spec.Dependencies {
			doc.Dependencies = append(doc.Dependencies, dependencyReport{Name: d.Name, Reason: fmt.Sprintf("the webhook answered %d: no event", doc.Webhook.Status)})
		}
		for i, t := range s.Spec.Triggers {
			doc.Triggers = append(doc.Triggers, triggerReport{Name: triggerName(t, i), Reason: "no event"})
		}
		return doc, nil
	}
	if !json.Valid(body) {
		return doc, invalid("%s: is not JSON (the webhook would answer 400 and make no event)", o.eventFile)
	}
	var metadata map[string]string
	if route != nil {
		metadata = route.Metadata
	}
	data, _ := json.Marshal(struct {
		Header   map[string][]string `json:"header"`
		Body     json.RawMessage     `json:"body"`
		Metadata map[string]string   `json:"metadata"`
	}{header, json.RawMessage(body), metadata})

	events := map[string]*event{}
	matched := map[string]bool{}
	for _, d := range s.Spec.Dependencies {
		r := dependencyReport{Name: d.Name}
		if route != nil && (d.EventSourceName != sourceName || d.EventName != eventName) {
			r.Reason = fmt.Sprintf("listens to %s/%s, not %s/%s", d.EventSourceName, d.EventName, sourceName, eventName)
			doc.Dependencies = append(doc.Dependencies, r)
			continue
		}
		r.Received = true
		e := &event{Context: newContext(d), Data: data}
		pass, err := filterEvent(d.Filters, d.FiltersLogicalOperator, e)
		switch {
		case err != nil:
			r.Reason = "filtered out: " + err.Error()
		case !pass:
			r.Reason = "filtered out: a filter does not match"
		default:
			r.Matched, r.Reason = true, "every filter matches"
			events[d.Name] = e
			matched[d.Name] = true
		}
		doc.Dependencies = append(doc.Dependencies, r)
	}

	for i, t := range s.Spec.Triggers {
		r := triggerReport{Name: triggerName(t, i)}
		conditions := gjson.GetBytes(t.Template, "conditions").String()
		holds, err := conditionHolds(conditions, s.Spec.Dependencies, matched)
		if err != nil {
			return doc, err
		}
		if !holds {
			r.Reason = "its dependencies are not met"
			if conditions != "" {
				r.Reason = "its conditions (" + conditions + ") are not met"
			}
			doc.Triggers = append(doc.Triggers, r)
			continue
		}
		resource, reason, err := fire(s, t, events)
		if err != nil {
			return doc, err
		}
		r.Fired, r.Reason, r.Resource = resource != nil, reason, resource
		doc.Triggers = append(doc.Triggers, r)
	}
	return doc, nil
}

// receivingRoute is the webhook that received the request: the first, in
// the order of the files and of the events' names, that a dependency
// listens to; nil when none of the EventSources given has one.
func receivingRoute(sources []eventSource, deps []dependency) (*webhookContext, string, string) {
	for _, es := range sources {
		names := make([]string, 0, len(es.Spec.Webhook))
		for name := range es.Spec.Webhook {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for _, d := range deps {
				if d.EventSourceName == es.Metadata.Name && d.EventName == name {
					hook := es.Spec.Webhook[name]
					return &hook, es.Metadata.Name, name
				}
			}
		}
	}
	return nil, "", ""
}

func first(header map[string][]string, key string) string {
	if values := header[key]; len(values) > 0 {
		return values[0]
	}
	return ""
}

func triggerName(t trigger, index int) string {
	if name := gjson.GetBytes(t.Template, "name").String(); name != "" {
		return name
	}
	return "triggers[" + strconv.Itoa(index) + "]"
}

func newContext(d dependency) eventContext {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return eventContext{
		ID: hex.EncodeToString(id), Source: d.EventSourceName, SpecVersion: "1.0", Type: "webhook",
		DataContentType: "application/json", Subject: d.EventName, Time: time.Now().UTC().Format(time.RFC3339),
	}
}

// fire applies the trigger's parameters and returns the resource it would
// create, or a reason it creates none.
func fire(s sensor, t trigger, events map[string]*event) (json.RawMessage, string, error) {
	template := []byte(t.Template)
	if len(t.Parameters) > 0 {
		applied, err := applyParams(template, t.Parameters, events)
		if err != nil {
			return nil, "failed: " + err.Error(), errorIfInvalid(err)
		}
		template = applied
	}
	triggerLabel := gjson.GetBytes(template, "name").String()
	kind := ""
	for _, k := range []string{"argoWorkflow", "k8s"} {
		if gjson.GetBytes(template, k).Exists() {
			kind = k
		}
	}
	if kind == "" {
		return nil, "", invalid("trigger %s: only argoWorkflow and k8s triggers are evaluated", triggerLabel)
	}
	spec := gjson.GetBytes(template, kind)
	operation := spec.Get("operation").String()
	if kind == "argoWorkflow" && operation != "" && operation != "submit" {
		return nil, "", invalid("trigger %s: argoWorkflow operation %s is not evaluated (only submit)", triggerLabel, operation)
	}
	if kind == "k8s" && operation != "" && operation != "create" {
		return nil, "", invalid("trigger %s: k8s operation %s is not evaluated (only create)", triggerLabel, operation)
	}
	resource := spec.Get("source.resource")
	if !resource.Exists() {
		return nil, "", invalid("trigger %s: only a source.resource inside the Sensor is evaluated", triggerLabel)
	}
	var params []parameter
	if raw := spec.Get("parameters"); raw.Exists() {
		if err := json.Unmarshal([]byte(raw.Raw), &params); err != nil {
			return nil, "", invalid("trigger %s: parameters: %v", triggerLabel, err)
		}
	}
	object := []byte(resource.Raw)
	if len(params) > 0 {
		applied, err := applyParams(object, params, events)
		if err != nil {
			return nil, "failed: " + err.Error(), errorIfInvalid(err)
		}
		object = applied
	}
	var workflow map[string]interface{}
	if err := json.Unmarshal(object, &workflow); err != nil {
		return nil, "", invalid("trigger resource: %v", err)
	}
	metadata, _ := workflow["metadata"].(map[string]interface{})
	if metadata == nil {
		metadata = map[string]interface{}{}
		workflow["metadata"] = metadata
	}
	name, _ := metadata["name"].(string)
	generateName, _ := metadata["generateName"].(string)
	if name == "" && generateName == "" {
		return nil, "failed: the resource has neither metadata.name nor metadata.generateName", nil
	}
	if ns, _ := metadata["namespace"].(string); ns == "" {
		metadata["namespace"] = s.Metadata.Namespace
	}
	if kind == "argoWorkflow" {
		labels, _ := metadata["labels"].(map[string]interface{})
		if labels == nil {
			labels = map[string]interface{}{}
		}
		labels["events.argoproj.io/sensor"] = s.Metadata.Name
		labels["events.argoproj.io/trigger"] = triggerLabel
		labels["events.argoproj.io/action-timestamp"] = strconv.FormatInt(time.Now().UnixNano()/int64(time.Millisecond), 10)
		metadata["labels"] = labels
	}
	out, _ := json.Marshal(workflow)
	return out, "fired: would " + map[string]string{"argoWorkflow": "submit", "k8s": "create"}[kind] + " it", nil
}

// errorIfInvalid: a parameter that cannot be resolved fails the trigger
// (reported, exit 0); a Sensor this helper cannot read is bad input.
func errorIfInvalid(err error) error {
	var bad errInvalid
	if errors.As(err, &bad) {
		return err
	}
	return nil
}
