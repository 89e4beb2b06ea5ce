package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig"
	"github.com/tidwall/gjson"
)

// event is argo-events' v1alpha1.Event: its CloudEvents context and data.
type event struct {
	Context eventContext
	Data    []byte
}

type eventContext struct {
	ID              string `json:"id"`
	Source          string `json:"source"`
	SpecVersion     string `json:"specversion"`
	Type            string `json:"type"`
	DataContentType string `json:"datacontenttype"`
	Subject         string `json:"subject"`
	Time            string `json:"time"`
}

// unsupported names what a dependency asks for that this helper does not
// evaluate; "" when there is nothing.
func unsupported(d dependency) string {
	if len(d.Transform) > 0 && string(d.Transform) != "null" {
		return "transform"
	}
	if d.Filters == nil {
		return ""
	}
	switch {
	case len(d.Filters.Exprs) > 0:
		return "filters.exprs"
	case len(d.Filters.Time) > 0 && string(d.Filters.Time) != "null":
		return "filters.time"
	case d.Filters.Script != "":
		return "filters.script"
	}
	return ""
}

func isOr(operator string) bool { return operator == "or" }

// filterEvent is pkg/sensors/dependencies/filter.go's Filter for the
// filters this helper evaluates (data and context): true when the event
// passes; an error is a failed filter as the Sensor logs it.
func filterEvent(f *filters, operator string, e *event) (bool, error) {
	if f == nil {
		return true, nil
	}
	dataPass, dataErr := filterData(f.Data, f.DataLogicalOperator, e)
	contextPass := filterContext(f.Context, &e.Context)
	if isOr(operator) {
		pass := (f.Data != nil && dataPass) || (f.Context != nil && contextPass)
		return pass, dataErr
	}
	if dataErr != nil {
		return false, dataErr
	}
	return dataPass && contextPass, nil
}

func filterContext(expected *contextFilter, actual *eventContext) bool {
	if expected == nil {
		return true
	}
	pass := true
	if expected.Type != "" {
		pass = pass && expected.Type == actual.Type
	}
	if expected.Subject != "" {
		pass = pass && expected.Subject == actual.Subject
	}
	if expected.Source != "" {
		pass = pass && expected.Source == actual.Source
	}
	if expected.DataContentType != "" {
		pass = pass && expected.DataContentType == actual.DataContentType
	}
	return pass
}

// filterData: every filter (and) or any filter (or). A string filter's
// values are regular expressions searched anywhere in the value; a number
// filter compares floats; a bool filter parses its values.
func filterData(list []dataFilter, operator string, e *event) (bool, error) {
	if len(list) == 0 || e.Data == nil {
		return true, nil
	}
	if !gjson.ValidBytes(e.Data) {
		return false, fmt.Errorf("data filter error (event data not valid JSON)")
	}
	or := isOr(operator)
	var problems []string
	fail := func(message string) (bool, error) {
		return false, fmt.Errorf("data filter error (%s)", message)
	}
next:
	for _, f := range list {
		result := gjson.GetBytes(e.Data, f.Path)
		if !result.Exists() {
			if or {
				problems = append(problems, fmt.Sprintf("path '%s' does not exist", f.Path))
				continue
			}
			return fail(fmt.Sprintf("path '%s' does not exist", f.Path))
		}
		if len(f.Value) == 0 {
			if or {
				problems = append(problems, "no values specified")
				continue
			}
			return fail("no values specified")
		}
		if f.Template != "" {
			out, err := executeTemplate(f.Template, result.String())
			if err == nil && (out == "" || out == "<no value>") {
				err = fmt.Errorf("template '%s' evaluated to empty string or no value", f.Template)
			}
			if err != nil {
				if or {
					problems = append(problems, err.Error())
					continue
				}
				return fail(err.Error())
			}
			result = gjson.Parse(strconv.Quote(out))
		}
		matched := false
		for _, value := range f.Value {
			var ok bool
			var err error
			switch f.Type {
			case "bool":
				var want bool
				want, err = strconv.ParseBool(value)
				ok = err == nil && want == result.Bool()
			case "number":
				var want float64
				want, err = strconv.ParseFloat(value, 64)
				ok = err == nil && compareNumbers(f.Comparator, result.Float(), want)
			case "string":
				var expression *regexp.Regexp
				expression, err = regexp.Compile(value)
				if err == nil {
					match := expression.MatchString(result.String())
					switch f.Comparator {
					case "", "=":
						ok = match
					case "!=":
						ok = !match
					}
				}
			default:
				err = fmt.Errorf("unsupported JSON type '%s'", f.Type)
			}
			if err != nil {
				if or {
					problems = append(problems, err.Error())
					continue next
				}
				return fail(err.Error())
			}
			if ok {
				matched = true
				break
			}
		}
		if matched && or {
			return true, nil
		}
		if !matched && !or {
			return false, nil
		}
	}
	if or {
		if len(problems) > 0 {
			return false, fmt.Errorf("data filter errors [%s]", strings.Join(problems, " / "))
		}
		return false, nil
	}
	return true, nil
}

func compareNumbers(comparator string, got, want float64) bool {
	switch comparator {
	case ">=":
		return got >= want
	case ">":
		return got > want
	case "<":
		return got < want
	case "<=":
		return got <= want
	case "!=":
		return got != want
	case "", "=":
		return got == want
	}
	return false
}

func executeTemplate(text string, input interface{}) (string, error) {
	parsed, err := template.New("param").Funcs(sprig.FuncMap()).Parse(text)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := parsed.Execute(&out, map[string]interface{}{"Input": input}); err != nil {
		return "", err
	}
	return out.String(), nil
}

// conditionHolds evaluates a trigger's conditions: dependency names joined
// by && and || with parentheses (pkg/sensors/listener.go); no conditions
// means every dependency.
func conditionHolds(conditions string, deps []dependency, matched map[string]bool) (bool, error) {
	if strings.TrimSpace(conditions) == "" {
		for _, d := range deps {
			if !matched[d.Name] {
				return false, nil
			}
		}
		return true, nil
	}
	known := map[string]bool{}
	for _, d := range deps {
		known[d.Name] = true
	}
	p := conditionParser{text: conditions, known: known, matched: matched}
	value, err := p.or()
	if err != nil {
		return false, err
	}
	p.skipSpace()
	if p.pos != len(p.text) {
		return false, invalid("conditions %q: unexpected %q", conditions, p.text[p.pos:])
	}
	return value, nil
}

type conditionParser struct {
	text    string
	pos     int
	known   map[string]bool
	matched map[string]bool
}

func (p *conditionParser) skipSpace() {
	for p.pos < len(p.text) && p.text[p.pos] == ' ' {
		p.pos++
	}
}

func (p *conditionParser) accept(token string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.text[p.pos:], token) {
		p.pos += len(token)
		return true
	}
	return false
}

func (p *conditionParser) or() (bool, error) {
	value, err := p.and()
	for err == nil && p.accept("||") {
		var right bool
		right, err = p.and()
		value = value || right
	}
	return value, err
}

func (p *conditionParser) and() (bool, error) {
	value, err := p.term()
	for err == nil && p.accept("&&") {
		var right bool
		right, err = p.term()
		value = value && right
	}
	return value, err
}

func (p *conditionParser) term() (bool, error) {
	if p.accept("(") {
		value, err := p.or()
		if err == nil && !p.accept(")") {
			err = invalid("conditions %q: a ( is not closed", p.text)
		}
		return value, err
	}
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.text) && strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", rune(p.text[p.pos])) {
		p.pos++
	}
	name := p.text[start:p.pos]
	if name == "" {
		return false, invalid("conditions %q: expected a dependency name at %q", p.text, p.text[start:])
	}
	if !p.known[name] {
		return false, invalid("conditions %q: %s is not a dependency of the Sensor", p.text, name)
	}
	return p.matched[name], nil
}

// resolveParam is params.go's ResolveParamValue: the value, whether it is
// a JSON block (for useRawData), or an error that fails the trigger.
func resolveParam(src *paramSource, events map[string]*event) (*string, bool, error) {
	if src == nil {
		return nil, false, invalid("a parameter has no src")
	}
	e, exists := events[src.DependencyName]
	if !exists {
		if src.Value != nil {
			value := *src.Value
			return &value, false, nil
		}
		return nil, false, nil
	}
	if src.ContextKey == "" && src.DataKey == "" && src.DataTemplate == "" && src.ContextTemplate == "" {
		if src.Value != nil {
			value := *src.Value
			return &value, false, nil
		}
		whole, _ := json.Marshal(map[string]interface{}{"context": e.Context, "data": e.Data})
		value := string(whole)
		return &value, false, nil
	}
	var payload []byte
	var key, text string
	if src.ContextKey != "" || src.ContextTemplate != "" {
		key, text = src.ContextKey, src.ContextTemplate
		payload, _ = json.Marshal(e.Context)
	}
	if src.DataKey != "" || src.DataTemplate != "" {
		key, text = src.DataKey, src.DataTemplate
		payload = e.Data
	}
	if text != "" {
		out, err := executeTemplate(text, gjson.ParseBytes(payload).Value())
		if err == nil && out != "" && out != "<no value>" {
			return &out, false, nil
		}
	}
	if key != "" {
		result := gjson.GetBytes(payload, key)
		if result.Exists() {
			var value string
			block := result.Type == gjson.JSON
			if block || result.Type == gjson.Null {
				value = result.Raw
			} else {
				value = result.String()
			}
			return &value, block || result.Type != gjson.String, nil
		}
	}
	if src.Value != nil {
		value := *src.Value
		return &value, false, nil
	}
	what := key
	if text != "" {
		what = text
	}
	return nil, false, fmt.Errorf("unable to resolve the %s parameter from %s: its template gives \"\" or its key is missing, and it has no value (default)", src.DependencyName, what)
}

// applyParams is params.go's ApplyParams on a JSON object.
func applyParams(object []byte, params []parameter, events map[string]*event) ([]byte, error) {
	var root interface{}
	if err := json.Unmarshal(object, &root); err != nil {
		return nil, err
	}
	for _, p := range params {
		value, raw, err := resolveParam(p.Src, events)
		if err != nil {
			return nil, err
		}
		if value == nil {
			continue
		}
		switch p.Operation {
		case "append", "prepend":
			if current, ok := getPath(root, p.Dest); ok {
				raw = false
				if p.Operation == "append" {
					*value = current + *value
				} else {
					*value += current
				}
			}
		case "", "overwrite":
		default:
			return nil, invalid("parameter %s: unsupported operation %q", p.Dest, p.Operation)
		}
		var set interface{} = *value
		if raw && p.Src.UseRawData {
			if err := json.Unmarshal([]byte(*value), &set); err != nil {
				return nil, fmt.Errorf("parameter %s: %v", p.Dest, err)
			}
		}
		if root, err = setPath(root, splitPath(p.Dest), set); err != nil {
			return nil, invalid("parameter dest %s: %v", p.Dest, err)
		}
	}
	return json.Marshal(root)
}

// splitPath splits an sjson path at its dots; "\." is a dot in a key.
func splitPath(path string) []string {
	var parts []string
	var current strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path):
			i++
			current.WriteByte(path[i])
		case path[i] == '.':
			parts = append(parts, current.String())
			current.Reset()
		default:
			current.WriteByte(path[i])
		}
	}
	return append(parts, current.String())
}

func getPath(root interface{}, path string) (string, bool) {
	raw, _ := json.Marshal(root)
	result := gjson.GetBytes(raw, path)
	return result.String(), result.Exists()
}

// setPath sets a value as sjson.Set does for the paths Sensors use: object
// keys (created when missing) and array indexes (an index at the end
// appends; "-1" appends).
func setPath(node interface{}, parts []string, value interface{}) (interface{}, error) {
	if len(parts) == 0 {
		return value, nil
	}
	key := parts[0]
	switch current := node.(type) {
	case []interface{}:
		index, err := strconv.Atoi(key)
		if err != nil {
			return nil, fmt.Errorf("%q is not an index of an array", key)
		}
		if index == -1 {
			index = len(current)
		}
		if index < 0 {
			return nil, fmt.Errorf("index %d", index)
		}
		for len(current) <= index {
			current = append(current, nil)
		}
		child, err := setPath(current[index], parts[1:], value)
		if err != nil {
			return nil, err
		}
		current[index] = child
		return current, nil
	case map[string]interface{}:
		child, err := setPath(current[key], parts[1:], value)
		if err != nil {
			return nil, err
		}
		current[key] = child
		return current, nil
	default:
		fresh := map[string]interface{}{}
		child, err := setPath(nil, parts[1:], value)
		if err != nil {
			return nil, err
		}
		fresh[key] = child
		return fresh, nil
	}
}
