package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func webhookEvent(t *testing.T, body string) *event {
	t.Helper()
	data, err := json.Marshal(map[string]interface{}{"header": map[string][]string{}, "body": json.RawMessage(body)})
	if err != nil {
		t.Fatal(err)
	}
	return &event{Context: eventContext{Source: "hook", Subject: "alert", Type: "webhook"}, Data: data}
}

func TestSplitPathKeepsEscapedDots(t *testing.T) {
	got := splitPath(`body.output_fields.k8s\.pod\.name`)
	want := []string{"body", "output_fields", "k8s.pod.name"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("splitPath = %q, want %q", got, want)
	}
}

func TestSetPathIndexesArraysAndCreatesObjects(t *testing.T) {
	var root interface{}
	if err := json.Unmarshal([]byte(`{"spec":{"arguments":{"parameters":[{"name":"a","value":"x"},{"name":"b","value":"y"}]}}}`), &root); err != nil {
		t.Fatal(err)
	}
	root, err := setPath(root, splitPath("spec.arguments.parameters.1.value"), "changed")
	if err != nil {
		t.Fatal(err)
	}
	root, err = setPath(root, splitPath("metadata.labels.app\\.kubernetes\\.io/name"), "irsteps")
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(root)
	for _, want := range []string{`{"name":"b","value":"changed"}`, `{"name":"a","value":"x"}`, `"labels":{"app.kubernetes.io/name":"irsteps"}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s does not contain %s", out, want)
		}
	}
	if _, err := setPath(root, splitPath("spec.arguments.parameters.x"), "v"); err == nil {
		t.Errorf("a key into an array was accepted")
	}
}

func TestConditions(t *testing.T) {
	deps := []dependency{{Name: "dep-a"}, {Name: "dep-b"}, {Name: "dep-c"}}
	matched := map[string]bool{"dep-a": true, "dep-c": true}
	cases := map[string]bool{
		"":                          false, // every dependency
		"dep-a":                     true,
		"dep-b":                     false,
		"dep-a && dep-b":            false,
		"dep-b || dep-c":            true,
		"(dep-a || dep-b) && dep-c": true,
		"dep-a && (dep-b || dep-b)": false,
	}
	for conditions, want := range cases {
		got, err := conditionHolds(conditions, deps, matched)
		if err != nil || got != want {
			t.Errorf("conditions %q = %v, %v; want %v", conditions, got, err, want)
		}
	}
	for _, bad := range []string{"dep-x", "dep-a &&", "(dep-a"} {
		if _, err := conditionHolds(bad, deps, matched); err == nil {
			t.Errorf("conditions %q were accepted", bad)
		}
	}
}

func TestDataFilters(t *testing.T) {
	e := webhookEvent(t, `{"alerts":[{"status":"firing","labels":{"pod":"web-1"}}],"count":2,"ok":true}`)
	cases := []struct {
		name     string
		operator string
		filters  []dataFilter
		pass     bool
		failed   bool
	}{
		{"regexp searched anywhere", "", []dataFilter{{Path: "body.alerts.0.labels.pod", Type: "string", Value: []string{"eb-"}}}, true, false},
		{"anchored", "", []dataFilter{{Path: "body.alerts.0.labels.pod", Type: "string", Value: []string{"^eb-"}}}, false, false},
		{"not equal", "", []dataFilter{{Path: "body.alerts.0.labels.pod", Type: "string", Comparator: "!=", Value: []string{"^kube"}}}, true, false},
		{"array length", "", []dataFilter{{Path: "body.alerts.#", Type: "number", Value: []string{"1"}}}, true, false},
		{"number compare", "", []dataFilter{{Path: "body.count", Type: "number", Comparator: ">", Value: []string{"2"}}}, false, false},
		{"bool", "", []dataFilter{{Path: "body.ok", Type: "bool", Value: []string{"true"}}}, true, false},
		{"missing path fails", "", []dataFilter{{Path: "body.nothing", Type: "string", Value: []string{"."}}}, false, true},
		{"or: one passes", "or", []dataFilter{{Path: "body.nothing", Type: "string", Value: []string{"."}}, {Path: "body.ok", Type: "bool", Value: []string{"true"}}}, true, false},
		{"template", "", []dataFilter{{Path: "body.alerts.0.labels.pod", Type: "string", Template: `{{ upper .Input }}`, Value: []string{"^WEB-1$"}}}, true, false},
	}
	for _, c := range cases {
		pass, err := filterData(c.filters, c.operator, e)
		if pass != c.pass || (err != nil) != c.failed {
			t.Errorf("%s: pass %v err %v; want pass %v failed %v", c.name, pass, err, c.pass, c.failed)
		}
	}
}

func TestResolveParamFallsBackFromTemplateToKeyToValue(t *testing.T) {
	events := map[string]*event{"d": webhookEvent(t, `{"a":"x","n":3,"o":{"k":1}}`)}
	def := "default"
	cases := []struct {
		src  paramSource
		want string
		raw  bool
		err  bool
	}{
		{paramSource{DependencyName: "d", DataTemplate: `{{ .Input.body.a }}-t`}, "x-t", false, false},
		{paramSource{DependencyName: "d", DataTemplate: `{{ .Input.body.missing }}`, DataKey: "body.a"}, "x", false, false},
		{paramSource{DependencyName: "d", DataTemplate: `{{ if false }}x{{ end }}`, Value: &def}, "default", false, false},
		{paramSource{DependencyName: "d", DataKey: "body.missing", Value: &def}, "default", false, false},
		{paramSource{DependencyName: "d", DataKey: "body.missing"}, "", false, true},
		{paramSource{DependencyName: "d", DataKey: "body.n"}, "3", true, false},
		{paramSource{DependencyName: "d", DataKey: "body.o"}, `{"k":1}`, true, false},
		{paramSource{DependencyName: "other", DataKey: "body.a", Value: &def}, "default", false, false},
	}
	for i, c := range cases {
		value, raw, err := resolveParam(&c.src, events)
		if c.err {
			if err == nil {
				t.Errorf("case %d: no error", i)
			}
			continue
		}
		if err != nil || value == nil || *value != c.want || raw != c.raw {
			t.Errorf("case %d: %v %v %v; want %q raw %v", i, value, raw, err, c.want, c.raw)
		}
	}
}
